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


def _runs(pages: np.ndarray) -> np.ndarray:
    """Lengths of the runs of consecutive numbers in sorted unique ``pages``."""
    if not len(pages):
        return np.zeros(0, dtype=np.int64)
    breaks = np.nonzero(np.diff(pages) != 1)[0]
    ends = np.concatenate([breaks, [len(pages) - 1]])
    starts = np.concatenate([[0], breaks + 1])
    return ends - starts + 1


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)`` by a sort: numpy 2's hashing ``unique`` took 0.43 s of CPU on the 650,000
    free pages of a 10M-record database, the sort takes 7 ms."""
    if not len(a):
        return a
    s = np.sort(a)
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


def histogram(lists: list[np.ndarray]) -> list[dict]:
    """Runs of every reusable page in power-of-two buckets: ``{"pages": [lo, hi], "runs", "total_pages"}``."""
    if not lists:
        return []
    runs = _runs(_sorted_unique(np.concatenate(lists)))
    if not len(runs):
        return []
    bucket = np.floor(np.log2(runs)).astype(np.int64)
    out = []
    for b in range(int(bucket.max()) + 1):
        sel = runs[bucket == b]
        if len(sel):
            out.append({"pages": [1 << b, (2 << b) - 1], "runs": int(len(sel)), "total_pages": int(sel.sum())})
    return out


def largest_fit(lists: list[np.ndarray], touches: int) -> int:
    """The most consecutive pages one overflow allocation finds after ``touches`` single-page
    allocations in the same transaction (the path to the leaf), as ``mdb_page_alloc`` searches."""
    if not lists:
        return 0
    counts = np.array([len(a) for a in lists], dtype=np.int64)
    rec = np.repeat(np.arange(len(lists)), counts)
    pages = np.concatenate(lists)
    order = np.argsort(pages, kind="stable")
    pages, rec = pages[order], rec[order]
    # the touches: each takes the lowest page among the records loaded (one more record when none is left)
    taken = np.zeros(len(pages), dtype=bool)
    loaded = 0
    for _ in range(touches):
        avail = np.nonzero(~taken & (rec < loaded))[0]
        while not len(avail) and loaded < len(lists):
            loaded += 1
            avail = np.nonzero(~taken & (rec < loaded))[0]
        if not len(avail):
            return 0  # the touches used every reusable page: the value goes to new pages
        taken[avail[0]] = True
    cum = np.cumsum(counts) - int(taken.sum())  # pages in the writer's list with 1..n records loaded

    def longest(n: int) -> int:
        sel = pages[(rec < n) & ~taken]
        runs = _runs(sel)
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
        m = longest(reach(k))
        if m >= k:
            return k
        k = m
    return 0


def free_runs(pf: PageFile, walk: WalkResult, oldest: int, last_pgno: int, depth: int) -> dict:
    """``{"largest_pages", "runs": [...]}`` over the pages reusable before ``oldest``."""
    lists = reusable_lists(pf, walk, oldest, last_pgno)
    return {"largest_pages": largest_fit(lists, max(1, depth)), "runs": histogram(lists)}
