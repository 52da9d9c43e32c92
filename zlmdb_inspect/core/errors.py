"""Errors the inspector reports as one line, never as a traceback."""


class InspectError(Exception):
    """The database cannot be inspected; the message says what and why."""


class DamagedError(InspectError):
    """The file's structure is damaged: LMDB must not be trusted to read it."""


class NotWalkedError(InspectError):
    """data.mdb is shorter than its meta page says (only free pages past its end) and no walk has yet
    shown that the tree uses none of those pages: LMDB's cursors wait; page reads need not."""
