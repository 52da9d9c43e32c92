"""Plain data the data layer hands to its clients (TUI, JSON, checks, metrics)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from zlmdb_inspect.core.kinds import ProblemKind


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
    """How full the map is, against the limit that really applies.

    ``map_size`` is the effective limit: the smallest map among live processes that can
    write (from /proc/PID/maps), else the meta page's value (``map_source`` says which).
    "In use" counts pages the writer cannot reuse: the high-water mark minus reusable free
    pages, so deletes and page reuse count.
    """

    map_size: int  # effective limit (see map_source)
    file_size: int
    used_bytes: int  # (last_pgno + 1) * page_size: LMDB's high-water mark
    headroom_bytes: int  # map_size - used_bytes: room above the high-water mark
    headroom_pct: float
    free_pages: int | None  # on the freelist, as mdb_stat -f counts them (None: not readable)
    reusable_pages: int | None  # of those, freed before the oldest snapshot still read
    free_db_pages: int | None
    used_pct: float  # in_use_bytes over map_size
    map_size_meta: int = 0  # what the meta page says (the largest map any writer set)
    map_source: str = "meta"  # "writer": a live process that can write maps map_size; "meta": none is live
    map_note: str | None = None  # why the limit is what it is, in words
    maps: list[dict] = field(default_factory=list)  # {"pid", "name", "map_size", "writable", "reason"}
    in_use_bytes: int = 0  # used_bytes - reusable_pages * page_size
    available_bytes: int = 0  # headroom_bytes + reusable_pages * page_size
    pinned_pages: int | None = None  # free pages a live reader's snapshot keeps from reuse
    pinned_by: dict | None = None  # the oldest reader: {"pid", "name", "txnid", "lag"}
    last_commit_freed_pages: int | None = None  # pages the newest free-list record holds (one commit's)
    # -- the disk beside the map, free runs (issue 29, items 1-2) -----------------------------------
    # {"mount", "device" (st_dev), "size_bytes", "free_bytes" (statvfs f_bavail), "file_allocated_bytes",
    #  "file_bytes"}
    filesystem: dict | None = None
    limit: str = "map"  # "map" | "disk": which allows less; available_bytes is the smaller
    map_available_bytes: int = 0  # headroom_bytes + reusable pages: what the map alone allows
    disk_available_bytes: int | None = None  # free_bytes + reusable pages + blocks above the high-water mark
    # {"largest_pages": what one write finds in a row, "runs": [{"pages": [lo, hi], "runs", "total_pages"}]}
    free_runs: dict | None = None
    # -- end issue 29 items 1-2 ----------------------------------------------------------------------
    # -- issue 29 item 4: what a compaction returns (None: no page walk to count from) --
    compact: dict | None = None  # {"copy_bytes": mdb_copy -c's file, "rewrite_bytes": records rewritten in key order}
    growth: Growth | None = None  # issue 23: growth from the records' own time (see TableTime)

    def limit_text(self) -> str:
        """The limit's owner in words, for the capacity line ("writer crossbar (pid 4242)")."""
        if self.map_source == "writer":
            who = [m for m in self.maps if m.get("writable") is not False and m.get("map_size") == self.map_size]
            if who:
                m = who[0]
                return f"writer {m.get('name') or '?'} (pid {m['pid']})"
            return "a live writer"
        return "the meta page; no live writer"

    def disk_text(self) -> str | None:
        """"the disk — 10.3 MiB free on /srv" when the volume allows less than the map, else None."""
        from zlmdb_inspect.core.fmt import fmt_bytes

        if self.limit != "disk" or not self.filesystem:
            return None
        return f"the disk — {fmt_bytes(self.filesystem['free_bytes'])} free on {self.filesystem['mount']}"

    def mismatch_text(self) -> str | None:
        """"writer crossbar (pid 4242) maps 64 MiB; the file's meta page says 2 GiB", when they differ."""
        from zlmdb_inspect.core.fmt import fmt_bytes

        if self.map_source != "writer" or self.map_size == self.map_size_meta:
            return None
        return (f"{self.limit_text()} maps {fmt_bytes(self.map_size)}; "
                f"the file's meta page says {fmt_bytes(self.map_size_meta)}")


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
    max_value: int = 0  # the largest value on overflow pages (0: none; the walk does not read every inline one)
    kind: str = "slot"  # "slot", or "catalog" for slot 0
    time: TableTime | None = None  # issue 23: the table's own time, when its records carry one

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
    started: int | None = None  # the process's start (clock ticks since boot): a reused pid is another reader
    # -- issue 29 item 3: what this reader pins (None: no page walk to count from) --
    pins_bytes: int | None = None  # pages freed after its snapshot, kept from reuse while it lives
    releases_bytes: int | None = None  # what ending this reader alone makes reusable (only the oldest)


@dataclass
class Problem:
    """Something odd in the database's content, kept as a finding, never fatal."""

    kind: ProblemKind
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

    @property
    def damaged(self) -> bool:
        """The page walk found damage: records are not read from this tree."""
        return any(p.kind == ProblemKind.DAMAGED for p in self.problems)

    def table_by_slot(self, slot: int) -> Table | None:
        for t in self.tables:
            if t.slot == slot:
                return t
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- growth from the records' own time (issue 23) -----------------------------------------------

@dataclass
class TableTime:
    """What a table's records say about their own time: span, records and bytes per UTC day, rates.

    ``source`` is where the time is read: ``"key"`` (the key leads with a big-endian
    datetime64[ns]), ``"key:N"`` (the key's N-th part, 1-based) or ``"value:FIELD"``.
    ``exact``: counted by the page walk (a leading key time); else estimated from a random
    sample of ``sample`` records, with ``uncertainty`` (half-widths at ``confidence``).
    Rates are None from less than 2 days of data (``note`` says so).
    """

    source: str
    exact: bool
    oldest: str | None = None  # ISO 8601 UTC
    newest: str | None = None
    oldest_s: float | None = None  # the same, epoch seconds (metrics)
    newest_s: float | None = None
    days: list[dict] = field(default_factory=list)  # [{"day": "YYYY-MM-DD", "records", "bytes"}]
    hours: list[dict] = field(default_factory=list)  # the last two days: [{"hour": "YYYY-MM-DDTHH", ...}]
    records_per_day: dict[str, float | None] = field(default_factory=dict)  # "1d", "7d", "30d"
    bytes_per_day: dict[str, float | None] = field(default_factory=dict)
    sample: int | None = None  # records sampled (None: exact)
    uncertainty: dict | None = None  # {"confidence", "records_per_day": {...}, "bytes_per_day": {...}}
    untimed: int = 0  # records without a plausible time (before 2000, after now + 1 day)
    purged: bool | None = None  # True: its oldest record was seen to move (old records are deleted)
    note: str | None = None  # "too little history", ...

    @property
    def rate_7d(self) -> float | None:
        """Bytes per day over the last 7 days of its records' time (None: too little history)."""
        return self.bytes_per_day.get("7d")

    @property
    def half_7d(self) -> float | None:
        """The half-width of an estimated :attr:`rate_7d` (None: exact, or none stated)."""
        return None if self.exact else (self.uncertainty or {}).get("bytes_per_day", {}).get("7d")


@dataclass
class Growth:
    """Bytes per day the time-ordered tables added over the last 7 days, and the map's time to full at that rate."""

    bytes_per_day: float | None
    eta_full_s: float | None  # available bytes at that rate; None: no rate, or not growing
    basis: str  # in words: the tables, the window, what is left out and why
    share: float | None = None  # of the pages in use, the part those tables make up
    tables: list[dict] = field(default_factory=list)  # [{"table", "bytes_per_day", "purged", "exact"}], fastest first
