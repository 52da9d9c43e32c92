"""Messages that thread workers post back to the UI."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from zlmdb_inspect.model import Table
from zlmdb_inspect.modes import Refresh
from zlmdb_inspect.records import Page, Record


@dataclass
class RefreshDone(Message):
    refresh: Refresh


@dataclass
class RefreshFailed(Message):
    error: str


@dataclass
class PageLoaded(Message):
    page: Page
    direction: str


@dataclass
class PageFailed(Message):
    error: str


@dataclass
class RecordLoaded(Message):
    record: Record | None
    full: bool


@dataclass
class PositionFound(Message):
    key: bytes  # the first record of the page it was asked for
    index: int | None  # its 0-based position in the table
    total: int | None = None  # records in the table, read in the same transaction


@dataclass
class TargetFound(Message):
    table: Table | None  # None: no table holds the record (a dangling index entry)
    key: bytes
