"""Live history of snapshots: rates, growth, time to full, how long readers hold."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from zlmdb_inspect.core.model import Snapshot
from zlmdb_inspect.health.timetofull import Point, TimeToFull, estimate, live_writer, snapshot_need


@dataclass
class Sample:
    t: float
    last_txnid: int
    entries: int
    used_bytes: int
    map_size: int
    free_pages: int | None
    readers: int
    file_size: int
    tables: dict[int, int]
    in_use_bytes: int = 0  # high-water mark minus reusable free pages
    available_bytes: int = 0
    pinned_bytes: int = 0
    counts_txnid: int = 0  # the transaction ``tables`` were counted at (a deferred walk lags last_txnid)
    need_bytes: int = 0  # one commit's growth as the snapshot tells it (timetofull.snapshot_need)
    page_size: int = 4096
    writer: bool = False  # a live process maps the file writable

    def point(self) -> Point:
        return Point(self.t, self.in_use_bytes, self.available_bytes, self.last_txnid, self.map_size,
                     self.pinned_bytes, self.need_bytes, self.page_size, self.writer)


Eta = TimeToFull  # the name clients used before

#: A reader holding a snapshot: (pid, the process's start in clock ticks since boot, thread, txnid).
HeldKey = tuple[int, int | None, str, int]


@dataclass
class Rates:
    txns_per_s: float | None = None
    records_per_s: float | None = None
    bytes_per_s: float | None = None  # growth of the high-water mark
    file_bytes_per_s: float | None = None
    tables_per_s: dict[int, float] = field(default_factory=dict)
    window_s: float = 0.0


class Monitor:
    """A bounded ring of samples; rates over the last ``window`` samples."""

    ETA_MIN_WINDOW_S = 30.0  # no time to full from less history than this
    ETA_WINDOW_S = 300.0  # the slow window: growth measured over at most this much history

    def __init__(self, size: int = 600, window: int = 15):
        self.samples: deque[Sample] = deque(maxlen=size)
        self.window = window
        self._held: dict[HeldKey, float] = {}  # reader -> first seen holding that snapshot

    def add(self, snap: Snapshot) -> None:
        s = Sample(t=snap.taken_at, last_txnid=snap.lmdb.last_txnid, entries=snap.lmdb.entries,
                   used_bytes=snap.capacity.used_bytes, map_size=snap.capacity.map_size,
                   free_pages=snap.capacity.free_pages, readers=len(snap.readers),
                   file_size=snap.capacity.file_size,
                   tables={t.slot: t.records for t in snap.tables},
                   in_use_bytes=snap.capacity.in_use_bytes or snap.capacity.used_bytes,
                   available_bytes=snap.capacity.available_bytes,
                   pinned_bytes=(snap.capacity.pinned_pages or 0) * snap.lmdb.page_size,
                   counts_txnid=snap.counts_txnid or snap.lmdb.last_txnid,
                   need_bytes=snapshot_need(snap), page_size=snap.lmdb.page_size, writer=live_writer(snap))
        self.samples.append(s)
        seen: dict[HeldKey, float] = {}
        for r in snap.readers:
            if r.txnid is None or r.own:
                continue
            key = (r.pid, r.started, r.thread, r.txnid)
            first = self._held.get(key, snap.taken_at)
            seen[key] = first
            if key in self._held:
                r.held_s = round(max(0.0, snap.taken_at - first), 1)
            else:  # first seen now: held for less than an interval, or unknown on the first sample
                r.held_s = 0.0 if len(self.samples) > 1 else None
        self._held = seen

    def held_since(self) -> dict[HeldKey, float]:
        """When each reader of the last sample was first seen holding its snapshot, for the state file:
        only readers whose process start is known (without it a reused pid could not be told apart)."""
        return {k: t for k, t in self._held.items() if k[1] is not None}

    def seed_held(self, earlier: dict[HeldKey, float]) -> None:
        """Readers earlier runs saw (a state file), before the first sample: one still holding the
        same snapshot counts its time from then. Only a known process start is carried: without
        it a reused pid could not be told apart."""
        for key, first in earlier.items():
            if key[1] is not None:
                self._held.setdefault(key, first)

    def seed(self, earlier: list[Sample]) -> None:
        """Put samples of earlier runs (a state file) before the ones taken here."""
        first = self.samples[0].t if self.samples else float("inf")
        room = (self.samples.maxlen or 0) - len(self.samples)  # extendleft on a full ring drops the newest
        older = [s for s in earlier if s.t < first]
        self.samples.extendleft(reversed(older[len(older) - room:] if room > 0 else []))

    def rates(self) -> Rates:
        if len(self.samples) < 2:
            return Rates()
        recent = list(self.samples)[-self.window:]
        a, b = recent[0], recent[-1]
        dt = b.t - a.t
        if dt <= 0:
            return Rates()
        tables = {slot: (n - a.tables.get(slot, 0)) / dt for slot, n in b.tables.items()}
        return Rates(
            txns_per_s=round((b.last_txnid - a.last_txnid) / dt, 3),
            records_per_s=round((b.entries - a.entries) / dt, 3),
            bytes_per_s=round((b.used_bytes - a.used_bytes) / dt, 3),
            file_bytes_per_s=round((b.file_size - a.file_size) / dt, 3),
            tables_per_s=tables, window_s=round(dt, 3))

    def eta(self, min_window_s: float | None = None) -> TimeToFull:
        """Time to full over the history (:func:`~zlmdb_inspect.health.timetofull.estimate`);
        "measuring" until it spans ``min_window_s`` (a 2-second window is noise)."""
        min_window_s = self.ETA_MIN_WINDOW_S if min_window_s is None else min_window_s
        # the warm-up is the fast window (eta_min_window_s): "measuring" until there is one of history
        return estimate([s.point() for s in self.samples], fast_s=min_window_s, slow_s=self.ETA_WINDOW_S,
                        min_history_s=min_window_s)

    def eta_full_s(self) -> float | None:
        """Seconds until the map is full (0: full), or None (not growing, idle, or still measuring)."""
        return self.eta().seconds

    def series(self, name: str, n: int = 60) -> list[float]:
        """Per-interval deltas (for rates) or values of a figure, for sparklines."""
        data = list(self.samples)[-(n + 1):]
        if name in ("txns", "records", "bytes"):
            attr = {"txns": "last_txnid", "records": "entries", "bytes": "used_bytes"}[name]
            out = []
            for a, b in zip(data, data[1:]):
                dt = b.t - a.t
                out.append(max(0.0, (getattr(b, attr) - getattr(a, attr)) / dt) if dt > 0 else 0.0)
            return out
        return [float(getattr(s, name)) for s in data[1:] or data]
