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

    def __init__(self, size: int = 600, window: int = 15):
        self.samples: deque[Sample] = deque(maxlen=size)
        self.window = window
        self._held: dict[tuple[int, str, int], float] = {}  # (pid, thread, txnid) -> first seen

    def add(self, snap: Snapshot) -> None:
        s = Sample(t=snap.taken_at, last_txnid=snap.lmdb.last_txnid, entries=snap.lmdb.entries,
                   used_bytes=snap.capacity.used_bytes, map_size=snap.capacity.map_size,
                   free_pages=snap.capacity.free_pages, readers=len(snap.readers),
                   file_size=snap.capacity.file_size,
                   tables={t.slot: t.records for t in snap.tables})
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

    def eta_full_s(self) -> float | None:
        """Seconds until the high-water mark reaches the writer's map size, or None if not growing."""
        r = self.rates()
        if not r.bytes_per_s or r.bytes_per_s <= 0 or not self.samples:
            return None
        last = self.samples[-1]
        return round(max(0.0, (last.map_size - last.used_bytes) / r.bytes_per_s), 1)

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
