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

import hashlib
import struct
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from zlmdb_inspect.storage.leaves import Leaf, LeafBatch, LeafWalk, leaf_groups
from zlmdb_inspect.storage.pageformat import F_BIGDATA, U16, Meta, PageError, PageFile

if TYPE_CHECKING:
    from collections.abc import Iterator

    from zlmdb_inspect.storage.inspector import Inspector

FIRST_KEYS = 5  # differing keys kept per table, in key order
SHORT_KEY_SLOT = -1  # keys shorter than 2 bytes carry no slot

_NODE = struct.Struct("<IHH")  # data size, flags, key size (little-endian hosts; the walk's assumption)
_LEN = struct.Struct(">I")


def _slot(key: bytes) -> int:
    return (key[0] << 8) | key[1] if len(key) >= 2 else SHORT_KEY_SLOT


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
        self.diff(_slot(key)).add(kind, key)


def _seen(txnids: list[int], txnid: int) -> None:
    if not txnids or txnids[-1] != txnid:
        txnids.append(txnid)


class _Side:
    """A position in one snapshot's leaves, from a key up to an end key, record by record or
    leaf by leaf. Valid only inside the read transaction it was made in."""

    def __init__(self, pf: PageFile, meta: Meta, start: bytes, end: bytes | None):
        self.pf, self.meta, self.end = pf, meta, end
        self.mm = pf._mm  # slices of the mapping are bytes (a copy: compared after nothing else)
        self.ps, self.h, self.pb = pf.page_size, pf.hdrsz, pf.pagebase
        self.pad = pf.has_txnid  # 1.0 aligns a node's data to 2 bytes
        self.big_possible = meta.main.overflow_pages > 0
        self.walk = LeafWalk(pf, meta)
        self._leaves = self.walk.leaves(start)
        self.leaf: Leaf | None = None
        self.i = 0
        self._ptrs: tuple[int, ...] = ()
        self._next_leaf()
        while self.leaf is not None and self._key_raw() < start:  # the first leaf may begin before it
            self.advance()

    def _next_leaf(self) -> None:
        for leaf in self._leaves:
            if leaf.n:
                self.leaf, self.i, self._ptrs = leaf, 0, ()
                return
        self.leaf = None

    def _node(self, i: int) -> int:
        """Offset of node ``i`` of the current leaf in the file, checked to lie inside its page."""
        leaf = self.leaf
        assert leaf is not None
        if not self._ptrs:
            base = leaf.pgno * self.ps
            self._ptrs = struct.unpack_from(f"<{leaf.n}H", self.mm, base + self.h)
        off = self._ptrs[i] + self.pb
        if off < self.h or off + 8 > self.ps:
            raise PageError(f"page {leaf.pgno} node {i} lies outside its page")
        return leaf.pgno * self.ps + off

    def _key_raw(self) -> bytes:
        off = self._node(self.i)
        ks = U16.unpack_from(self.mm, off + 6)[0]
        assert self.leaf is not None
        if off + 8 + ks > (self.leaf.pgno + 1) * self.ps:
            raise PageError(f"page {self.leaf.pgno}: a key runs past the end of its page")
        return self.mm[off + 8:off + 8 + ks]

    def key(self) -> bytes | None:
        """The current record's key; None at the end of the range."""
        if self.leaf is None:
            return None
        k = self._key_raw()
        if self.end is not None and k >= self.end:
            self.leaf = None
            return None
        return k

    def value(self) -> bytes:
        assert self.leaf is not None
        off = self._node(self.i)
        ds, flags, ks = _NODE.unpack_from(self.mm, off)
        if flags & F_BIGDATA:
            return self.pf.read_value(self.leaf.pgno, off, self.meta.last_pgno)
        doff = off + 8 + ((ks + 1) & ~1 if self.pad else ks)
        if doff + ds > (self.leaf.pgno + 1) * self.ps:
            raise PageError(f"page {self.leaf.pgno}: a value runs past the end of its page")
        return self.mm[doff:doff + ds]

    def advance(self) -> None:
        assert self.leaf is not None
        self.i += 1
        if self.i >= self.leaf.n:
            self._next_leaf()

    # -- whole leaves --------------------------------------------------------------

    def at_leaf_start(self) -> bool:
        return self.leaf is not None and self.i == 0

    def last_key_in_range(self) -> bool:
        """The current leaf's last record lies before the end key."""
        if self.end is None:
            return True
        assert self.leaf is not None
        i = self.i
        self.i = self.leaf.n - 1
        try:
            return self._key_raw() < self.end
        finally:
            self.i = i

    def body(self) -> tuple[int, bytes, bytes]:
        """The leaf's node count, node pointers and node bytes: equal on two leaves of one
        layout, they hold the same records (except values on overflow pages: see ``bigs``)."""
        leaf = self.leaf
        assert leaf is not None
        base = leaf.pgno * self.ps
        upper = U16.unpack_from(self.mm, base + self.h - 2)[0] + self.pb
        return leaf.n, self.mm[base + self.h:base + self.h + 2 * leaf.n], self.mm[base + upper:base + self.ps]

    def bigs(self) -> list[bytes]:
        """The values of the current leaf's overflow records, in node order."""
        if not self.big_possible:
            return []
        assert self.leaf is not None
        out = []
        for i in range(self.leaf.n):
            off = self._node(i)
            if U16.unpack_from(self.mm, off + 4)[0] & F_BIGDATA:
                out.append(self.pf.read_value(self.leaf.pgno, off, self.meta.last_pgno))
        return out

    def skip_leaf(self) -> int:
        assert self.leaf is not None
        n = self.leaf.n - self.i
        self._next_leaf()
        return n


def _chunk(res: Comparison, a: _Side, b: _Side, chunk_s: float) -> bytes | None:
    """Compare from where both sides stand until the end (None) or the time is up: then the key
    to resume at (every key before it was compared on both sides, none from it on)."""
    same_layout = a.pf.format == b.pf.format and a.ps == b.ps
    deadline = time.perf_counter() + chunk_s
    steps = 0
    while True:
        steps += 1
        if steps & 63 == 0 and time.perf_counter() > deadline:
            ka, kb = a.key(), b.key()
            if ka is None and kb is None:
                return None
            return kb if ka is None else ka if kb is None else min(ka, kb)
        if same_layout and a.at_leaf_start() and b.at_leaf_start() and a.body() == b.body() \
                and a.last_key_in_range() and b.last_key_in_range() and a.bigs() == b.bigs():
            n = a.skip_leaf()
            b.skip_leaf()
            res.records_a += n
            res.records_b += n
            res.leaves_equal += 1
            continue
        ka, kb = a.key(), b.key()
        if ka is None and kb is None:
            return None
        if kb is None or (ka is not None and ka < kb):
            res.add("only_in_a", ka)  # type: ignore[arg-type]
            res.records_a += 1
            res.records_merged += 1
            a.advance()
        elif ka is None or kb < ka:
            res.add("only_in_b", kb)
            res.records_b += 1
            res.records_merged += 1
            b.advance()
        else:
            if a.value() != b.value():
                res.add("changed", ka)
            res.records_a += 1
            res.records_b += 1
            res.records_merged += 2
            a.advance()
            b.advance()


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

            return ins_b.read(on_b)

        resume = ins_a.read(on_a)
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
    import numpy as np

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
                    s = _slot(k)
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

        resume = ins.read(body)
        first = False
    out.elapsed = time.perf_counter() - t0
    return out
