"""Live history of snapshots: rates, growth, time to full, how long readers hold."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from zlmdb_inspect.model import Snapshot


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


@dataclass
class Eta:
    """Time until the effective map is full, from the growth of pages in use."""

    seconds: float | None = None  # None: not growing, or still measuring
    state: str = "measuring"  # "measuring" (history shorter than the minimum window), "growing", "not growing"
    window_s: float = 0.0
    bytes_per_s: float | None = None  # growth of pages in use
    pinned_share: float | None = None  # of that growth, the part that a reader's pinned pages account for

    def text(self) -> str:
        from zlmdb_inspect.fmt import fmt_duration

        if self.state == "growing" and self.seconds is not None:
            return fmt_duration(self.seconds)
        return "measuring…" if self.state == "measuring" else "not growing"


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
    ETA_WINDOW_S = 300.0  # growth measured over at most this much history

    def __init__(self, size: int = 600, window: int = 15):
        self.samples: deque[Sample] = deque(maxlen=size)
        self.window = window
        self._held: dict[tuple[int, str, int], float] = {}  # (pid, thread, txnid) -> first seen

    def add(self, snap: Snapshot) -> None:
        s = Sample(t=snap.taken_at, last_txnid=snap.lmdb.last_txnid, entries=snap.lmdb.entries,
                   used_bytes=snap.capacity.used_bytes, map_size=snap.capacity.map_size,
                   free_pages=snap.capacity.free_pages, readers=len(snap.readers),
                   file_size=snap.capacity.file_size,
                   tables={t.slot: t.records for t in snap.tables},
                   in_use_bytes=snap.capacity.in_use_bytes or snap.capacity.used_bytes,
                   available_bytes=snap.capacity.available_bytes,
                   pinned_bytes=(snap.capacity.pinned_pages or 0) * snap.lmdb.page_size,
                   counts_txnid=snap.counts_txnid or snap.lmdb.last_txnid)
        self.samples.append(s)
        seen = {}
        for r in snap.readers:
            if r.txnid is None or r.own:
                continue
            key = (r.pid, r.thread, r.txnid)
            first = self._held.get(key, snap.taken_at)
            seen[key] = first
            if key in self._held:
                r.held_s = round(snap.taken_at - first, 1)
            else:  # first seen now: held for less than an interval, or unknown on the first sample
                r.held_s = 0.0 if len(self.samples) > 1 else None
        self._held = seen

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

    def eta(self, min_window_s: float | None = None) -> Eta:
        """Time until pages in use reach the effective map, over the last ``ETA_WINDOW_S`` of history;
        "measuring" until that history spans ``min_window_s`` (a 2-second window is noise)."""
        min_window_s = self.ETA_MIN_WINDOW_S if min_window_s is None else min_window_s
        if not self.samples:
            return Eta()
        last = self.samples[-1]
        window = [s for s in self.samples if last.t - s.t <= self.ETA_WINDOW_S]
        first = window[0]
        dt = last.t - first.t
        if dt < min_window_s or dt <= 0:
            return Eta(window_s=round(max(dt, 0.0), 1))
        rate = (last.in_use_bytes - first.in_use_bytes) / dt
        if rate <= 0:
            return Eta(state="not growing", window_s=round(dt, 1), bytes_per_s=round(rate, 3))
        pinned = (last.pinned_bytes - first.pinned_bytes) / dt
        return Eta(seconds=round(max(0.0, last.available_bytes / rate), 1), state="growing",
                   window_s=round(dt, 1), bytes_per_s=round(rate, 3),
                   pinned_share=round(max(0.0, min(1.0, pinned / rate)), 3))

    def eta_full_s(self) -> float | None:
        """Seconds until the map is full, or None (not growing, or still measuring)."""
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
