"""Errors the inspector reports as one line, never as a traceback."""


class InspectError(Exception):
    """The database cannot be inspected; the message says what and why."""


class DamagedError(InspectError):
    """The file's structure is damaged: LMDB must not be trusted to read it."""
