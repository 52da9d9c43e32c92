"""Time to full: a pure estimate over a series of samples, and the one wording of it.

:func:`estimate` reads nothing but the points it is given (no clock, no state), so the
live history (:mod:`zlmdb_inspect.health.history`) and, later, a history persisted between one-shot
runs feed it unchanged. Every client (TUI, ``--watch``, the exporter, ``--check``) says
time to full through :meth:`TimeToFull.text`, :meth:`TimeToFull.to_dict`,
:func:`prometheus_value` and :func:`perfdata`.

Why it works the way it does (/work/shared/reference/time-to-full.md):

- **Growth events, not endpoints.** A rate is the growth between the first and the last
  sample that set a new high of bytes in use, over the time between them, in a window ending at the last growth. A
  batched writer (MiB once a minute) then has a steady rate instead of one that swings with
  where the window's edge falls, and while nothing grows the figure counts down with the
  clock (it never rises because a window slid past a quiet spell).
- **Fast and slow windows, the shorter estimate.** The fast window (``fast_s``, at least
  2.5 gaps between growths) catches a burst within it; the slow one (``slow_s``) carries a
  steady trend. Multi-window alerting does the same; ``window`` says which one it was.
- **Stalls are named.** Past ``max(fast_s, 3 × the usual gap between growths)`` since the
  last growth the state is "idle" (no commits either) or "not growing" (commits whose freed
  pages are reused), with the time it began.
- **Full is a level, not a trend.** Less available than one commit's growth (the largest
  per-commit growth seen, the snapshot's own estimate of a commit, at least a page) is
  "full" from the first sample, whatever the rate, and stays full until space returns.
- **Clean-ups and map changes restart the rates** from the sample after them.
"""

from __future__ import annotations

import time as _time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zlmdb_inspect.core.fmt import fmt_bytes, fmt_duration, plain
from zlmdb_inspect.core.model import Snapshot

MEASURING, GROWING, IDLE, NOT_GROWING, FULL = "measuring", "growing", "idle", "not growing", "full"
STATES = (MEASURING, GROWING, IDLE, NOT_GROWING, FULL)


@dataclass(frozen=True)
class Point:
    """One sample: what a snapshot says about space and commits."""

    t: float  # time.time()
    in_use: int  # bytes the writer cannot reuse (high-water mark minus reusable pages)
    available: int  # bytes before MapFullError (room above the high-water mark + reusable pages)
    txnid: int  # the last committed transaction
    map_size: int  # the effective map
    pinned: int = 0  # bytes of free pages a reader's snapshot keeps from reuse
    need: int = 0  # the snapshot's own estimate of one commit's growth (see :func:`commit_need_bytes`)
    page_size: int = 4096
    writer: bool = False  # a live process maps the file writable


@dataclass
class TimeToFull:
    """The estimate at the last point, and where it comes from."""

    state: str = MEASURING
    seconds: float | None = None  # growing: seconds to full; full: 0; else None
    since: float | None = None  # when the state began (idle, not growing, full; a reset while measuring)
    window_s: float = 0.0  # history the rate comes from
    window: str | None = None  # "fast" or "slow": which window's estimate is shown
    bytes_per_s: float | None = None  # growth of pages in use
    pinned_share: float | None = None  # of that growth, the share a reader's pinned pages account for
    last_commit_at: float | None = None  # the last sample at which the txnid advanced (None: none seen)
    commit_bytes: int = 0  # the largest growth of one commit seen recently (per-commit average per interval)
    writes_failing: bool = False  # full, and the txnid stopped while a writer lives: MapFullError
    note: str | None = None  # why measuring (a clean-up, a new map size)

    def text(self) -> str:
        """The sentence every client shows ("full in 4 min at 2.0 MiB/s over the last 30 s")."""
        if self.state == GROWING and self.seconds is not None:
            return f"full in {fmt_duration(self.seconds)}{self.basis()}"
        if self.state == FULL:
            head = f"full since {clock(self.since)}" if self.since is not None else "full"
            if self.writes_failing and self.last_commit_at is not None:
                head += f"; no commit since {clock(self.last_commit_at)} (MapFullError)"
            return head
        if self.state in (IDLE, NOT_GROWING):
            return f"{self.state} since {clock(self.since)}" if self.since is not None else self.state
        return "measuring…" + (f" ({self.note})" if self.note else "")

    def headline(self, limit: str = "map") -> str:
        """The capacity line's words: "map full in 4 min at …", "map idle since 20:59:24",
        "time to full: measuring…"; ``limit`` "disk" where the volume allows less than the map."""
        return f"time to full: {self.text()}" if self.state == MEASURING else f"{limit} {self.text()}"

    def basis(self) -> str:
        """" at 2.0 MiB/s over the last 30 s" (and the pinned share), or "" without a rate."""
        if self.bytes_per_s is None or self.state != GROWING:
            return ""
        pinned = (f", {100 * self.pinned_share:.0f}% of it pages a reader pins"
                  if self.pinned_share and self.pinned_share >= 0.05 else "")
        return f" at {fmt_bytes(self.bytes_per_s)}/s over the last {fmt_duration(self.window_s)}{pinned}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``eta`` object."""
        return {"state": self.state, "eta_full_s": self.seconds, "since": iso(self.since),
                "window_s": self.window_s, "window": self.window, "bytes_per_s": self.bytes_per_s,
                "pinned_share": self.pinned_share, "basis": self.basis().strip() or None, "text": self.text(),
                "last_commit_at": iso(self.last_commit_at), "writes_failing": self.writes_failing}


def clock(t: float | None) -> str:
    """A wall-clock time of day ("20:59:24"), local time."""
    return "?" if t is None else _time.strftime("%H:%M:%S", _time.localtime(t))


def iso(t: float | None) -> str | None:
    return None if t is None else _time.strftime("%Y-%m-%dT%H:%M:%S%z", _time.localtime(t))


def prometheus_value(e: TimeToFull | None) -> float | None:
    """``zlmdb_time_to_full_seconds``: 0 at full, +Inf when not growing or idle, absent (None) while measuring."""
    if e is None or e.state == MEASURING:
        return None
    if e.state == FULL:
        return 0.0
    if e.state == GROWING and e.seconds is not None:
        return float(e.seconds)
    return float("inf")


def perfdata(e: TimeToFull, warn_s: float, crit_s: float) -> str:
    """Nagios ``time_to_full_s=N;warn;crit;0;``: ``U`` while measuring, not growing or idle, 0 when full."""
    if e.state == FULL:
        v = "0"
    elif e.state == GROWING and e.seconds is not None:
        v = f"{e.seconds:.0f}"
    else:
        v = "U"
    return f"time_to_full_s={v};{plain(warn_s)};{plain(crit_s)};0;"


#: a commit touches at least this many pages (main tree path, free-list tree, the meta page)
FLOOR_PAGES = 32


#: on small maps, a share of the map (up to SMALL_MAP_NEED_MAX) counts as one commit's need
SMALL_MAP_SHARE = 0.12
SMALL_MAP_NEED_MAX = 1024 * 1024


def commit_need_bytes(page_size: int, depth: int, last_commit_freed_pages: int | None, largest_value: int,
                      map_size: int = 0) -> int:
    """One commit's growth as a single snapshot tells it, for "full" without history.

    A commit copies every page it changes (copy on write): at least the path from the root to
    each changed leaf (``depth``) and the free-list tree's, plus its meta page. The pages the
    last commit freed are about the pages it replaced, so about what the next similar commit
    needs (the free list keeps them by txnid in both formats). A value on overflow pages needs
    that many pages in a row. The floor, ``FLOOR_PAGES`` (128 KiB at 4 KiB pages), is what a
    commit of a few dozen small records takes with splits and the free list's own update: the
    2 MiB map written until MapFullError had 27 pages left, which no commit of 20 records found
    room in. On a small map one ordinary commit is a large share of it (a 2 MiB map written with
    100-record commits failed with 208 KiB, 10% of the map, available), and a single snapshot
    cannot see a commit's size when it only appended: there ``SMALL_MAP_SHARE`` of the map
    counts, capped at ``SMALL_MAP_NEED_MAX`` (1 MiB, so maps from 8 MiB up are judged by the
    floors above and the percent-in-use thresholds).
    """
    pages = max(FLOOR_PAGES, 2 * (depth + 2), last_commit_freed_pages or 0,
                -(-largest_value // page_size) + depth + 1 if largest_value else 0)
    return max(pages * page_size, int(min(SMALL_MAP_SHARE * map_size, SMALL_MAP_NEED_MAX)))


@dataclass(frozen=True)
class _Window:
    rate: float
    span: float
    pinned_share: float | None


def _median(xs: list[float]) -> float:
    """``statistics.median``, without importing ``statistics`` (with ``fractions`` and ``decimal``:
    ~4 ms of every one-shot run's start)."""
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def _segment(points: Sequence[Point]) -> int:
    """Index where the rates' history starts: after the last clean-up (bytes in use drop by more
    than a commit's growth and 2% of what was in use) or map size change."""
    for i in range(len(points) - 1, 0, -1):
        a, b = points[i - 1], points[i]
        if b.map_size != a.map_size:
            return i
        drop = a.in_use - b.in_use
        if drop > max(16 * b.page_size, 0.02 * a.in_use, b.need):
            return i
    return 0


def _full_flags(points: Sequence[Point], need: list[int]) -> list[bool]:
    """Full at each point: less available than one commit's growth, and staying full (sticky)
    until space returns (more available than when it became full, or a new map size)."""
    out: list[bool] = []
    for i, p in enumerate(points):
        now = p.available < need[i]
        if not now and out and out[-1]:
            a = points[i - 1]
            now = p.map_size == a.map_size and p.available <= a.available
        out.append(now)
    return out


def _rate(seg: Sequence[Point], growth_idx: list[int], end: int, width: float) -> _Window | None:
    """Rate between the first and last growth within ``width`` seconds ending at growth ``end``."""
    t_end = seg[end].t
    inside = [i for i in growth_idx if t_end - width <= seg[i].t <= t_end]
    if len(inside) < 2:
        return None
    a, b = seg[inside[0]], seg[inside[-1]]
    span = b.t - a.t
    grown = b.in_use - a.in_use
    if span <= 0 or grown <= 0:
        return None
    pinned = (b.pinned - a.pinned) / grown
    return _Window(grown / span, span, round(max(0.0, min(1.0, pinned)), 3))


def estimate(points: Sequence[Point], fast_s: float = 30.0, slow_s: float = 300.0,
             min_history_s: float = 30.0) -> TimeToFull:
    """The state and time to full at the last point (points in time order, at most ``slow_s``
    and more are used)."""
    if not points:
        return TimeToFull()
    last = points[-1]
    # per-commit growth between consecutive samples (several commits between two samples: their average)
    per_commit = [0] + [max(0, (b.in_use - a.in_use) // max(1, b.txnid - a.txnid))
                        for a, b in zip(points, points[1:])]
    need, window = [], deque[int]()  # indices of a running maximum of per_commit over slow_s
    for i, p in enumerate(points):
        while window and per_commit[window[-1]] <= per_commit[i]:
            window.pop()
        window.append(i)
        while p.t - points[window[0]].t > slow_s:
            window.popleft()
        need.append(max(p.page_size, p.need, per_commit[window[0]]))
    commits = [i for i in range(1, len(points)) if points[i].txnid > points[i - 1].txnid]
    last_commit_at = points[commits[-1]].t if commits else None
    out = TimeToFull(last_commit_at=last_commit_at, commit_bytes=max(
        (per_commit[j] for j in range(len(points)) if last.t - points[j].t <= slow_s), default=0))
    full = _full_flags(points, need)
    if full[-1]:
        i = len(full) - 1
        while i > 0 and full[i - 1]:
            i -= 1
        out.state, out.seconds, out.since = FULL, 0.0, points[i].t
        # the txnid stopped: no commit since the map became full, or none for as long as a stall takes (a writer
        # may squeeze in a few small commits after the full level, then fail at every commit from then on)
        times = [points[j].t for j in commits if last.t - points[j].t <= slow_s]
        gaps = [b - a for a, b in zip(times, times[1:])]
        stall_s = max(fast_s, 3 * _median(gaps)) if gaps else fast_s
        stopped = last_commit_at is None or last_commit_at <= points[i].t or last.t - last_commit_at >= stall_s
        out.writes_failing = last.writer and stopped and last.t > (last_commit_at or points[0].t)
        return out
    if last.t - points[0].t < min_history_s:
        out.window_s = round(max(0.0, last.t - points[0].t), 1)
        return out
    start = _segment(points)
    seg = [p for p in points[start:] if last.t - p.t <= slow_s] if start else \
        [p for p in points if last.t - p.t <= slow_s]
    growth, high = [], seg[0].in_use  # new highs of bytes in use: freed pages reused (a wobble) are not growth
    for i in range(1, len(seg)):
        if seg[i].in_use > high:
            growth.append(i)
            high = seg[i].in_use
    gaps = [seg[b].t - seg[a].t for a, b in zip(growth, growth[1:])]
    cgaps = [seg[i].t - seg[i - 1].t for i in range(1, len(seg))]
    gap = _median(gaps) if gaps else (_median(cgaps) if cgaps else 0.0)
    stall_s = max(fast_s, 3 * gap)
    if start and len(growth) < 3:  # rates restart after a clean-up or a new map size
        if last.t - seg[0].t < stall_s:
            out.since, out.note = seg[0].t, ("map size changed" if points[start].map_size != points[start - 1].map_size
                                             else "bytes in use dropped")
            return out
    last_growth_t = seg[growth[-1]].t if growth else seg[0].t
    net = last.in_use - seg[0].in_use
    steps = [seg[i].in_use - seg[i - 1].in_use for i in growth]  # the largest single growth: noise
    stalled = last.t - last_growth_t > stall_s
    if len(growth) == 1 and not stalled and last_commit_at is not None:
        out.note = "one growth so far"  # one step is no trend yet
        return out
    flat = len(growth) < 2 or net <= max(steps, default=0)
    if stalled or flat:
        no_commit = last_commit_at is None or last.t - last_commit_at > stall_s
        if no_commit:
            out.state, out.since = IDLE, last_commit_at if last_commit_at is not None else seg[0].t
        else:
            out.state, out.since = NOT_GROWING, last_growth_t if growth and stalled else seg[0].t
        return out
    end = growth[-1]
    fast = _rate(seg, growth, end, max(fast_s, 2.5 * gap))
    slow = _rate(seg, growth, end, slow_s)
    best, name = (fast, "fast") if fast is not None else (slow, "slow")
    if fast is not None and slow is not None and slow.rate > fast.rate:
        best, name = slow, "slow"
    if best is None:
        return out
    seconds = max(0.0, last.available / best.rate - (last.t - last_growth_t))
    out.state, out.seconds, out.window, out.window_s = GROWING, round(seconds, 1), name, round(best.span, 1)
    out.bytes_per_s, out.pinned_share = round(best.rate, 3), best.pinned_share
    return out


def live_writer(snap: Snapshot) -> bool:
    """A live process maps data.mdb writable (/proc/PID/maps, as ``capacity.maps`` lists them)."""
    return any(m.get("map_size") and m.get("writable") is not False for m in snap.capacity.maps)


def snapshot_need(snap: Snapshot) -> int:
    """:func:`commit_need_bytes` from what one snapshot holds."""
    return commit_need_bytes(snap.lmdb.page_size, snap.lmdb.depth, snap.capacity.last_commit_freed_pages,
                             max((t.max_value for t in snap.tables), default=0), snap.capacity.map_size)


def point_of(snap: Snapshot) -> Point:
    """One snapshot as a point of the series."""
    cap = snap.capacity
    return Point(snap.taken_at, cap.in_use_bytes or cap.used_bytes, cap.available_bytes, snap.lmdb.last_txnid,
                 cap.map_size, (cap.pinned_pages or 0) * snap.lmdb.page_size, snapshot_need(snap),
                 snap.lmdb.page_size, live_writer(snap))
