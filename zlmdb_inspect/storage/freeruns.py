"""Runs of consecutive reusable pages, and the longest one a write really finds.

LMDB stores a value over about half a page on consecutive overflow pages; a freelist of
short runs cannot hold it, and the file grows although "free" is large. So the reusable
pages (the free-list records older than the oldest snapshot) are read page by page from the
free database's lists the walk located, and grouped in runs.

``largest_pages`` is not simply the longest run: it is what ``mdb_page_alloc`` (the same in
LMDB 0.9 and 1.0) meets. A write transaction first touches the path from the root to the
leaf, one page each, taken from the *lowest* page numbers of the records loaded so far; the
overflow allocation of ``num`` pages then merges free-list records oldest first into its
list and searches it for ``num`` consecutive pages, giving up after ``num * 60`` failed
searches (it then extends the file). A run further down the free list than that is never
found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zlmdb_inspect.storage.pageformat import NATIVE, NUM_METAS, PageError, PageFile
from zlmdb_inspect.storage.walk import WalkResult

RETRY_PER_PAGE = 60  # mdb_page_alloc: ``retry = num * 60``


def reusable_lists(pf: PageFile, walk: WalkResult, oldest: int, last_pgno: int) -> list[np.ndarray]:
    """The page numbers of each free-list record freed before ``oldest``, oldest record first
    (the order a writer merges them). Read inside the snapshot's read transaction."""
    at = walk.free_lists_at
    if at is None:
        raise PageError("the free lists were not located (big-endian host)")
    recs = walk.free_records
    keep = np.nonzero(recs[:, 0] < oldest)[0]
    keep = keep[np.argsort(recs[keep, 0], kind="stable")]
    dtype = np.dtype(NATIVE + "u8")
    out = []
    for i in keep.tolist():
        n = int(recs[i, 1])
        off = int(at[i]) + 8
        if off + 8 * n > pf.file_size:
            raise PageError(f"free-list record {int(recs[i, 0])} runs past the file")
        pages = np.frombuffer(pf.buf, dtype=dtype, count=n, offset=off).astype(np.int64)
        if n and (int(pages.min()) < NUM_METAS or int(pages.max()) > last_pgno):
            raise PageError(f"free-list record {int(recs[i, 0])} lists a page outside 2..{last_pgno}")
        out.append(pages)
    return out


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


@dataclass
class Merged:
    """The reusable pages of every record, sorted once for both figures: each page ascending
    with the index of the record that lists it, and the runs of all of them.

    LMDB keeps each list sorted, so a stable sort (timsort: a merge of the lists' runs) takes
    a few milliseconds on the 640k reusable pages of a 10M-record file (``np.unique``, which
    sorted them before, took half a second)."""

    pages: np.ndarray
    rec: np.ndarray
    starts: np.ndarray  # each run's first and last page
    ends: np.ndarray
    repeated: bool  # a page listed twice (damage)

    @classmethod
    def of(cls, lists: list[np.ndarray]) -> Merged:
        counts = np.array([len(a) for a in lists], dtype=np.int64)
        rec = np.repeat(np.arange(len(lists), dtype=np.int32), counts)
        pages = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)
        order = np.argsort(pages, kind="stable")
        pages, rec = pages[order], rec[order]
        starts, ends = _bounds(pages)
        return cls(pages, rec, starts, ends, len(pages) > int((ends - starts + 1).sum()))


def histogram(lists: list[np.ndarray], merged: Merged | None = None) -> list[dict]:
    """Runs of every reusable page in power-of-two buckets: ``{"pages": [lo, hi], "runs", "total_pages"}``."""
    if not lists:
        return []
    m = merged or Merged.of(lists)
    runs = m.ends - m.starts + 1
    if not len(runs):
        return []
    bucket = np.frexp(runs)[1] - 1  # floor(log2), exact: a fragmented list has 100k+ runs
    nruns = np.bincount(bucket).tolist()
    totals = np.bincount(bucket, weights=runs).tolist()
    return [{"pages": [1 << b, (2 << b) - 1], "runs": n, "total_pages": int(t)}
            for b, (n, t) in enumerate(zip(nruns, totals)) if n]


def _longest_without(m: Merged, gone: list[int]) -> int:
    """The longest run of all the pages once the (few) pages ``gone`` are taken out of it."""
    runs = m.ends - m.starts + 1
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


def largest_fit(lists: list[np.ndarray], touches: int, merged: Merged | None = None) -> int:
    """The most consecutive pages one overflow allocation finds after ``touches`` single-page
    allocations in the same transaction (the path to the leaf), as ``mdb_page_alloc`` searches."""
    if not lists:
        return 0
    m = merged or Merged.of(lists)
    pages, rec = m.pages, m.rec
    counts = np.array([len(a) for a in lists], dtype=np.int64)
    # the touches: each takes the lowest page among the records loaded (one more record when none is left)
    taken = np.zeros(len(pages), dtype=bool)
    gone: list[int] = []
    loaded = 0
    avail = np.zeros(0, dtype=np.int64)  # untaken pages of the loaded records (indices, ascending)
    for _ in range(touches):
        while not len(avail) and loaded < len(lists):
            loaded += 1
            avail = np.flatnonzero((rec < loaded) & ~taken)
        if not len(avail):
            return 0  # the touches used every reusable page: the value goes to new pages
        taken[avail[0]] = True
        gone.append(int(pages[avail[0]]))
        avail = avail[1:]
    cum = np.cumsum(counts) - len(gone)  # pages in the writer's list with 1..n records loaded

    def longest(n: int) -> int:
        if n >= len(lists) and not m.repeated:  # every record: the runs already found, less the touches
            return _longest_without(m, gone)
        runs = _runs(pages[~taken & (rec < n)])
        return int(runs.max()) if len(runs) else 0

    def reach(k: int) -> int:
        """Records loaded when a search for ``k`` pages gives up: searches start once the list
        holds ``k`` pages (the first with ``loaded`` records) and fail ``k * 60 + 1`` times."""
        first = max(loaded, 1)
        enough = np.nonzero(cum[first - 1:] >= k)[0]
        if not len(enough):
            return len(lists)
        return min(len(lists), first + int(enough[0]) + RETRY_PER_PAGE * k)

    k = longest(len(lists))
    while k > 0:
        n = reach(k)
        if n >= len(lists):  # the search reaches every record: it finds the longest run there is
            return k
        got = longest(n)
        if got >= k:
            return k
        k = got
    return 0


def free_runs(pf: PageFile, walk: WalkResult, oldest: int, last_pgno: int, depth: int) -> dict:
    """``{"largest_pages", "runs": [...]}`` over the pages reusable before ``oldest``."""
    lists = reusable_lists(pf, walk, oldest, last_pgno)
    merged = Merged.of(lists) if lists else None
    return {"largest_pages": largest_fit(lists, max(1, depth), merged), "runs": histogram(lists, merged)}
