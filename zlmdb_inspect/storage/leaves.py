"""The main tree's leaf pages in key order, from any key, read from the file's pages.

LMDB's cursor (zlmdb binds it through CFFI) costs microseconds a record; a leaf page
holds tens of records and can be searched as one buffer. Queries skip whole pages that
cannot hold a match, histograms count a page's records from its header, and follow mode
compares the pages two snapshots reach. Every page is read through :class:`PageFile`'s
bounds checks, inside the read transaction whose snapshot the meta page describes.
"""

from __future__ import annotations

import bisect
import struct
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from zlmdb_inspect.core.slots import slot_prefix
from zlmdb_inspect.storage.pageformat import (
    F_BIGDATA,
    F_DUPDATA,
    F_SUBDATA,
    LITTLE_ENDIAN_HOST,
    MAX_DEPTH,
    MDB_DUPSORT,
    NUM_METAS,
    P_BRANCH,
    P_INVALID,
    P_LEAF,
    Meta,
    PageError,
    PageFile,
)

_NODE = struct.Struct("<4H")


@dataclass(frozen=True)
class Leaf:
    pgno: int
    txnid: int  # the transaction that wrote the page (0 in the 0.9 format)
    n: int  # records


class LeafWalk:
    """Leaves of one snapshot's main tree, in key order."""

    def __init__(self, pf: PageFile, meta: Meta):
        if meta.main.flags & MDB_DUPSORT:
            raise PageError("a DUPSORT main database is not walked by leaves")
        self.pf = pf
        self.meta = meta
        self.limit = meta.last_pgno

    def _header(self, pgno: int) -> tuple[int, int, int]:
        flags, lower, upper, txnid = self.pf.header(pgno, self.limit, "the tree")
        return flags, self.pf.numkeys(pgno, lower, upper), txnid

    def leaves(self, key: bytes = b"") -> Iterator[Leaf]:
        """From the leaf that holds ``key`` (or would), to the end of the tree."""
        if self.meta.main.root == P_INVALID:
            return
        path, leaf = self._down(key)
        yield leaf
        yield from self._beside(path, 1)

    def edge_keys(self, key: bytes) -> tuple[bytes | None, bytes | None]:
        """(the last key below ``key``, the first key at or above it), or None where there is none:
        what LMDB's cursor gives with ``set_range(key)`` and ``prev()``, read from the pages (bounds
        checked) for where its cursor must not go yet (see ``Inspector.read``)."""
        if self.meta.main.root == P_INVALID:
            return None, None
        path, leaf = self._down(key)
        keys = self._keys(leaf)
        pos = bisect.bisect_left(keys, key)
        below = keys[pos - 1] if pos else next(
            (ks[-1] for ks in map(self._keys, self._beside([list(p) for p in path], -1)) if ks), None)
        above = keys[pos] if pos < len(keys) else next(
            (ks[0] for ks in map(self._keys, self._beside(path, 1)) if ks), None)  # (an empty leaf: the next)
        return below, above

    def _down(self, key: bytes) -> tuple[list[list[int]], Leaf]:
        """The branch pages from the root to the leaf that holds ``key`` (or would), as [pgno, child
        index, children], and that leaf."""
        pf = self.pf
        path: list[list[int]] = []
        pgno = self.meta.main.root
        for _ in range(MAX_DEPTH + 1):
            flags, n, txnid = self._header(pgno)
            if flags & P_LEAF:
                return path, Leaf(pgno, txnid, n)
            if not flags & P_BRANCH or n < 1:
                raise PageError(f"page {pgno} is not a branch page where one belongs")
            i = pf.branch_index(pgno, n, key)
            path.append([pgno, i, n])
            pgno = pf.child_pgno(pf.node(pgno, i))
        raise PageError("the tree is deeper than LMDB allows")

    def _beside(self, path: list[list[int]], step: int) -> Iterator[Leaf]:
        """The leaves after (``step`` 1) or before (-1) the one at the end of ``path`` (which this
        changes), nearest first."""
        pf = self.pf
        while path:
            top = path[-1]
            top[1] += step
            if not 0 <= top[1] < top[2]:
                path.pop()
                continue
            pgno = pf.child_pgno(pf.node(top[0], top[1]))
            while True:  # down the near side of that subtree
                if len(path) > MAX_DEPTH:
                    raise PageError("the tree is deeper than LMDB allows")
                flags, n, txnid = self._header(pgno)
                if flags & P_LEAF:
                    yield Leaf(pgno, txnid, n)
                    break
                if not flags & P_BRANCH or n < 1:
                    raise PageError(f"page {pgno} is not a branch page where one belongs")
                i = n - 1 if step < 0 else 0
                path.append([pgno, i, n])
                pgno = pf.child_pgno(pf.node(pgno, i))

    def _keys(self, leaf: Leaf) -> list[bytes]:
        return [self.key(off, ksize) for off, _, ksize, _ in self.nodes(leaf)]

    def runs(self, key: bytes = b"") -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """What :meth:`leaves` yields, as (page numbers, record counts) arrays: the children of one
        bottom branch page at a time (from the one that holds ``key``), their headers read and
        checked together. A leaf costs a Python step in :meth:`leaves`; here a run of ~100 does."""
        root = self.meta.main.root
        if root == P_INVALID:
            return
        if not LITTLE_ENDIAN_HOST:  # branch nodes are read in bulk as little-endian words
            for leaf in self.leaves(key):
                yield np.array([leaf.pgno], dtype=np.int64), np.array([leaf.n], dtype=np.int64)
            return
        pf = self.pf
        flags, n, _ = self._header(root)
        if flags & P_LEAF:
            yield np.array([root], dtype=np.int64), np.array([n], dtype=np.int64)
            return
        path: list[list[int]] = []  # [pgno, child index, children] above the bottom branch page
        pgno, first = root, -1
        for _ in range(MAX_DEPTH + 1):  # down by key to the bottom branch page
            if not flags & P_BRANCH or n < 1:
                raise PageError(f"page {pgno} is not a branch page where one belongs")
            first = pf.branch_index(pgno, n, key)
            child = pf.child_pgno(pf.node(pgno, first))
            cflags, cn, _ = self._header(child)
            if cflags & P_LEAF:
                break
            path.append([pgno, first, n])
            pgno, flags, n = child, cflags, cn
        else:
            raise PageError("the tree is deeper than LMDB allows")
        while True:
            yield self._bottom(pgno, n, first)
            while path and path[-1][1] + 1 >= path[-1][2]:
                path.pop()
            if not path:
                return
            top = path[-1]
            top[1] += 1
            pgno = pf.child_pgno(pf.node(top[0], top[1]))
            while True:  # down the leftmost side to the next bottom branch page
                if len(path) > MAX_DEPTH:
                    raise PageError("the tree is deeper than LMDB allows")
                flags, n, _ = self._header(pgno)
                if not flags & P_BRANCH or n < 1:
                    raise PageError(f"page {pgno} is not a branch page where one belongs")
                child = pf.child_pgno(pf.node(pgno, 0))
                if self._header(child)[0] & P_LEAF:
                    first = 0
                    break
                path.append([pgno, 0, n])
                pgno = child

    def _bottom(self, pgno: int, n: int, first: int) -> tuple[np.ndarray, np.ndarray]:
        """Children ``first``.. of bottom branch page ``pgno`` (``n`` nodes): page numbers and
        record counts, each checked to be a leaf inside the snapshot's pages."""
        pf = self.pf
        kids = pf.branch_nodes(np.array([pgno], dtype=np.int64), np.array([n], dtype=np.int64))[4][first:]
        if not ((kids >= NUM_METAS) & (kids <= self.limit) & (kids < pf.pages_in_file)).all():
            raise PageError(f"branch page {pgno} points outside the file's pages")
        flags, ns = pf.checked_headers(kids)
        if not (flags & P_LEAF).all():
            raise PageError(f"branch page {pgno} has children that are not leaves next to leaves")
        pf.page_reads += len(kids)
        return kids, ns

    def nodes(self, leaf: Leaf) -> Iterator[tuple[int, int, int, int]]:
        """(offset, flags, key size, value size) of each node of ``leaf``."""
        pf = self.pf
        end = (leaf.pgno + 1) * pf.page_size
        buf = pf.buf
        for i in range(leaf.n):
            off = pf.node(leaf.pgno, i)
            lo, hi, nflags, ksize = _NODE.unpack_from(buf, off)
            if off + 8 + ksize > end:
                raise PageError(f"page {leaf.pgno}: a key runs past the end of its page")
            if nflags & (F_SUBDATA | F_DUPDATA):
                raise PageError(f"page {leaf.pgno}: a named or DUPSORT database record in the main tree")
            yield off, nflags, ksize, lo | (hi << 16)

    def key(self, off: int, ksize: int) -> bytes:
        return bytes(self.pf.buf[off + 8:off + 8 + ksize])

    def value(self, leaf: Leaf, off: int) -> bytes:
        return self.pf.read_value(leaf.pgno, off, self.limit)

    def inline(self, off: int, nflags: int, ksize: int, dsize: int) -> bytes | None:
        """The value's bytes when stored on the leaf (None: on overflow pages)."""
        if nflags & F_BIGDATA:
            return None
        doff = off + 8 + ((ksize + 1) & ~1 if self.pf.has_txnid else ksize)
        return bytes(self.pf.buf[doff:doff + dsize])

    def page(self, leaf: Leaf) -> bytes:
        base = leaf.pgno * self.pf.page_size
        return bytes(self.pf.buf[base:base + self.pf.page_size])



class LeafBatch:
    """The nodes of many leaves at once (numpy over the file's mapping), checked against their
    pages: where each key and value lies, so that a search over whole pages finds the records it
    hit, and the first byte of every value. Addresses are byte offsets into the file."""

    def __init__(self, walk: LeafWalk, leaves: list[Leaf] | tuple[np.ndarray, np.ndarray]):
        """``leaves``: Leaf records, or (page numbers, record counts) as :meth:`LeafWalk.runs` gives."""
        pf = walk.pf
        ps, h, pb = pf.page_size, pf.hdrsz, pf.pagebase
        if isinstance(leaves, tuple):
            pg, ns = leaves
        else:
            ns = np.array([lf.n for lf in leaves], dtype=np.int64)
            pg = np.array([lf.pgno for lf in leaves], dtype=np.int64)
        self.ns = ns
        total = int(ns.sum())
        self.first = np.cumsum(ns) - ns  # index of each leaf's first node
        idx = np.arange(total) - np.repeat(self.first, ns)
        bases = np.repeat(pg * ps, ns)
        ptr = pf.u16s(bases + h + 2 * idx) + pb
        if total and ((ptr < h) | (ptr + 8 > ps) | (ptr & 1 == 1)).any():
            raise PageError("a leaf node lies outside its page")
        off = bases + ptr
        if LITTLE_ENDIAN_HOST:  # the node's header as one word: one gather of scattered nodes, not four
            word = pf.u64s(off)
            ds = (word & np.uint64(0xFFFF_FFFF)).astype(np.int64)
            flags = ((word >> np.uint64(32)) & np.uint64(0xFFFF)).astype(np.int64)
            ks = (word >> np.uint64(48)).astype(np.int64)
        else:
            ks = pf.u16s(off + 6)
            flags = pf.u16s(off + 4)
            ds = pf.u16s(off) | (pf.u16s(off + 2) << 16)
        doff = off + 8 + (((ks + 1) & ~1) if pf.has_txnid else ks)
        big = (flags & F_BIGDATA) != 0
        end = np.where(big, doff + 8, doff + ds)
        if total and ((off + 8 + ks > bases + ps) | (end > bases + ps)).any():
            raise PageError("a key or value runs past the end of its leaf")
        if total and (flags & (F_SUBDATA | F_DUPDATA)).any():
            raise PageError("a named or DUPSORT database record in the main tree")
        self.off, self.ksize, self.dsize, self.doff, self.big, self.end = off, ks, ds, doff, big, end
        self.pg = pg
        self.pf = pf

    @cached_property
    def first_byte(self) -> np.ndarray:
        """The first byte of every value (-1 for an empty one)."""
        ps = self.pf.page_size
        bases = np.repeat(self.pg * ps, self.ns)
        return np.where(self.dsize > 0, self.pf.np[np.minimum(self.doff, bases + ps - 1)], -1)

    @cached_property
    def _order(self) -> np.ndarray:
        return np.argsort(self.off, kind="stable")

    @cached_property
    def _starts(self) -> np.ndarray:
        return self.off[self._order]

    def nodes_at(self, positions: Any) -> np.ndarray:
        """Indices of the nodes whose key or value holds each file position."""
        pos = np.asarray(positions, dtype=np.int64)
        if not len(pos):
            return np.zeros(0, dtype=np.int64)
        i = np.searchsorted(self._starts, pos, side="right") - 1
        ok = i >= 0
        nodes = self._order[i[ok]]
        return nodes[pos[ok] < self.end[nodes]]

    def byte_positions(self, value: int) -> np.ndarray:
        """File positions of every byte ``value`` in these leaves."""
        ps = self.pf.page_size
        if not len(self.pg):
            return np.zeros(0, dtype=np.int64)
        mat = self.pf.np[(self.pg * ps)[:, None] + np.arange(ps)]
        hit = np.flatnonzero(mat == value)
        return self.pg[hit // ps] * ps + hit % ps

    def key(self, i: int) -> bytes:
        o = int(self.off[i])
        return bytes(self.pf.buf[o + 8:o + 8 + int(self.ksize[i])])

    def slots(self) -> np.ndarray:
        """Each node's slot (its key's first 2 bytes, big-endian), -1 for a key shorter than that."""
        b, last = self.pf.np, len(self.pf.np) - 1
        kaddr = self.off + 8
        hi = b[np.minimum(kaddr, last - 1)].astype(np.int64)
        return np.where(self.ksize >= 2, (hi << 8) | b[np.minimum(kaddr + 1, last)], -1)

    def largest(self, mask: np.ndarray, n: int, best: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
        """``best`` (value bytes, key) merged with the ``n`` largest values among the nodes in ``mask``,
        largest first (ties in key order). Keys are read for those few only; no value is read."""
        idx = np.flatnonzero(mask)
        if not len(idx):
            return best
        k = min(n, len(idx))
        top = idx[np.argpartition(-self.dsize[idx], k - 1)[:k]]
        cand = best + [(int(self.dsize[i]), self.key(int(i))) for i in top]
        cand.sort(key=lambda p: (-p[0], p[1]))
        return cand[:n]

    def value(self, walk: LeafWalk, j: int, i: int) -> bytes:
        """Node ``i`` (of leaf ``j`` of the batch): its whole value, inline or on overflow pages."""
        return walk.pf.read_value(int(self.pg[j]), int(self.off[i]), walk.limit)


def leaf_groups(leaves: Iterable[Leaf], size: int) -> Iterator[list[Leaf]]:
    """Non-empty leaves in groups of ``size`` (the last one smaller), in key order: the unit a
    budgeted scan reads in one :class:`LeafBatch` before it looks at the clock."""
    group: list[Leaf] = []
    for leaf in leaves:
        if leaf.n:
            group.append(leaf)
            if len(group) >= size:
                yield group
                group = []
    if group:
        yield group


def largest_in_slot(walk: LeafWalk, slot: int, n: int, budget_s: float) -> tuple[list[tuple[int, bytes]], bool]:
    """The ``n`` largest values of one slot as (bytes, full key), largest first, and whether the time
    budget cut the scan short. Reads the node headers of the slot's leaves only (no value)."""
    deadline = time.perf_counter() + budget_s
    best: list[tuple[int, bytes]] = []
    for group in leaf_groups(walk.leaves(slot_prefix(slot)), 256):
        lb = LeafBatch(walk, group)
        slots = lb.slots()
        best = lb.largest(slots == slot, n, best)
        if (slots > slot).any():
            return best, False
        if time.perf_counter() > deadline:
            return best, True
    return best, False
