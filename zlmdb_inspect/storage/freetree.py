"""The free database as one walk read it, kept so the next walk reads only what changed (LMDB 1.0).

A bulk-loaded 10M-record file's free database holds ~50,000 records (the page lists of the
transactions that freed pages) on ~1,350 pages, and small commits change only its two ends: new
records at the highest txnids, the oldest ones consumed by the writer. Read in full, it was a
fifth of a repeat run's CPU (~1,700 pages faulted in, then 650,000 page numbers gathered for the
free runs). Its pages carry txnids like the main tree's, and a written page never changes, so a
subtree whose root has the same (page number, txnid) as in the last walk holds the same records.

:class:`FreeTree` keeps every page of the last walk (its key, CRC-32, parent, the range of records
below it, its pages with the lists' overflow pages) and the records in key (txnid) order with their
page lists. A walk reuses a subtree from it once the page's CRC matches (a backup restored over the
same file holds other pages under the same numbers and txnids, as for the main tree's summaries),
and then the subtree's rows too, so the walk after it can reuse parts of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zlmdb_inspect.storage.arrays import find_keys, key_index, ranges, repeated_keys
from zlmdb_inspect.storage.pageformat import NUM_METAS, TXNID_MAX

#: name -> (dtype, columns; 0: one-dimensional) of what a state file holds ("lists" as the file says: <i4 or <i8).
COLUMNS: dict[str, tuple[str, int]] = {
    "keys": ("<i8", 2), "crcs": ("<i8", 0), "parents": ("<i8", 0), "spans": ("<i8", 3),
    "txnids": ("<i8", 0), "counts": ("<i8", 0),
}
_PAGE_MAX = 1 << 48  # LMDB's page numbers are 48 bits
MAX_DEPTH = 64


@dataclass
class FreeTree:
    """The pages, records and page lists of one walk of the free database.

    Page row ``i``: ``keys[i]`` (pgno, txnid), ``crcs[i]``, ``parents[i]`` (row of the page above it,
    -1 for the root), ``spans[i]`` (first record, end record, pages of its subtree including the lists'
    overflow pages). Records in key order: ``txnids`` (strictly increasing), ``counts``; record ``j``'s
    page numbers are ``lists[ends[j] - counts[j]:ends[j]]``. A walk keeps one only where it found
    nothing damaged in the free database (every list read whole, every number a page of the file).
    """

    keys: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    crcs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    parents: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    spans: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), dtype=np.int64))
    txnids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lists: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    # not stored: rows whose page this process read or found holding their CRC
    verified: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    _index: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _ends: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def ends(self) -> np.ndarray:
        """Each record's end in ``lists``."""
        if self._ends is None:
            self._ends = np.cumsum(self.counts)
        return self._ends

    def find(self, pgnos: np.ndarray, txnids: np.ndarray) -> np.ndarray:
        """The row of each (pgno, txnid), -1 where there is none (keys are unique: :meth:`check`)."""
        if self._index is None:
            self._index = key_index(self.keys)
        return find_keys(self._index, pgnos, txnids)

    def below(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` and every row under them (each once; a cycle in a hostile file ends the search)."""
        order = np.argsort(self.parents, kind="stable")
        sorted_parents = self.parents[order]
        seen = np.zeros(len(self), dtype=bool)
        seen[rows] = True
        out = [rows]
        frontier = rows
        for _ in range(MAX_DEPTH):
            if not len(frontier):
                break
            lo = np.searchsorted(sorted_parents, frontier, side="left")
            hi = np.searchsorted(sorted_parents, frontier, side="right")
            if not (hi - lo).sum():
                break
            kids = order[ranges(lo, hi)]
            kids = kids[~seen[kids]]
            seen[kids] = True
            out.append(kids)
            frontier = kids
        return np.concatenate(out)

    def carried(self, rows: np.ndarray, new_rows: np.ndarray, new_first: np.ndarray, start: int) -> FreeTree:
        """The rows below the reused rows ``rows`` (not themselves), for a new walk's table in which
        ``rows`` are ``new_rows`` and their records start at ``new_first``; the rows carried are
        numbered from ``start``, their parents and record spans moved with them. (No records.)"""
        below = self.below(rows)[len(rows):]  # (its first rows are ``rows`` themselves)
        new_row = np.full(len(self), -1, dtype=np.int64)
        new_row[rows] = new_rows
        new_row[below] = start + np.arange(len(below))
        is_top = np.zeros(len(self), dtype=bool)
        is_top[rows] = True
        top = below.copy()  # each one's reused ancestor
        for _ in range(MAX_DEPTH):
            climb = ~is_top[top]
            if not climb.any():
                break
            top[climb] = self.parents[top[climb]]
        first = np.zeros(len(self), dtype=np.int64)
        first[rows] = new_first
        spans = self.spans[below].copy()
        spans[:, :2] += (first[top] - self.spans[top, 0])[:, None]
        spans[spans[:, 1] <= spans[:, 0], :2] = 0
        return FreeTree(keys=self.keys[below], crcs=self.crcs[below], parents=new_row[self.parents[below]],
                        spans=spans, verified=self.verified[below])

    def piece(self, row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The records (txnids, counts) and their page lists below page row ``row``."""
        lo, hi = int(self.spans[row, 0]), int(self.spans[row, 1])
        if hi <= lo or lo < 0 or hi > len(self.txnids):
            return self.txnids[:0], self.counts[:0], self.lists[:0]
        ends = self.ends
        start = int(ends[lo - 1]) if lo else 0
        return self.txnids[lo:hi], self.counts[lo:hi], self.lists[start:int(ends[hi - 1])]

    # -- a state file's columns -----------------------------------------------------------------

    def columns(self) -> dict[str, np.ndarray]:
        return {"keys": self.keys, "crcs": self.crcs, "parents": self.parents, "spans": self.spans,
                "txnids": self.txnids, "counts": self.counts, "lists": self.lists}

    @classmethod
    def from_columns(cls, cols: dict[str, np.ndarray]) -> FreeTree:
        """From a file's columns; :meth:`check` them before use."""
        return cls(keys=cols["keys"], crcs=cols["crcs"], parents=cols["parents"], spans=cols["spans"],
                   txnids=cols["txnids"], counts=cols["counts"], lists=cols["lists"],
                   verified=np.zeros(len(cols["keys"]), dtype=bool))

    def check(self) -> None:
        """What a walk relies on, over whole columns (``ValueError`` naming the first doubt)."""
        n, r = len(self.keys), len(self.txnids)
        if len(self.crcs) != n or len(self.parents) != n or len(self.spans) != n or len(self.counts) != r:
            raise ValueError("its free database columns disagree in length")
        if n and ((self.keys[:, 0] < NUM_METAS) | (self.keys[:, 0] >= _PAGE_MAX)).any():
            raise ValueError("its free database names a page number no file has")
        if n and ((self.keys[:, 1] < 0) | (self.keys[:, 1] > TXNID_MAX)).any():
            raise ValueError("its free database names a txnid no transaction has")
        self._index = key_index(self.keys)  # (the order kept for find())
        if repeated_keys(self._index):
            raise ValueError("its free database lists a page twice")
        if ((self.crcs < 0) | (self.crcs >= 1 << 32)).any():
            raise ValueError("its free database holds a CRC-32 out of range")
        if ((self.parents < -1) | (self.parents >= n) | (self.parents == np.arange(n))).any():
            raise ValueError("its free database has a page under a page it does not have")
        lo, hi, pages = (self.spans[:, i] for i in range(3)) if n else (np.zeros(0, dtype=np.int64),) * 3
        if ((lo < 0) | (hi < lo) | (hi > r) | (pages < 1) | (pages >= _PAGE_MAX)).any():
            raise ValueError("its free database has a page whose records or pages are out of range")
        child = np.flatnonzero((self.parents >= 0) & (hi > lo)) if n else np.zeros(0, dtype=np.int64)
        up = self.parents[child]
        if ((lo[child] < lo[up]) | (hi[child] > hi[up])).any():
            raise ValueError("its free database has records below a page that are not that page's")
        if ((self.txnids < 0) | (self.txnids > TXNID_MAX)).any() or (np.diff(self.txnids) <= 0).any():
            raise ValueError("its free database records are not in txnid order")
        if ((self.counts < 0) | (self.counts > len(self.lists))).any() or int(self.counts.sum()) != len(self.lists):
            raise ValueError("its free database's page lists do not add up to their counts")
        if len(self.lists) and ((self.lists < NUM_METAS) | (self.lists >= _PAGE_MAX)).any():
            raise ValueError("its free database lists a page number no file has")
