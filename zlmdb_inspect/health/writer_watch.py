"""The writer over time: how long one thread has held the write lock, and how it batches.

Pure data: fed the writer mutex at each refresh (``writerlock``) and the monitor's samples.

Holding. A write transaction is taken to go on while the same thread holds the lock at every
refresh *and* the last committed txnid has not moved since it was first seen: a thread that
commits and begins again between two refreshes starts a new transaction (a busy writer, not a
long one). The duration is a lower bound (the transaction may have begun before it was first
seen). A thread that only aborts (or commits nothing, which LMDB does not count) and begins
again between every two refreshes cannot be told from one long transaction from outside.

Batching. Commits per second are the txnid's growth. Records changed per commit are what the
record count shows: inserts and deletes, summed over each refresh interval as absolute
changes (zlmdb keeps every table in LMDB's main database, whose meta page counts its entries).
An update in place changes no count and is invisible from outside, so ``records_per_commit``
is a lower bound, and ``None`` when commits changed no count at all (then nothing is judged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Protocol

from zlmdb_inspect.storage.writerlock import WriterLock


class SampleLike(Protocol):
    """What the batching figures need of a monitor sample (``monitor.Sample``)."""

    t: float
    last_txnid: int
    entries: int  # the main database's entries (every zlmdb table's records), from the meta page
    tables: dict[int, int]  # slot -> records, as counted at counts_txnid
    counts_txnid: int


@dataclass
class WriterState:
    """The writer as a client shows it: ``held_s`` None in a single run or at first sight of
    the history; ``state`` as in ``WriterLock``."""

    state: str
    pid: int | None = None
    tid: int | None = None
    name: str | None = None
    thread_name: str | None = None
    held_s: float | None = None
    reason: str | None = None

    @property
    def held(self) -> bool:
        return self.state == "held"

    def to_json(self) -> dict[str, Any] | None:
        """``null`` without an open write transaction; ``{"state": "unknown", "reason"}`` when the
        lock file's layout is not recognised."""
        if self.state == "unknown":
            return {"state": "unknown", "reason": self.reason}
        if not self.held:
            return None
        return {"state": "held", "pid": self.pid, "tid": self.tid, "name": self.name,
                "thread_name": self.thread_name, "held_s": self.held_s, "reason": self.reason}


class WriterWatch:
    """Follows the write lock across refreshes."""

    def __init__(self) -> None:
        self._since: tuple[tuple[int, int | None], int | None, float] | None = None  # (tid, pid), txnid, first seen
        self._observed = 0
        self._seen: dict[int, tuple[str | None, float]] = {}  # pid -> (name, last seen holding the lock)

    def observe(self, lock: WriterLock, t: float) -> WriterState:
        """The state at time ``t`` (seconds, any clock the caller keeps using)."""
        self._observed += 1
        st = WriterState(lock.state, lock.pid, lock.tid, lock.name, lock.thread_name, None, lock.reason)
        if lock.held and lock.pid is not None:
            self._seen[lock.pid] = (lock.name, t)
        if not lock.held:
            self._since = None
            return st
        key = (lock.tid or 0, lock.pid)
        if self._since and self._since[0] == key and self._since[1] == lock.lock_txnid:
            st.held_s = round(max(0.0, t - self._since[2]), 1)
        else:
            self._since = (key, lock.lock_txnid, t)
            # first seen now: held for less than an interval, unknown at the very first observation
            st.held_s = 0.0 if self._observed > 1 else None
        return st

    def seen(self, since: float) -> list[tuple[int, str | None]]:
        """(pid, name) of the processes seen holding the write lock at or after ``since``."""
        self._seen = {pid: v for pid, v in self._seen.items() if v[1] >= since}
        return sorted((pid, name) for pid, (name, _) in self._seen.items())


def single(lock: WriterLock) -> WriterState:
    """A single run's view: no history, so no duration."""
    return WriterState(lock.state, lock.pid, lock.tid, lock.name, lock.thread_name, None, lock.reason)


@dataclass
class Batching:
    """Commits and record changes over the rates window."""

    window_s: float
    commits: int
    commits_per_s: float
    records_changed: int  # inserts and deletes seen in the record count (updates are not visible)
    records_per_commit: float | None  # None: commits changed no record count, nothing to judge
    tables: dict[int, int] = field(default_factory=dict)  # slot -> records changed, from the table counts

    def attributed(self) -> list[int]:
        """Slots whose record counts changed, most first."""
        return sorted((s for s, n in self.tables.items() if n), key=lambda s: (-self.tables[s], s))

    def share(self, slot: int) -> float:
        """The part of the counted changes that is ``slot``'s (0 to 1)."""
        total = sum(self.tables.values())
        return self.tables.get(slot, 0) / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"window_s": self.window_s, "commits": self.commits, "commits_per_s": self.commits_per_s,
                "records_changed": self.records_changed, "records_per_commit": self.records_per_commit,
                "tables": {str(k): v for k, v in self.tables.items()}}


def batching(samples: Sequence[SampleLike], window: int = 15) -> Batching | None:
    """Figures over the last ``window`` samples (the monitor's rates window); None under two samples.

    The total comes from the entry count of each snapshot's meta page, which belongs to the same
    transaction as its txnid; the split by table from the table counts, compared only between
    walks of different transactions (a deferred walk repeats the previous counts).
    """
    recent = list(samples)[-window:]
    if len(recent) < 2:
        return None
    dt = recent[-1].t - recent[0].t
    if dt <= 0:
        return None
    commits = max(0, recent[-1].last_txnid - recent[0].last_txnid)
    changed = sum(abs(b.entries - a.entries) for a, b in pairwise(recent))
    per_table: dict[int, int] = {}
    counted = recent[0]
    for s in recent[1:]:
        if s.counts_txnid == counted.counts_txnid:
            continue
        for slot in set(counted.tables) | set(s.tables):
            d = abs(s.tables.get(slot, 0) - counted.tables.get(slot, 0))
            if d and slot != 0:  # slot 0: zlmdb's catalog, not the application's records
                per_table[slot] = per_table.get(slot, 0) + d
        counted = s
    per_commit = round(changed / commits, 2) if commits and changed else None
    return Batching(window_s=round(dt, 3), commits=commits, commits_per_s=round(commits / dt, 2),
                    records_changed=changed, records_per_commit=per_commit, tables=per_table)


def unbatched(b: Batching | None, min_txns_per_s: float = 20.0, max_records_per_txn: float = 2.0) -> bool:
    """Many commits, each changing fewer records than a batch would: the ``unbatched-writes`` figure."""
    return (b is not None and b.records_per_commit is not None
            and b.commits_per_s > min_txns_per_s and b.records_per_commit < max_records_per_txn)


def long_write(st: WriterState, warning_s: float = 10.0, critical_s: float = 60.0) -> str | None:
    """``warning`` or ``critical`` for a write transaction held that long (observed), else None."""
    if not st.held or st.held_s is None:
        return None
    if st.held_s >= critical_s:
        return "critical"
    if st.held_s >= warning_s:
        return "warning"
    return None
