"""Messages that thread workers post back to the UI."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from zlmdb_inspect.core.kinds import Direction
from zlmdb_inspect.core.model import Table
from zlmdb_inspect.service import Record, RecordWindow, Refresh


@dataclass
class RefreshDone(Message):
    refresh: Refresh


@dataclass
class RefreshFailed(Message):
    error: str


@dataclass
class WindowLoaded(Message):
    window: RecordWindow
    direction: Direction
    note: str | None = None  # what the status line keeps saying about this window ("no key X; showing the next one")


@dataclass
class WindowFailed(Message):
    error: str


@dataclass
class PositionFound(Message):
    key: bytes  # the first record of the window it was asked for
    index: int | None  # its 0-based position in the table
    total: int | None = None  # records in the table, read in the same transaction


@dataclass
class TargetFound(Message):
    table: Table | None  # None: no table holds the record (a dangling index entry)
    key: bytes


@dataclass
class FullDecoded(Message):
    raw_key: bytes
    record: Record | None  # None: gone, or the read failed (said on the status line)


@dataclass
class StatusNote(Message):
    text: str  # what a worker did (a record copied or saved, or why not), for the status line
