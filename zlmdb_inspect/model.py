"""Plain data the data layer hands to its clients (TUI, JSON, checks, metrics)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class LmdbFigures:
    format: str  # "0.9" or "1.0"
    library: str  # version of the LMDB engine reading it
    page_size: int
    depth: int
    branch_pages: int
    leaf_pages: int
    overflow_pages: int
    entries: int
    last_pgno: int
    last_txnid: int
    max_readers: int
    num_readers: int
    locking: bool  # False: no process had the database open, so no lock was taken


@dataclass
class Capacity:
    map_size: int  # the size the writer set, from the snapshot's meta page
    file_size: int
    used_bytes: int  # (last_pgno + 1) * page_size: LMDB's high-water mark
    headroom_bytes: int
    headroom_pct: float
    free_pages: int | None  # on the freelist, as mdb_stat -f counts them (None: not readable)
    reusable_pages: int | None  # of those, freed before the oldest snapshot still read
    free_db_pages: int | None
    used_pct: float


@dataclass
class Table:
    slot: int
    oid: str | None
    name: str | None
    description: str | None
    creator: str | None
    records: int
    metadata: bool
    pages: float = 0.0
    overflow_pages: int = 0
    overflow_bytes: int = 0
    bytes: int = 0
    max_value: int = 0
    kind: str = "slot"  # "slot", or "catalog" for slot 0

    def label(self) -> str:
        return self.name or f"slot {self.slot}"


@dataclass
class NamedDb:
    """A named sub-database of a plain LMDB environment."""

    name: str
    entries: int
    depth: int
    branch_pages: int
    leaf_pages: int
    overflow_pages: int


@dataclass
class Reader:
    pid: int
    thread: str
    txnid: int | None
    name: str | None = None
    lag: int | None = None
    held_s: float | None = None
    alive: bool | None = None
    own: bool = False


@dataclass
class Problem:
    """Something odd in the database's content, kept as a finding, never fatal."""

    kind: str  # bad-metadata, damaged, count-fallback, ...
    message: str
    slot: int | None = None


@dataclass
class Snapshot:
    """Everything one short read transaction saw."""

    path: str
    taken_at: float  # time.time()
    txn_ms: float  # how long the read transaction was open
    lmdb: LmdbFigures
    capacity: Capacity
    tables: list[Table]
    databases: list[NamedDb]
    readers: list[Reader]
    problems: list[Problem] = field(default_factory=list)
    zlmdb: bool = True
    count_method: str = "pages"  # "pages", "pages+cache", or "cursor"
    page_reads: int = 0  # pages read by the walk the counts come from
    short_key_records: int = 0
    # Counts (tables, freelist) come from the walk of transaction counts_txnid, at counts_at
    # (time.time()). When that is older than last_txnid, a full walk costs enough that it runs
    # less often than the refresh: the next one is due at counts_next_at.
    counts_txnid: int = 0
    counts_at: float = 0.0
    counts_next_at: float | None = None

    def table_by_slot(self, slot: int) -> Table | None:
        for t in self.tables:
            if t.slot == slot:
                return t
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
