"""Runs of consecutive reusable pages, and the longest one a write really finds.

LMDB stores a value over about half a page on consecutive overflow pages; a freelist of
short runs cannot hold it, and the file grows although "free" is large. So the reusable
pages (the free-list records older than the oldest snapshot) are taken from the free database's
lists the walk read, and grouped in runs.

``largest_pages`` is not simply the longest run: it is what ``mdb_page_alloc`` (the same in
LMDB 0.9 and 1.0) meets. A write transaction first touches the path from the root to the
leaf, one page each, taken from the *lowest* page numbers of the records loaded so far; the
overflow allocation of ``num`` pages then merges free-list records oldest first into its
list and searches it for ``num`` consecutive pages, giving up after ``num * 60`` failed
searches (it then extends the file). A run further down the free list than that is never
found.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from zlmdb_inspect.storage.arrays import ranges
from zlmdb_inspect.storage.pageformat import NUM_METAS, PageError
from zlmdb_inspect.storage.walk import WalkResult

RETRY_PER_PAGE = 60  # mdb_page_alloc: ``retry = num * 60``


class FreeLists:
    """The page numbers of several free-list records: one flat array (record after record) and
    each record's count. One array, not one per record: a busy 10M-record file has thousands of
    records, and a numpy call per record cost more than the pages' own sorting."""

    def __init__(self, flat: np.ndarray, counts: np.ndarray, ends: np.ndarray | None = None):
        self.flat = flat
        self.counts = counts
        self.ends = np.cumsum(counts) if ends is None else ends  # each record's end in ``flat``

    @classmethod
    def of(cls, lists: list[np.ndarray] | FreeLists) -> FreeLists:
        if isinstance(lists, FreeLists):
            return lists
        counts = np.array([len(a) for a in lists], dtype=np.int64)
        flat = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)
        return cls(flat, counts)

    def __len__(self) -> int:
        return len(self.counts)

    def record(self, i: int) -> np.ndarray:
        end = int(self.ends[i])
        return self.flat[end - int(self.counts[i]):end]


def reusable_lists(walk: WalkResult, oldest: int, last_pgno: int) -> FreeLists:
    """The page numbers of each free-list record freed before ``oldest``, oldest record first
    (the order a writer merges them), from the lists the walk read (or kept from the last walk)."""
    lists = walk.free_lists
    if lists is None:
        raise PageError("the free lists were not read (big-endian host)")
    recs = walk.free_records  # in txnid order: the reusable ones come first
    keep = int(np.searchsorted(recs[:, 0], oldest))
    damaged = [t for t in walk.free_lists_bad if t < oldest]
    if damaged:
        raise PageError(walk.free_lists_bad[min(damaged)])
    counts = recs[:keep, 1]  # none damaged: each list as long as its count says
    ends = np.cumsum(counts)
    raw = lists[:int(ends[-1]) if keep else 0]
    bad = (raw < NUM_METAS) | (raw > last_pgno)
    if bad.any():
        k = int(np.searchsorted(ends, int(np.argmax(bad)), side="right"))
        raise PageError(f"free-list record {int(recs[k, 0])} lists a page outside 2..{last_pgno}")
    if raw.dtype != np.int32 and last_pgno < 1 << 31:  # half the bytes to sort and scan (files < 8 TiB)
        raw = raw.astype(np.int32)
    return FreeLists(raw, counts, ends)


def _bounds(pages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first and last number of each run of consecutive numbers in sorted ``pages`` (a
    number listed twice counts once)."""
    if not len(pages):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    breaks = np.flatnonzero(np.diff(pages) > 1)
    return pages[np.concatenate(([0], breaks + 1))], pages[np.concatenate((breaks, [len(pages) - 1]))]


def _runs(pages: np.ndarray) -> np.ndarray:
    """Lengths of the runs of consecutive numbers in sorted ``pages``."""
    starts, ends = _bounds(pages)
    return ends - starts + 1


class Merged:
    """The reusable pages of every record, in order once (a bitmap, or a sort) for both figures, and their runs.

    The pages are placed in a bitmap of the file's pages and the runs read off its edges (~4 ms for
    the 650k reusable pages of a 10M-record file; a stable sort, a merge of the lists' sorted runs,
    took 7-10 ms, ``np.unique`` half a second, the pages listed from the bitmap and then split into
    runs ~6 ms). The pages in order, and which record lists each, are worked out only for a search
    that does not reach every record."""

    #: The bitmap is used while it has at most this many bytes per listed page (else: a sort).
    bitmap_per_page = 64

    def __init__(self, lists: list[np.ndarray] | FreeLists):
        self.lists = FreeLists.of(lists)
        flat = self.lists.flat
        top = int(flat.max()) + 1 if len(flat) else 0
        self._pages: np.ndarray | None = None
        self._top = 0  # the bitmap's size where the pages were placed in one (each listed once)
        if len(flat) and top <= self.bitmap_per_page * len(flat):
            seen = np.zeros(top + 1, dtype=np.int8)
            seen[flat] = 1
            edge = np.diff(seen, prepend=np.int8(0))  # +1 where a run starts, -1 after its last page
            self.starts, self.ends = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1) - 1
            if int((self.ends - self.starts + 1).sum()) < len(flat):  # a page listed twice (damage): every listing
                self._pages = np.sort(flat, kind="stable")
                self.starts, self.ends = _bounds(self._pages)
            else:
                self._top = top
        else:
            self._pages = np.sort(flat, kind="stable")
            self.starts, self.ends = _bounds(self._pages)  # each run's first and last page
        self.lengths = self.ends - self.starts + 1
        self.repeated = len(flat) > int(self.lengths.sum())  # a page listed twice (damage)

    @property
    def pages(self) -> np.ndarray:
        """Every listed page in order (each listing, where a page is listed twice)."""
        if self._pages is None:
            self._pages = ranges(self.starts, self.ends + 1)
        return self._pages

    @cached_property
    def rec(self) -> np.ndarray:
        """The index of the record that lists each of ``pages`` (ties in record order). Where each page is
        listed once, by placing each record's index at its pages (~5 ms for 650k pages; the sort took ~20)."""
        lists = self.lists
        rec = np.repeat(np.arange(len(lists), dtype=np.int32), lists.counts)
        if self._top:
            owner = np.empty(self._top, dtype=np.int32)
            owner[lists.flat] = rec
            return owner[self.pages]
        return rec[np.argsort(lists.flat, kind="stable")]


def histogram(lists: list[np.ndarray] | FreeLists, merged: Merged | None = None) -> list[dict]:
    """Runs of every reusable page in power-of-two buckets: ``{"pages": [lo, hi], "runs", "total_pages"}``."""
    if not len(lists):
        return []
    m = merged or Merged(lists)
    runs = m.lengths
    if not len(runs):
        return []
    longest = int(runs.max())
    if longest < 1 << 16:  # runs of each length counted (a fragmented list has 100k+ runs), then summed per bucket
        per = np.bincount(runs)
        cut = [min(1 << b, len(per)) for b in range(longest.bit_length() + 1)]
        nruns = np.add.reduceat(per, cut[:-1]).tolist()
        totals = np.add.reduceat(per * np.arange(len(per)), cut[:-1]).tolist()
    else:
        bucket = np.frexp(runs)[1] - 1  # floor(log2), exact
        nruns = np.bincount(bucket).tolist()
        totals = np.bincount(bucket, weights=runs).tolist()
    return [{"pages": [1 << b, (2 << b) - 1], "runs": n, "total_pages": int(t)}
            for b, (n, t) in enumerate(zip(nruns, totals)) if n]


def _longest_without(m: Merged, gone: list[int]) -> int:
    """The longest run of all the pages once the (few) pages ``gone`` are taken out of it."""
    runs = m.lengths
    if not len(runs):
        return 0
    hit = (np.searchsorted(m.starts, gone, side="right") - 1).tolist()  # the run each lies in
    pieces: list[int] = []
    for r in sorted(set(hit)):
        at = int(m.starts[r])
        for p in sorted(p for p, h in zip(gone, hit) if h == r):
            pieces.append(p - at)
            at = p + 1
        pieces.append(int(m.ends[r]) - at + 1)
    keep = np.ones(len(runs), dtype=bool)
    keep[sorted(set(hit))] = False
    return max([int(runs[keep].max()) if keep.any() else 0] + pieces)


#: A search that merges records listing at most this share of the reusable pages sorts those pages
#: (a busy 10M-record file: ~50,000 of 650,000, 1-2 ms) rather than masking every page by its record
#: (~3 ms a search, after ~7 ms placing each record's index at its pages once).
PREFIX_SHARE = 0.25


def _longest_of_first(fl: FreeLists, end: int, gone: list[tuple[int, int]]) -> int:
    """The longest run of the listings ``fl.flat[:end]`` (the first records' pages), less one listing
    of each touch's (page, record) ``gone`` (the first of that page in that record's list)."""
    drop: list[int] = []
    for p, r in gone:
        hi = int(fl.ends[r])
        if hi > end:
            continue  # (a record past the search: not in it)
        lo = hi - int(fl.counts[r])
        at = [lo + int(i) for i in np.flatnonzero(fl.flat[lo:hi] == p)]
        drop.append(next(i for i in at if i not in drop))
    sel = fl.flat[:end]
    if drop:
        sel = np.delete(sel, drop)
    runs = _runs(np.sort(sel))
    return int(runs.max()) if len(runs) else 0


def largest_fit(lists: list[np.ndarray] | FreeLists, touches: int, merged: Merged | None = None) -> int:
    """The most consecutive pages one overflow allocation finds after ``touches`` single-page
    allocations in the same transaction (the path to the leaf), as ``mdb_page_alloc`` searches."""
    if not len(lists):
        return 0
    m = merged or Merged(lists)
    fl = m.lists
    # the touches: each takes the lowest page among the records loaded; a record is loaded when
    # the ones before are used up, so the candidates are always the last loaded record's pages
    gone: list[tuple[int, int]] = []  # (page, record) taken
    loaded = 0
    avail = np.zeros(0, dtype=np.int64)  # untaken pages of the last loaded record, ascending
    for _ in range(touches):
        while not len(avail) and loaded < len(fl):
            avail = np.sort(fl.record(loaded))
            loaded += 1
        if not len(avail):
            return 0  # the touches used every reusable page: the value goes to new pages
        gone.append((int(avail[0]), loaded - 1))
        avail = avail[1:]
    cum = fl.ends - len(gone)  # pages in the writer's list with 1..n records loaded
    taken: np.ndarray | None = None

    def longest(n: int) -> int:
        nonlocal taken
        if n >= len(fl) and not m.repeated:  # every record: the runs already found, less the touches
            return _longest_without(m, [p for p, _ in gone])
        end = int(fl.ends[n - 1]) if n else 0
        if end <= PREFIX_SHARE * len(fl.flat):  # a search that stops early: its records' pages, sorted
            return _longest_of_first(fl, end, gone)
        pages, rec = m.pages, m.rec
        if taken is None:
            taken = np.zeros(len(pages), dtype=bool)
            for p, r in gone:  # each touch took one listing: the first untaken of that page by that record
                lo, hi = np.searchsorted(pages, p), np.searchsorted(pages, p, side="right")
                taken[lo + int(np.flatnonzero((rec[lo:hi] == r) & ~taken[lo:hi])[0])] = True
        runs = _runs(pages[~taken & (rec < n)])
        return int(runs.max()) if len(runs) else 0

    def reach(k: int) -> int:
        """Records loaded when a search for ``k`` pages gives up: searches start once the list
        holds ``k`` pages (the first with ``loaded`` records) and fail ``k * 60 + 1`` times."""
        first = max(loaded, 1)
        enough = np.nonzero(cum[first - 1:] >= k)[0]
        if not len(enough):
            return len(fl)
        return min(len(fl), first + int(enough[0]) + RETRY_PER_PAGE * k)

    k = longest(len(fl))
    while k > 0:
        n = reach(k)
        if n >= len(fl):  # the search reaches every record: it finds the longest run there is
            return k
        got = longest(n)
        if got >= k:
            return k
        k = got
    return 0


def free_runs(walk: WalkResult, oldest: int, last_pgno: int, depth: int) -> dict:
    """``{"largest_pages", "runs": [...]}`` over the pages reusable before ``oldest``."""
    lists = reusable_lists(walk, oldest, last_pgno)
    merged = Merged(lists)
    return {"largest_pages": largest_fit(lists, max(1, depth), merged), "runs": histogram(lists, merged)}
