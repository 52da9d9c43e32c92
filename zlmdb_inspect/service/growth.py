"""Growth from the records' own time (issue 23), for one database: finds each table's time source,
tells the walk which slots lead their keys with a time, estimates the others from samples, and puts
``Table.time`` and ``Capacity.growth`` on each snapshot.

Exact figures (leading key times) come from every walk; estimates are taken again only when the
tables were sampled again (the service samples at most every ``SAMPLE_EVERY_S`` when data changed).
"""

from __future__ import annotations

import time

from zlmdb_inspect.core.model import Snapshot, Table, TableTime
from zlmdb_inspect.health import growth as figures
from zlmdb_inspect.storage.inspector import Inspector
from zlmdb_inspect.tables.catalog import TableCodecs
from zlmdb_inspect.tables.records import RecordWindow
from zlmdb_inspect.tables.timesource import (
    key_source,
    leading_candidates,
    raw_key_source,
    sample_times,
    value_source,
)

#: A leading-key table whose walk finds more records than this share without a plausible time in
#: the key is not time-ordered (random keys that happen to begin and end like times).
MAX_UNTIMED_SHARE = 0.1


class GrowthTracker:
    """Time sources and figures of one database's tables, kept between refreshes."""

    def __init__(self, inspector: Inspector, codecs: TableCodecs) -> None:
        self._ins = inspector
        self._codecs = codecs
        self._bounds: dict[int, tuple[int, int]] = {}  # leading-key slots: (first, last key time)
        self._estimates: dict[int, TableTime] = {}  # slot -> figures from the last sample
        self._oldest_seen: dict[int, int] = {}  # slot -> the oldest record's time when first seen, ns
        self._tables: dict[int, Table] = {}  # the last snapshot's tables, by slot
        self.seed: int | None = None  # estimates' random seed (tests); None: fresh each time
        self.sampled_times: dict[int, tuple[str, list[int | None]]] = {}  # slot -> (source, times) of the estimates

    def before_walk(self) -> None:
        """Tell the walker which slots lead their keys with a time: both ends of the slot do, and
        the sampled key codec (once known) agrees."""
        try:
            found = leading_candidates(self._ins)
        except Exception:  # noqa: BLE001 - the snapshot that follows reports what is wrong
            found = {}
        keep = {}
        for slot, bounds in found.items():
            table = self._tables.get(slot)
            codec = self._codecs.codec(table) if table is not None else None
            if codec is not None and codec.profile is not None:
                src = key_source(codec)
                if src is None or not src.leading:
                    continue
            keep[slot] = bounds
        self._bounds = keep
        self._ins.walker.time_slots = frozenset(keep)

    def after_sample(self, snap: Snapshot, windows: dict[int, RecordWindow]) -> None:
        """Learn the non-leading sources from the last sample's records and estimate them again."""
        now = time.time_ns()
        times: dict[int, tuple[str, list[int | None]]] = {}
        for t in snap.tables:
            if t.slot == 0 or not t.records or t.slot in self._bounds:
                continue
            codec = self._codecs.codec(t)
            src = key_source(codec)
            recs = windows[t.slot].records  # the sample has a window of every table with records
            if src is None or src.leading:
                src = raw_key_source([r.raw_key for r in recs], now)
            if src is None:
                src = value_source([r.value for r in recs if not r.error], now)
            if src is None:
                continue
            times[t.slot] = (src.name, sample_times(self._ins, codec, t, src, seed=self.seed))
        self.estimate_from(snap, times)

    def estimate_from(self, snap: Snapshot, times: dict[int, tuple[str, list[int | None]]]) -> None:
        """The estimates from each table's sampled times (:meth:`after_sample`'s, or an earlier run's at this
        very snapshot), worked out as of now."""
        now = time.time_ns()
        self._estimates = {}
        self.sampled_times = {}
        for t in snap.tables:
            if t.slot in times and t.records and t.slot not in self._bounds:
                name, ts = times[t.slot]
                self.sampled_times[t.slot] = (name, ts)
                self._estimates[t.slot] = figures.estimated(name, ts, t.records, t.bytes, now)

    def apply(self, snap: Snapshot) -> None:
        """``Table.time`` of every table with a time, and ``capacity.growth``."""
        now = time.time_ns()
        walked, buckets = self._ins.key_times()
        rows: list[tuple[str, TableTime, int]] = []
        self._tables = {t.slot: t for t in snap.tables}
        for t in snap.tables:
            tt = self._time_of(t, walked, buckets, now)
            if tt is None:
                continue
            t.time = tt
            rows.append((t.label(), tt, t.bytes))
        snap.capacity.growth = figures.growth(rows, snap.capacity)

    def _time_of(self, t: Table, walked: frozenset[int], buckets: dict, now: int) -> TableTime | None:
        if t.slot in self._bounds and t.slot in walked:
            first, last = self._bounds[t.slot]
            tt = figures.exact("key", buckets.get(t.slot, {}), first, last, now)
            if t.records and tt.untimed > MAX_UNTIMED_SHARE * t.records:
                return None  # keys that only look like times at both ends
            if tt.oldest_s is not None:
                oldest = int(tt.oldest_s * 1e9)
                seen = self._oldest_seen.get(t.slot)
                if seen is None:
                    self._oldest_seen[t.slot] = oldest
                # its oldest record moved: old records are deleted; None: seen once, nothing to compare
                tt.purged = None if seen is None else oldest > seen + 10**9
            return tt
        return self._estimates.get(t.slot)
