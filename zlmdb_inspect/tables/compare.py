"""Two databases compared record by record (keys and value bytes), and one database's checksums.

Why from the leaf pages: a cursor loop over both databases costs microseconds a record. Where
both files have one layout (format and page size) and a leaf of each holds the same node bytes,
the leaf's records are equal without being decoded: a compacting copy or a byte copy keeps its
leaves as they are. Elsewhere (0.9 against 1.0, another page size, leaves split differently, a
record changed) the records are merged by key; values on overflow pages are compared by bytes.

Both sides are read in short read transactions (one on each side at once, ``chunk_s`` long), the
next one resumed by key: never one transaction over a whole table. Each chunk reads the snapshot
current when it starts, so the txnids each side was read at are part of the result.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import struct
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from zlmdb_inspect.storage.leaves import Leaf, LeafBatch, LeafWalk, leaf_groups
from zlmdb_inspect.storage.pageformat import F_BIGDATA, SHORT_KEY_SLOT, U16, Meta, PageError, PageFile, slot_of

if TYPE_CHECKING:
    from collections.abc import Iterator

    from zlmdb_inspect.storage.inspector import Inspector

FIRST_KEYS = 5  # differing keys kept per table, in key order
BLOCK = 64  # records merged by key are first compared this many at a time (lists of bytes, in C)

_LEN = struct.Struct(">I")


@dataclass
class TableDiff:
    """What differs in one slot: counts, and the first differing keys (full keys) with how."""

    slot: int
    changed: int = 0
    only_in_a: int = 0
    only_in_b: int = 0
    first: list[tuple[str, bytes]] = field(default_factory=list)  # ("changed"|"only_in_a"|"only_in_b", key)

    @property
    def differs(self) -> bool:
        return bool(self.changed or self.only_in_a or self.only_in_b)

    def add(self, kind: str, key: bytes) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.first) < FIRST_KEYS:
            self.first.append((kind, key))


@dataclass
class Comparison:
    """The records of two key ranges compared: differences per slot, and how it was read."""

    diffs: dict[int, TableDiff] = field(default_factory=dict)
    records_a: int = 0
    records_b: int = 0
    txnids_a: list[int] = field(default_factory=list)  # the snapshot each chunk read (distinct, in order)
    txnids_b: list[int] = field(default_factory=list)
    chunks: int = 0
    leaves_equal: int = 0  # leaf pairs found equal as pages (their records not decoded)
    records_merged: int = 0  # records compared one by one (both sides)
    elapsed: float = 0.0

    @property
    def identical(self) -> bool:
        return not any(d.differs for d in self.diffs.values())

    def diff(self, slot: int) -> TableDiff:
        d = self.diffs.get(slot)
        if d is None:
            d = self.diffs[slot] = TableDiff(slot)
        return d

    def add(self, kind: str, key: bytes) -> None:
        self.diff(slot_of(key)).add(kind, key)


def _seen(txnids: list[int], txnid: int) -> None:
    if not txnids or txnids[-1] != txnid:
        txnids.append(txnid)


class _Side:
    """A position in one snapshot's leaves, from a key up to an end key: leaf by leaf (pages
    compared as they are) or record by record over a batch of leaves read at once. Valid only
    inside the read transaction it was made in.

    A record is compared as one slice of the mapping, its whole node (sizes, flags, key, value):
    two equal nodes hold the same key and value in either format, and one slice a record costs
    half of a key's and a value's. Unequal nodes are not yet a difference (a 1.0 file pads an odd
    key, a value may lie on overflow pages): those records are compared by key and value bytes."""

    GROUP = 64  # leaves read in one batch

    def __init__(self, pf: PageFile, meta: Meta, start: bytes, end: bytes | None):
        self.pf, self.meta, self.end = pf, meta, end
        self.mm = pf._mm  # slices of the mapping are bytes (copies)
        self.ps, self.h, self.pb = pf.page_size, pf.hdrsz, pf.pagebase
        self.big_possible = meta.main.overflow_pages > 0
        self.walk = LeafWalk(pf, meta)
        self._runs = self.walk.runs(start)
        self._rest: tuple[np.ndarray, np.ndarray] = (np.zeros(0, dtype=np.int64),) * 2  # a run's leaves not yet batched
        self.pg: list[int] = []  # the batch's leaves: page numbers and record counts
        self.ns: list[int] = []
        self.first: list[int] = []  # each leaf's first node's index in the batch
        self.j = 0  # the current leaf in the batch
        self.pos = 0  # the current record's index in the batch
        self.done = False
        self._nodes: list[bytes | tuple[bytes, bytes]] | None = None
        self._offs: list[int] = []
        self._ks: list[int] = []
        self._doffs: list[int] | None = None  # value offsets and sizes: read when a value is
        self._ds: list[int] | None = None
        self._big: set[int] = set()
        self.stop = 0  # records of the batch before the end key
        self._next_group()
        if not self.done:
            self.nodes()
            if not self.done:  # the first leaf may begin before it
                self._goto(bisect.bisect_left(range(self.stop), start, key=self.key_at))

    def _next_group(self) -> None:
        """The next GROUP non-empty leaves (fewer at the end), from the bottom branch pages' runs."""
        pgs, nss, leaves = [], [], 0
        while leaves < self.GROUP:
            if not len(self._rest[0]):
                run = next(self._runs, None)
                if run is None:
                    break
                keep = run[1] > 0
                self._rest = (run[0][keep], run[1][keep])
            take = self.GROUP - leaves
            pgs.append(self._rest[0][:take])
            nss.append(self._rest[1][:take])
            leaves += len(pgs[-1])
            self._rest = (self._rest[0][take:], self._rest[1][take:])
        if not leaves:
            self.done = True
            return
        self._arrays = (np.concatenate(pgs), np.concatenate(nss))
        self.pg, self.ns = self._arrays[0].tolist(), self._arrays[1].tolist()
        self.j, self.pos, self._nodes = 0, 0, None
        self.first = list(itertools.accumulate(self.ns, initial=0))
        self.stop = self.first[-1]

    def _goto(self, pos: int) -> None:
        """Move to record ``pos`` of the batch (its end: the next batch; past the end key: done)."""
        if self._nodes is not None and pos >= self.stop < self.first[-1]:
            self.done = True
            return
        if pos >= self.first[-1]:
            self._next_group()
            return
        self.pos = pos
        self.j = bisect.bisect_right(self.first, pos) - 1

    def nodes(self) -> list[bytes | tuple[bytes, bytes]]:
        """Each record of the batch as its node's bytes, or (key, value) for a value on overflow
        pages (its node holds a page number, which says nothing about the value)."""
        if self._nodes is None:
            lb = LeafBatch(self.walk, self._arrays)
            mm = self.mm
            self._lb = lb
            self._offs, self._ks = lb.off.tolist(), lb.ksize.tolist()
            self._doffs = self._ds = None
            nodes: list[bytes | tuple[bytes, bytes]] = [mm[o:e] for o, e in zip(self._offs, lb.end.tolist())]
            big = np.flatnonzero(lb.big).tolist()
            self._big = set(big)
            for i in big:
                nodes[i] = (self.key_at(i), lb.value(self.walk, bisect.bisect_right(self.first, i) - 1, i))
            self._nodes = nodes
            self.stop = len(nodes) if self.end is None else \
                bisect.bisect_left(range(len(nodes)), self.end, key=self.key_at)
            if self.pos >= self.stop:
                self.done = True
        return self._nodes

    def key_at(self, i: int) -> bytes:
        """The key of record ``i`` of the batch (after :meth:`nodes`)."""
        o = self._offs[i]
        return self.mm[o + 8:o + 8 + self._ks[i]]

    def value_at(self, i: int) -> bytes:
        """The value of record ``i`` of the batch (after :meth:`nodes`), read whole."""
        if i in self._big:
            node = self.nodes()[i]
            assert isinstance(node, tuple)
            return node[1]
        if self._doffs is None or self._ds is None:
            self._doffs, self._ds = self._lb.doff.tolist(), self._lb.dsize.tolist()
        d = self._doffs[i]
        return self.mm[d:d + self._ds[i]]

    def key(self) -> bytes | None:
        """The current record's key; None at the end of the range."""
        if self.done:
            return None
        self.nodes()
        return None if self.done else self.key_at(self.pos)

    def leaf_end(self) -> int:
        """Index in the batch after the current leaf's last record."""
        return self.first[self.j + 1]

    # -- whole leaves --------------------------------------------------------------

    def at_leaf_start(self) -> bool:
        return not self.done and self.pos == self.first[self.j]

    def _leaf_key(self, pgno: int, i: int) -> bytes:
        base = pgno * self.ps
        off = U16.unpack_from(self.mm, base + self.h + 2 * i)[0] + self.pb
        if off < self.h or off + 8 > self.ps:
            raise PageError(f"page {pgno} node {i} lies outside its page")
        ks = U16.unpack_from(self.mm, base + off + 6)[0]
        if off + 8 + ks > self.ps:
            raise PageError(f"page {pgno}: a key runs past the end of its page")
        return self.mm[base + off + 8:base + off + 8 + ks]

    def last_key_in_range(self) -> bool:
        """The current leaf's last record lies before the end key."""
        if self.end is None:
            return True
        return self._leaf_key(self.pg[self.j], self.ns[self.j] - 1) < self.end

    def body(self) -> tuple[int, bytes, bytes]:
        """The leaf's node count, node pointers and node bytes: equal on two leaves of one
        layout, they hold the same records (except values on overflow pages: see ``bigs``)."""
        pgno, n = self.pg[self.j], self.ns[self.j]
        base = pgno * self.ps
        upper = U16.unpack_from(self.mm, base + self.h - 2)[0] + self.pb
        return n, self.mm[base + self.h:base + self.h + 2 * n], self.mm[base + upper:base + self.ps]

    def bigs(self) -> list[bytes]:
        """The values of the current leaf's overflow records, in node order."""
        if not self.big_possible:
            return []
        pgno = self.pg[self.j]
        out = []
        for i in range(self.ns[self.j]):
            off = self.pf.node(pgno, i)
            if U16.unpack_from(self.mm, off + 4)[0] & F_BIGDATA:
                out.append(self.pf.read_value(pgno, off, self.meta.last_pgno))
        return out

    def skip_leaf(self) -> int:
        n = self.ns[self.j]
        self._goto(self.leaf_end())
        return n


def _chunk(res: Comparison, a: _Side, b: _Side, chunk_s: float) -> bytes | None:
    """Compare from where both sides stand until the end (None) or the time is up: then the key
    to resume at (every key before it was compared on both sides, none from it on)."""
    same_layout = a.pf.format == b.pf.format and a.ps == b.ps
    deadline = time.perf_counter() + chunk_s
    add = res.add
    moved = False  # a chunk compares something before it looks at the clock (no chunk without progress)
    while True:
        if moved and time.perf_counter() > deadline:
            ka, kb = a.key(), b.key()
            if ka is None and kb is None:
                return None
            return kb if ka is None else ka if kb is None else min(ka, kb)
        moved = True
        if a.done or b.done:
            side, kind = (b, "only_in_b") if a.done else (a, "only_in_a")
            if side.done:
                return None
            side.nodes()
            if side.done:
                continue
            for i in range(side.pos, side.stop):
                add(kind, side.key_at(i))
            n = side.stop - side.pos
            res.records_merged += n
            if side is a:
                res.records_a += n
            else:
                res.records_b += n
            side._goto(side.stop)
            continue
        if same_layout and a.at_leaf_start() and b.at_leaf_start() and a.body() == b.body() \
                and a.last_key_in_range() and b.last_key_in_range() and a.bigs() == b.bigs():
            n = a.skip_leaf()
            b.skip_leaf()
            res.records_a += n
            res.records_b += n
            res.leaves_equal += 1
            continue
        # merge by key over the batches, to the end of a leaf (one layout: pages may line up again)
        na_, nb_ = a.nodes(), b.nodes()
        if a.done or b.done:
            continue
        i, j = a.pos, b.pos
        ei = a.leaf_end() if same_layout else a.stop
        ej = b.leaf_end() if same_layout else b.stop
        ei, ej = min(ei, a.stop), min(ej, b.stop)
        i0, j0 = i, j
        while i < ei and j < ej:
            n = min(ei - i, ej - j, BLOCK)
            if na_[i:i + n] == nb_[j:j + n]:  # equal nodes: equal keys and values (compared in C)
                i += n
                j += n
                continue
            for _ in range(n):  # record by record through a block that differs
                if i >= ei or j >= ej:
                    break
                ka, kb = a.key_at(i), b.key_at(j)
                if ka == kb:
                    if na_[i] != nb_[j] and a.value_at(i) != b.value_at(j):
                        add("changed", ka)
                    i += 1
                    j += 1
                elif ka < kb:
                    add("only_in_a", ka)
                    i += 1
                else:
                    add("only_in_b", kb)
                    j += 1
        res.records_a += i - i0
        res.records_b += j - j0
        res.records_merged += i - i0 + j - j0
        a._goto(i)
        b._goto(j)


def compare(ins_a: Inspector, ins_b: Inspector, start: bytes = b"", end: bytes | None = None,
            chunk_s: float = 0.02) -> Comparison:
    """Every record with ``start`` <= key < ``end`` (None: to the last) of two databases compared,
    in chunks of one short read transaction on each side; :class:`PageError` on damage."""
    res = Comparison()
    t0 = time.perf_counter()
    resume: bytes | None = start
    while resume is not None:
        at = resume

        def on_a(txn_a, pf_a: PageFile, meta_a: Meta, at: bytes = at) -> bytes | None:
            def on_b(txn_b, pf_b: PageFile, meta_b: Meta) -> bytes | None:
                _seen(res.txnids_a, meta_a.txnid)
                _seen(res.txnids_b, meta_b.txnid)
                return _chunk(res, _Side(pf_a, meta_a, at, end), _Side(pf_b, meta_b, at, end), chunk_s)

            return ins_b.read(on_b, bounded=True)  # pages only, both sides

        resume = ins_a.read(on_a, bounded=True)
        res.chunks += 1
    res.elapsed = time.perf_counter() - t0
    return res


# -- one database's checksums ------------------------------------------------------------

@dataclass
class TableSum:
    """SHA-256 over a slot's records in key order: for each, the key after the slot prefix and
    the value, each preceded by its length as 4 big-endian bytes."""

    slot: int
    records: int = 0
    sha: hashlib._Hash = field(default_factory=hashlib.sha256)

    @property
    def hexdigest(self) -> str:
        return self.sha.hexdigest()


@dataclass
class Checksums:
    sums: dict[int, TableSum] = field(default_factory=dict)
    txnids: list[int] = field(default_factory=list)  # the snapshot each chunk read (distinct, in order)
    elapsed: float = 0.0


def _records(walk: LeafWalk, group: list[Leaf]) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) of every record of ``group``, read many leaves at once."""
    lb = LeafBatch(walk, group)
    mm = walk.pf._mm
    big = lb.big.tolist()
    for j, (o, k, d, n, bg) in enumerate(zip(lb.off.tolist(), lb.ksize.tolist(), lb.doff.tolist(),
                                             lb.dsize.tolist(), big)):
        if bg:
            leaf = int(_leaf_of(lb, j))
            yield mm[o + 8:o + 8 + k], lb.value(walk, leaf, j)
        else:
            yield mm[o + 8:o + 8 + k], mm[d:d + n]


def _leaf_of(lb: LeafBatch, i: int) -> int:

    return int(np.searchsorted(lb.first, i, side="right") - 1)


def checksums(ins: Inspector, start: bytes = b"", end: bytes | None = None, chunk_s: float = 0.02) -> Checksums:
    """Per slot, SHA-256 over its records (see :class:`TableSum`) with ``start`` <= key < ``end``,
    in short read transactions resumed by key."""
    out = Checksums()
    t0 = time.perf_counter()
    resume: bytes | None = start
    first = True
    while resume is not None:
        at, skip_at = resume, not first

        def body(txn, pf: PageFile, meta: Meta, at: bytes = at, skip_at: bool = skip_at) -> bytes | None:
            _seen(out.txnids, meta.txnid)
            t = time.perf_counter()
            walk = LeafWalk(pf, meta)
            last: bytes | None = None
            for group in leaf_groups(walk.leaves(at), 64):
                for k, v in _records(walk, group):
                    if k < at or (skip_at and k == at):
                        continue
                    if end is not None and k >= end:
                        return None
                    s = slot_of(k)
                    ts = out.sums.get(s)
                    if ts is None:
                        ts = out.sums[s] = TableSum(s)
                    kk = k[2:] if s != SHORT_KEY_SLOT else k
                    ts.sha.update(_LEN.pack(len(kk)) + kk + _LEN.pack(len(v)) + v)
                    ts.records += 1
                    last = k
                if last is not None and time.perf_counter() - t > chunk_s:
                    return last
            return None

        resume = ins.read(body, bounded=True)  # pages only
        first = False
    out.elapsed = time.perf_counter() - t0
    return out
