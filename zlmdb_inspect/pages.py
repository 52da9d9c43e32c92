"""A bounds-checked reader of LMDB's on-disk pages (formats 0.9 and 1.0).

Counting records per zlmdb slot through a cursor visits every key; the B-tree
already knows most of the answer. A leaf whose key range lies inside one slot
(its bounds come from the separator keys in its parent) contributes the entry
count in its page header, so keys are read only on leaves where one slot ends
and the next begins. The layout follows zlmdb's vendored
``zlmdb/_lmdb_vendor/verify.py``.

Every page number and offset is checked against the file before it is read:
the file is memory-mapped, and touching a mapping past the end of a truncated
file kills the process with SIGBUS. Anything out of bounds raises
:class:`PageError`, which callers turn into a note or a "damaged" finding.
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
from dataclasses import dataclass, field

import numpy as np

MDB_MAGIC = 0xBEEFC0DE
NUM_METAS = 2
MAX_DEPTH = 32
P_INVALID = (1 << 64) - 1

P_BRANCH = 0x01
P_LEAF = 0x02
P_OVERFLOW = 0x04
P_META = 0x08
P_LEAF2 = 0x20

F_BIGDATA = 0x01
F_SUBDATA = 0x02
F_DUPDATA = 0x04

MDB_DUPSORT = 0x04

#: Keys shorter than two bytes carry no slot; their records are tallied here.
SHORT_KEY_SLOT = -1

_E = "<" if sys.byteorder == "little" else ">"
_U16 = struct.Struct(_E + "H")
_U32 = struct.Struct(_E + "I")
_U64 = struct.Struct(_E + "Q")
_CHILD = struct.Struct(_E + "3H")
_LITTLE = sys.byteorder == "little"  # the vectorised walk reads little-endian fields

_KINDS = P_BRANCH | P_LEAF | P_OVERFLOW | P_META | P_LEAF2

# Page-header size -> (format name, data version, pagebase, has txnid)
ENGINES = {16: ("0.9", 1, 0, False), 24: ("1.0", 3, 24, True)}


class PageError(Exception):
    """A page or record is not what the format allows (damage, or a foreign file)."""


@dataclass(frozen=True)
class DbRecord:
    """An MDB_db record: the root and counters of one B-tree."""

    flags: int
    depth: int
    branch_pages: int
    leaf_pages: int
    overflow_pages: int
    entries: int
    root: int

    @classmethod
    def parse(cls, buf, off: int) -> "DbRecord":
        flags, depth = _U16.unpack_from(buf, off + 4)[0], _U16.unpack_from(buf, off + 6)[0]
        b, l, o, e, r = struct.unpack_from(_E + "5Q", buf, off + 8)
        return cls(flags, depth, b, l, o, e, r)


@dataclass(frozen=True)
class Meta:
    """One of the two meta pages; the one with the higher txnid is current."""

    index: int
    txnid: int
    map_size: int
    last_pgno: int
    page_size: int
    free: DbRecord
    main: DbRecord


@dataclass
class SlotSpace:
    """Records and space of one slot (or of the short-key bucket)."""

    records: int = 0
    leaf_pages: float = 0.0  # a leaf shared by two slots is split by entries
    overflow_pages: int = 0
    overflow_bytes: int = 0
    value_bytes: int = 0  # inline + overflow value bytes, where nodes were read
    max_value: int = 0

    def add(self, other: "SlotSpace") -> None:
        self.records += other.records
        self.leaf_pages += other.leaf_pages
        self.overflow_pages += other.overflow_pages
        self.overflow_bytes += other.overflow_bytes
        self.value_bytes += other.value_bytes
        self.max_value = max(self.max_value, other.max_value)


@dataclass
class TreeSummary:
    """What a subtree holds, per slot. Immutable once cached."""

    slots: dict[int, SlotSpace] = field(default_factory=dict)
    branch_pages: int = 0
    leaf_pages: int = 0
    overflow_pages: int = 0
    entries: int = 0
    named_dbs: list[tuple[bytes, DbRecord]] = field(default_factory=list)

    def merge(self, other: "TreeSummary") -> None:
        for slot, sp in other.slots.items():
            mine = self.slots.get(slot)
            if mine is None:
                mine = self.slots[slot] = SlotSpace()
            mine.add(sp)
        self.branch_pages += other.branch_pages
        self.leaf_pages += other.leaf_pages
        self.overflow_pages += other.overflow_pages
        self.entries += other.entries
        self.named_dbs.extend(other.named_dbs)


@dataclass
class WalkResult:
    """Per-slot counts and space of the main tree, and the freelist."""

    summary: TreeSummary
    free_pages: int
    free_db_pages: int
    free_records: list[tuple[int, int]]  # (txnid that freed them, page count)
    page_reads: int
    cached_subtrees: int
    prefetched_pages: int = 0  # tree pages read ahead because they were not in memory
    prefetched_bytes: int = 0


class _Visited:
    """Pages reached in one walk: a bitmap over the file, so a page reached twice (a cycle, or
    damage) is caught without keeping a Python set of every leaf."""

    def __init__(self, pages: int) -> None:
        self._pages = pages
        self._bits: np.ndarray | None = None  # allocated on first use (zeroed lazily by the OS)
        self._count = 0

    def _map(self) -> np.ndarray:
        if self._bits is None:
            self._bits = np.zeros(self._pages, dtype=bool)
        return self._bits

    def add(self, pgno: int) -> bool:
        """Mark ``pgno``; False when it was marked already. Pages outside the file are the
        caller's to reject (its header read checks them)."""
        if not 0 <= pgno < self._pages:
            return True
        bits = self._map()
        if bits[pgno]:
            return False
        bits[pgno] = True
        self._count += 1
        return True

    def add_many(self, pgnos: np.ndarray) -> bool:
        """Mark pages (all inside the file); False when any was marked already or is repeated."""
        bits = self._map()
        bits[pgnos] = True
        count = int(np.count_nonzero(bits))
        ok = count == self._count + len(pgnos)
        self._count = count
        return ok


def _slot_of(key: bytes) -> int:
    return (key[0] << 8) | key[1] if len(key) >= 2 else SHORT_KEY_SLOT


class PageFile:
    """Read-only, bounds-checked view of a ``data.mdb`` file."""

    #: Gathers of more headers than this read the pages in file order.
    sort_above = 65536

    def __init__(self, path: str):
        self.path = path
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            self.file_size = os.fstat(fd).st_size
            if self.file_size < 64:
                raise PageError(f"data file is {self.file_size} bytes, too short for LMDB")
            self._mm = mmap.mmap(fd, self.file_size, prot=mmap.PROT_READ)
        finally:
            os.close(fd)
        self.buf = memoryview(self._mm)
        self.np = np.frombuffer(self._mm, dtype=np.uint8)
        self.np16 = np.frombuffer(self._mm, dtype=np.uint16, count=self.file_size // 2)
        self.np64 = np.frombuffer(self._mm, dtype=np.uint64, count=self.file_size // 8)
        self.hdrsz = self._detect_header()
        self.format, self.data_version, self.pagebase, self.has_txnid = ENGINES[self.hdrsz]
        m0 = self._read_meta(0, 0)
        self.page_size = m0.page_size
        if (self.page_size < 512 or self.page_size > 65536
                or self.page_size & (self.page_size - 1)):
            raise PageError(f"meta page 0 has an impossible page size {self.page_size}")
        self.metas = (m0, self._read_meta(1, self.page_size))
        self.pages_in_file = self.file_size // self.page_size
        # each page's first 16 (0.9) or 24 (1.0) header bytes as 64-bit words, indexed by pgno:
        # one gather reads a page's stored pgno, flags, lower and upper from one cache line
        self.np_headers = np.lib.stride_tricks.as_strided(
            self.np64, shape=(self.pages_in_file, self.hdrsz // 8), strides=(self.page_size, 8),
            writeable=False)
        self.page_reads = 0

    def reload_metas(self) -> None:
        """Read both meta pages again: a writer rewrites one at every commit."""
        self.metas = (self._read_meta(0, 0), self._read_meta(1, self.page_size))

    def close(self) -> None:
        self.np = self.np16 = self.np64 = self.np_headers = None  # type: ignore[assignment]
        self.buf.release()
        try:
            self._mm.close()
        except BufferError:  # a numpy view still alive; the GC closes it
            pass

    def _detect_header(self) -> int:
        for off in (16, 24):
            if _U32.unpack_from(self.buf, off)[0] == MDB_MAGIC:
                return off
        swapped = struct.unpack(("<" if _E == ">" else ">") + "I", struct.pack(_E + "I", MDB_MAGIC))[0]
        for off in range(0, 64, 4):
            word = _U32.unpack_from(self.buf, off)[0]
            if word == swapped:
                raise PageError("an LMDB file written on a machine of the other byte order; "
                                "LMDB files only open on the architecture that wrote them")
            if word == MDB_MAGIC:
                raise PageError(f"an LMDB file with a {off}-byte page header (a 32-bit build?), "
                                "which this inspector does not read")
        raise PageError("not an LMDB data file (no LMDB magic in the first meta page)")

    def _read_meta(self, index: int, psize: int) -> Meta:
        base = index * psize
        h = self.hdrsz
        if base + h + 136 > self.file_size:
            raise PageError(f"meta page {index} lies beyond the end of the file")
        flags = _U16.unpack_from(self.buf, base + h - 6)[0]
        if not flags & P_META:
            raise PageError(f"meta page {index} is not marked as a meta page")
        m = base + h
        magic, version = _U32.unpack_from(self.buf, m)[0], _U32.unpack_from(self.buf, m + 4)[0]
        if magic != MDB_MAGIC:
            raise PageError(f"meta page {index} has a bad magic number 0x{magic:08x}")
        if version != ENGINES[h][1]:
            raise PageError(f"meta page {index} has data version {version}, expected {ENGINES[h][1]}")
        free = DbRecord.parse(self.buf, m + 24)
        main = DbRecord.parse(self.buf, m + 72)
        last_pgno = _U64.unpack_from(self.buf, m + 120)[0]
        txnid = _U64.unpack_from(self.buf, m + 128)[0]
        mapsize = _U64.unpack_from(self.buf, m + 16)[0]
        psize = _U32.unpack_from(self.buf, m + 24)[0]  # mm_psize aliases free md_pad
        return Meta(index, txnid, mapsize, last_pgno, psize, free, main)

    def current_meta(self) -> Meta:
        self.reload_metas()
        m0, m1 = self.metas
        return m1 if m1.txnid > m0.txnid else m0

    def meta_for(self, txnid: int) -> Meta:
        """The meta page of the snapshot a read transaction with id ``txnid`` sees."""
        self.reload_metas()
        for m in self.metas:
            if m.txnid == txnid:
                return m
        raise PageError(f"no meta page carries txnid {txnid}")

    # -- raw page access -------------------------------------------------

    def u16s(self, addrs: np.ndarray) -> np.ndarray:
        """The native 16-bit fields at byte addresses ``addrs`` (checked by the caller), as int64."""
        if (addrs & 1).any():  # LMDB aligns nodes to 2 bytes; a damaged page may not
            return self.np[addrs].astype(np.int64) | (self.np[addrs + 1].astype(np.int64) << 8)
        return self.np16[addrs >> 1].astype(np.int64)

    def pgnos_stored(self, bases: np.ndarray) -> np.ndarray:
        """The page number each page at byte offset ``bases`` (page-aligned) stores, as int64."""
        return self.np64[bases >> 3].astype(np.int64)

    def headers(self, pgnos: np.ndarray) -> tuple[np.ndarray, ...]:
        """(stored pgno, flags, lower, upper) of the pages ``pgnos`` (checked by the caller), as int64.

        Little-endian only, like the rest of the vectorised walk: the last header word holds
        pad, flags, lower and upper as four 16-bit fields.
        """
        if len(pgnos) > self.sort_above:  # in file order: neighbours share page-table and cache lines
            order = np.argsort(pgnos)
            hdr = np.empty((len(pgnos), self.np_headers.shape[1]), dtype=np.uint64)
            hdr[order] = self.np_headers[pgnos[order]]
        else:
            hdr = self.np_headers[pgnos]
        word = hdr[:, -1]
        return (hdr[:, 0].astype(np.int64), ((word >> 16) & 0xFFFF).astype(np.int64),
                ((word >> 32) & 0xFFFF).astype(np.int64), (word >> 48).astype(np.int64))

    def _check_pgno(self, pgno: int, limit: int, what: str) -> int:
        if pgno < NUM_METAS or pgno > limit or pgno >= self.pages_in_file:
            raise PageError(f"{what} points at page {pgno}, outside the file's pages 2..{min(limit, self.pages_in_file - 1)}")
        return pgno * self.page_size

    def header(self, pgno: int, limit: int, what: str) -> tuple[int, int, int, int]:
        """(flags, lower, upper, txnid) of a page, after checking its stored pgno."""
        base = self._check_pgno(pgno, limit, what)
        self.page_reads += 1
        h = self.hdrsz
        stored = _U64.unpack_from(self.buf, base)[0]
        if stored != pgno:
            raise PageError(f"page {pgno} stores page number {stored}")
        flags = _U16.unpack_from(self.buf, base + h - 6)[0]
        lower = _U16.unpack_from(self.buf, base + h - 4)[0]
        upper = _U16.unpack_from(self.buf, base + h - 2)[0]
        txnid = _U64.unpack_from(self.buf, base + 8)[0] if self.has_txnid else 0
        return flags, lower, upper, txnid

    def numkeys(self, pgno: int, lower: int, upper: int) -> int:
        floor = self.hdrsz - self.pagebase
        if lower < floor or lower > upper or upper > self.page_size - self.pagebase:
            raise PageError(f"page {pgno} has impossible bounds lower={lower} upper={upper}")
        return (lower - floor) >> 1

    def node(self, pgno: int, i: int) -> int:
        """Offset of node ``i`` of page ``pgno``, checked to lie inside the page."""
        base = pgno * self.page_size
        ptr = _U16.unpack_from(self.buf, base + self.hdrsz + 2 * i)[0]
        off = ptr + self.pagebase
        if off < self.hdrsz or off + 8 > self.page_size:
            raise PageError(f"page {pgno} node {i} lies outside its page")
        return base + off

    def child_pgno(self, off: int) -> int:
        """The page a branch node at ``off`` points to (48 bits in its size and flags fields)."""
        lo, hi, nfl = _CHILD.unpack_from(self.buf, off)
        return lo | (hi << 16) | (nfl << 32)

    def node_key(self, pgno: int, off: int) -> bytes:
        ksize = _U16.unpack_from(self.buf, off + 6)[0]
        end = off + 8 + ksize
        if end > (pgno + 1) * self.page_size:
            raise PageError(f"page {pgno}: a key runs past the end of its page")
        return bytes(self.buf[off + 8:end])

    def ovpages(self, dsize: int) -> int:
        return (self.hdrsz - 1 + dsize) // self.page_size + 1

    def read_value(self, pgno: int, off: int, limit: int, head: int | None = None) -> bytes:
        """The value of the leaf node at ``off`` (inline or on overflow pages); with ``head``,
        only its first ``head`` bytes (the rest of a large value is neither copied nor touched)."""
        nflags = _U16.unpack_from(self.buf, off + 4)[0]
        dsize = _U16.unpack_from(self.buf, off)[0] | (_U16.unpack_from(self.buf, off + 2)[0] << 16)
        ksize = _U16.unpack_from(self.buf, off + 6)[0]
        doff = off + 8 + ((ksize + 1) & ~1 if self.has_txnid else ksize)
        if nflags & F_BIGDATA:
            if doff + 8 > (pgno + 1) * self.page_size:
                raise PageError(f"page {pgno}: overflow reference runs past its page")
            op = _U64.unpack_from(self.buf, doff)[0]
            n = self.ovpages(dsize)
            start = self._check_pgno(op, limit, f"page {pgno}")
            if op + n > limit + 1 or op + n > self.pages_in_file:
                raise PageError(f"page {pgno}: overflow value runs past the file")
            self.page_reads += 1
            n = dsize if head is None else min(head, dsize)
            return bytes(self.buf[start + self.hdrsz:start + self.hdrsz + n])
        if doff + dsize > (pgno + 1) * self.page_size:
            raise PageError(f"page {pgno}: a value runs past the end of its page")
        return bytes(self.buf[doff:doff + (dsize if head is None else min(head, dsize))])


class TreeWalker:
    """Walks one snapshot's main tree and free database.

    With the 1.0 format every page carries the id of the transaction that wrote
    it, and a written page never changes: a subtree whose root has the same
    (page number, txnid) as in an earlier walk holds exactly what it held then.
    Those summaries are kept in ``cache`` so a refresh reads only what changed.
    The 0.9 format has no such stamp (a page can be freed and rewritten under
    the same number and bytes of its parent), so it is walked in full.
    """

    def __init__(self) -> None:
        self.cache: dict[tuple[int, int], TreeSummary] = {}
        self._seen: set[tuple[int, int]] = set()

    def _begin(self, pf: PageFile, meta: Meta) -> None:
        self._pf = pf
        self._limit = meta.last_pgno
        self._scan_all = bool(meta.main.flags & MDB_DUPSORT)
        # Overflow values are only seen in their leaf's nodes: read nodes when the tree has any.
        self._want_space = self.want_space and meta.main.overflow_pages > 0
        self._cache_hits = 0
        self._seen = set()
        self._visited = _Visited(pf.pages_in_file)
        self._defer = False
        self._pending: list[tuple[int, int]] = []
        self._acc = TreeSummary()

    def rank(self, pf: PageFile, meta: Meta, key: bytes) -> int:
        """How many entries of the main tree have keys below ``key`` (a record's position).

        Descends to the leaf that holds ``key``, adding the entries of every subtree to the
        left: leaves by their header, branch subtrees by their (cached, on 1.0) summaries.
        """
        self._begin(pf, meta)
        if meta.main.root == P_INVALID:
            return 0
        if self._scan_all:
            raise PageError("positions are not counted in a DUPSORT main database")
        pgno, depth, below = meta.main.root, 1, 0
        while True:
            flags, lower, upper, _ = pf.header(pgno, self._limit, "a branch node")
            n = pf.numkeys(pgno, lower, upper)
            if flags & P_LEAF:
                lo, hi = 0, n
                while lo < hi:
                    mid = (lo + hi) // 2
                    if pf.node_key(pgno, pf.node(pgno, mid)) < key:
                        lo = mid + 1
                    else:
                        hi = mid
                return below + lo
            if not flags & P_BRANCH or depth >= meta.main.depth or n < 1:
                raise PageError(f"page {pgno} is not a branch page where one belongs")
            lo, hi = 1, n  # the last child whose separator is <= key (node 0 has none)
            while lo < hi:
                mid = (lo + hi) // 2
                if pf.node_key(pgno, pf.node(pgno, mid)) <= key:
                    lo = mid + 1
                else:
                    hi = mid
            chosen = lo - 1
            for i in range(chosen + 1):
                child = pf.child_pgno(pf.node(pgno, i))
                if i == chosen:
                    pgno = child
                    break
                below += self._entries(child, depth + 1, meta.main.depth)
            depth += 1

    def key_at(self, pf: PageFile, meta: Meta, index: int) -> bytes | None:
        """The key of the entry at 0-based ``index`` in the main tree (the inverse of :meth:`rank`)."""
        self._begin(pf, meta)
        if meta.main.root == P_INVALID or not 0 <= index < meta.main.entries:
            return None
        if self._scan_all:
            raise PageError("positions are not counted in a DUPSORT main database")
        pgno, depth = meta.main.root, 1
        while True:
            flags, lower, upper, _ = pf.header(pgno, self._limit, "a branch node")
            n = pf.numkeys(pgno, lower, upper)
            if flags & P_LEAF:
                if index >= n:
                    raise PageError(f"leaf {pgno} holds {n} entries, fewer than its parents count")
                return pf.node_key(pgno, pf.node(pgno, index))
            if not flags & P_BRANCH or depth >= meta.main.depth or n < 1:
                raise PageError(f"page {pgno} is not a branch page where one belongs")
            for i in range(n):
                child = pf.child_pgno(pf.node(pgno, i))
                size = self._entries(child, depth + 1, meta.main.depth)
                if index < size or i == n - 1:
                    pgno = child
                    break
                index -= size
            depth += 1

    def _entries(self, pgno: int, depth: int, max_depth: int) -> int:
        """Entries under one child: a leaf's header, or its subtree's (cached on 1.0) summary."""
        if depth == max_depth:
            _, lower, upper, _ = self._pf.header(pgno, self._limit, "a branch node")
            return self._pf.numkeys(pgno, lower, upper)
        self._visited = _Visited(self._pf.pages_in_file)  # each subtree is checked on its own
        return self._subtree(pgno, depth, max_depth).entries

    def walk(self, pf: PageFile, meta: Meta, read_free: bool = True) -> WalkResult:
        self._begin(pf, meta)
        reads0 = pf.page_reads
        ahead = None
        if self.prefetch and (not pf.has_txnid or not self.cache):  # a cached walk reads only what changed
            from zlmdb_inspect.prefetch import prefetch_tree

            ahead = prefetch_tree(pf, meta)
            if pf.has_txnid and _LITTLE and not self._scan_all:  # 0.9 walks read leaves in file order
                from zlmdb_inspect.prefetch import touch_leaves

                touch_leaves(pf, meta)
        summary = TreeSummary()
        if meta.main.root != P_INVALID:
            if meta.main.depth > MAX_DEPTH:
                raise PageError(f"main tree claims depth {meta.main.depth}")
            # Without a cache (0.9) every leaf is read: the bottom branch pages of the whole tree
            # are gathered first and their leaves read in large batches, in file order.
            self._defer = not pf.has_txnid and not self._scan_all and _LITTLE
            summary = self._subtree(meta.main.root, 1, meta.main.depth)
            if self._pending:
                self._run_batches(self._pending, [self._acc] * len(self._pending),
                                  self.batch_leaves_nodes if self._want_space else self.batch_leaves_deferred)
            self._defer, self._pending = False, []
            summary.merge(self._acc)
            self._acc = TreeSummary()
        if summary.entries != meta.main.entries:
            raise PageError(
                f"walked {summary.entries} entries but the meta page records {meta.main.entries}")
        if pf.has_txnid:  # keep only what this snapshot still uses
            self.cache = {k: v for k, v in self.cache.items() if k in self._seen}
        free_pages, free_db_pages, free_records = 0, 0, []
        if read_free:
            free_pages, free_db_pages, free_records = self._free_db(meta)
        return WalkResult(summary, free_pages, free_db_pages, free_records,
                          pf.page_reads - reads0, self._cache_hits,
                          ahead.pages if ahead else 0, ahead.bytes if ahead else 0)

    # -- main tree ---------------------------------------------------------

    def _subtree(self, pgno: int, depth: int, max_depth: int) -> TreeSummary:
        pf = self._pf
        if depth > max_depth:
            raise PageError(f"page {pgno} lies deeper than the tree's depth {max_depth}")
        if not self._visited.add(pgno):
            raise PageError(f"page {pgno} is reachable twice (a cycle or a shared page)")
        flags, lower, upper, txnid = pf.header(pgno, self._limit, "a branch node")
        key = (pgno, txnid)
        if pf.has_txnid:
            self._seen.add(key)
            hit = self.cache.get(key)
            if hit is not None and flags & P_BRANCH:
                self._cache_hits += 1
                return hit
        n = pf.numkeys(pgno, lower, upper)
        kind = flags & _KINDS
        if kind == P_LEAF:
            out = TreeSummary(leaf_pages=1)
            self._scan_leaf(pgno, n, out)
            return out
        if kind != P_BRANCH:
            raise PageError(f"page {pgno} has page flags 0x{flags:x} where a tree page belongs")
        if n < 1:
            raise PageError(f"branch page {pgno} has no children")
        out = TreeSummary(branch_pages=1)
        if depth + 1 == max_depth and not self._scan_all and _LITTLE:
            self._bottoms([(pgno, n)], [out])
        else:
            offs = [pf.node(pgno, i) for i in range(n)]
            kids = [pf.child_pgno(off) for off in offs]
            if depth + 1 == max_depth and not self._scan_all:  # separators bound the leaves' slots
                self._leaves([(kid, pf.node_key(pgno, off) if i else None)
                              for i, (kid, off) in enumerate(zip(kids, offs))], out)
            elif depth + 2 == max_depth and not self._scan_all and _LITTLE:
                self._bottom_level(kids, depth + 1, max_depth, out)
            else:
                for child in kids:
                    out.merge(self._subtree(child, depth + 1, max_depth))
        if pf.has_txnid:
            self.cache[key] = out
        return out

    def _leaves(self, children: list[tuple[int, bytes | None]], out: TreeSummary) -> None:
        """Children of a bottom branch page: header counts where the slot is known."""
        pf = self._pf
        last = len(children) - 1
        for i, (child, sep) in enumerate(children):
            if not self._visited.add(child):
                raise PageError(f"page {child} is reachable twice")
            flags, lower, upper, _ = pf.header(child, self._limit, "a branch node")
            if flags & _KINDS != P_LEAF:
                raise PageError(f"page {child} should be a leaf but has flags 0x{flags:x}")
            n = pf.numkeys(child, lower, upper)
            out.leaf_pages += 1
            slot = None
            if 0 < i < last:
                s1, s2 = _slot_of(sep), _slot_of(children[i + 1][1])
                if s1 == s2 and s1 != SHORT_KEY_SLOT:
                    slot = s1
            if slot is None or self._scan_all or self._want_space:
                self._scan_leaf(child, n, out)
                continue
            sp = out.slots.get(slot)
            if sp is None:
                sp = out.slots[slot] = SlotSpace()
            sp.records += n
            sp.leaf_pages += 1
            out.entries += n

    def _bottom_level(self, kids: list[int], depth: int, max_depth: int, out: TreeSummary) -> None:
        """The bottom branch pages under one page, vectorised together.

        One numpy pass per bottom branch page cost more in call overhead than in work
        (a 10M-record tree has about 1,800 of them); batching them makes a full walk
        cost tens of milliseconds, which is what a 0.9-format refresh pays every time.
        """
        pf = self._pf
        batch: list[tuple[int, int]] = []
        outs: list[TreeSummary] = []
        keys: list[tuple[int, int]] = []
        for child in kids:
            flags, lower, upper, txnid = pf.header(child, self._limit, "a branch node")
            if flags & _KINDS != P_BRANCH:  # not what belongs here: the general walk says why
                out.merge(self._subtree(child, depth, max_depth))
                continue
            if not self._visited.add(child):
                raise PageError(f"page {child} is reachable twice (a cycle or a shared page)")
            key = (child, txnid)
            if pf.has_txnid:
                self._seen.add(key)
                hit = self.cache.get(key)
                if hit is not None:
                    self._cache_hits += 1
                    out.merge(hit)
                    continue
                sub = TreeSummary(branch_pages=1)
            else:  # nothing is cached: add straight to the parent's (or the whole walk's) summary
                sub = self._acc if self._defer else out
                out.branch_pages += 1
            n = pf.numkeys(child, lower, upper)
            if n < 1:
                raise PageError(f"branch page {child} has no children")
            batch.append((child, n))
            outs.append(sub)
            keys.append(key)
        if self._defer:
            self._pending += batch
            return
        self._run_batches(batch, outs, self.batch_leaves_nodes if self._want_space else self.batch_leaves)
        if pf.has_txnid:
            for key, sub in zip(keys, outs):
                self.cache[key] = sub
                out.merge(sub)

    def _run_batches(self, batch: list[tuple[int, int]], outs: list[TreeSummary], limit: int) -> None:
        """:meth:`_bottoms` over bottom branch pages, in batches of at most ``limit`` leaves."""
        i = 0
        while i < len(batch):
            j, leaves = i, 0
            while j < len(batch) and (j == i or leaves + batch[j][1] <= limit):
                leaves += batch[j][1]
                j += 1
            self._bottoms(batch[i:j], outs[i:j])
            i = j

    def _bottoms(self, branches: list[tuple[int, int]], outs: list[TreeSummary]) -> None:
        """Bottom branch pages (pgno, children; headers checked) and their leaves' headers, at once.

        What the leaves under ``branches[j]`` hold is added to ``outs[j]``.
        """
        pf = self._pf
        ps, h, pb = pf.page_size, pf.hdrsz, pf.pagebase
        m = len(branches)
        bpg = np.array([b for b, _ in branches], dtype=np.int64)
        ns = np.array([n for _, n in branches], dtype=np.int64)
        total = int(ns.sum())
        br = np.repeat(np.arange(m), ns)  # each node's branch page
        idx = np.arange(total) - np.repeat(np.cumsum(ns) - ns, ns)  # its index in that page
        bbase = np.repeat(bpg * ps, ns)

        u16 = pf.u16s

        def first_bad(mask) -> int:
            return int(np.nonzero(mask)[0][0])

        ptrs = u16(bbase + h + 2 * idx) + pb
        bad = (ptrs < h) | (ptrs + 8 > ps)
        if bad.any():
            raise PageError(f"branch page {int(bpg[br[first_bad(bad)]])} has nodes outside its page")
        node = bbase + ptrs
        children = u16(node) | (u16(node + 2) << 16) | (u16(node + 4) << 32)
        ks = u16(node + 6)
        bad = ptrs + 8 + ks > ps
        if bad.any():
            raise PageError(f"branch page {int(bpg[br[first_bad(bad)]])}: a key runs past the end of its page")
        seps = self._slots_at(node, ks, bbase + ps - 1)
        limit = min(self._limit, pf.pages_in_file - 1)
        bad = (children < NUM_METAS) | (children > limit)
        if bad.any():
            k = first_bad(bad)
            raise PageError(f"branch page {int(bpg[br[k]])} points at page {int(children[k])}, "
                            f"outside the file's pages 2..{limit}")
        kids = children
        if not self._visited.add_many(children):
            raise PageError(f"a leaf under branch page {int(bpg[0])} or its neighbours is reachable twice")
        bases = children * ps
        stored, flags, lower, upper = pf.headers(children)
        pf.page_reads += total
        bad = stored != children
        if bad.any():
            k = first_bad(bad)
            raise PageError(f"page {int(kids[k])} stores page number {int(stored[k]) & 0xFFFFFFFFFFFFFFFF}")
        bad = (flags & _KINDS) != P_LEAF
        if bad.any():
            k = first_bad(bad)
            raise PageError(f"page {int(kids[k])} should be a leaf but has flags 0x{int(flags[k]):x}")
        floor = h - pb
        bad = (lower < floor) | (lower > upper) | (upper > ps - pb)
        if bad.any():
            raise PageError(f"leaf {int(kids[first_bad(bad)])} has impossible bounds")
        nkeys = (lower - floor) >> 1
        ov = self._leaf_overflow(bases, nkeys) if self._want_space else None
        # A leaf between two separators of one slot holds only that slot (keys are sorted);
        # the first and last leaf of each branch page take their bounds from the key they hold.
        known = np.zeros(total, dtype=bool)
        if total > 1:
            known[:-1] = (seps[:-1] == seps[1:]) & (br[:-1] == br[1:]) & (seps[:-1] != SHORT_KEY_SLOT)
        known &= idx > 0
        if ov is not None:
            known &= ~ov[3]  # leaves holding named or dup databases: read node by node
        probe = ~known & (nkeys > 0)
        if ov is not None:
            probe &= ~ov[3]
        unk = np.nonzero(probe)[0]
        if len(unk):
            first = self._leaf_key_slots(bases[unk], np.zeros(len(unk), dtype=np.int64), kids, unk)
            last = self._leaf_key_slots(bases[unk], nkeys[unk] - 1, kids, unk)
            ok = (first == last) & (first != SHORT_KEY_SLOT)
            seps[unk[ok]] = first[ok]
            known[unk[ok]] = True
        for j, (_, n) in enumerate(branches):
            outs[j].leaf_pages += n
        if known.any():
            slots, inv = np.unique(seps[known], return_inverse=True)
            width = len(slots)
            comb = br[known] * width + inv  # (branch page, slot) pairs
            size = m * width
            pages = np.bincount(comb, minlength=size)
            recs = np.bincount(comb, weights=nkeys[known], minlength=size)
            if ov is not None:
                ovp = np.bincount(comb, weights=ov[0][known], minlength=size)
                ovb = np.bincount(comb, weights=ov[1][known], minlength=size)
                mx = np.zeros(size, dtype=np.int64)
                np.maximum.at(mx, comb, ov[2][known])
            for c in np.nonzero(pages)[0].tolist():
                j, s = divmod(c, width)
                o, slot, r = outs[j], int(slots[s]), int(recs[c])
                sp = o.slots.get(slot)
                if sp is None:
                    sp = o.slots[slot] = SlotSpace()
                sp.records += r
                sp.leaf_pages += int(pages[c])
                o.entries += r
                if ov is not None:
                    sp.overflow_pages += int(ovp[c])
                    sp.overflow_bytes += int(ovb[c])
                    sp.max_value = max(sp.max_value, int(mx[c]))
                    o.overflow_pages += int(ovp[c])
        for k in np.nonzero(~known)[0].tolist():
            self._scan_leaf(int(kids[k]), int(nkeys[k]), outs[int(br[k])])

    def _slots_at(self, node, ks, last_byte):
        """The slot of each node's key (its first two bytes), or SHORT_KEY_SLOT; reads stay in the page."""
        v = self._pf.u16s(np.minimum(node + 8, last_byte - 1))  # the key's first two bytes, big-endian
        return np.where(ks >= 2, ((v & 0xFF) << 8) | (v >> 8), SHORT_KEY_SLOT)

    def _leaf_key_slots(self, bases, i, kids, which):
        """Slot of node ``i`` of each leaf at ``bases`` (``kids[which]`` name them in errors)."""
        pf = self._pf
        ps, h, pb = pf.page_size, pf.hdrsz, pf.pagebase
        ptr = pf.u16s(bases + h + 2 * i) + pb
        bad = (ptr < h) | (ptr + 8 > ps)
        if bad.any():
            raise PageError(f"page {int(kids[int(which[np.nonzero(bad)[0][0]])])}: a node lies outside its page")
        node = bases + ptr
        ks = pf.u16s(node + 6)
        bad = ptr + 8 + ks > ps
        if bad.any():
            raise PageError(f"page {int(kids[int(which[np.nonzero(bad)[0][0]])])}: a key runs past the end of its page")
        return self._slots_at(node, ks, bases + ps - 1)

    def _leaf_overflow(self, bases, nkeys):
        """Per leaf: overflow pages, overflow bytes, largest value, and whether it needs a node scan.

        Reads every node header of the leaves at once (numpy), because values on
        overflow pages show only in their node's flags.
        """
        pf = self._pf
        ps, h = pf.page_size, pf.hdrsz
        n = len(bases)
        total = int(nkeys.sum())
        zeros = np.zeros(n, dtype=np.int64)
        if total == 0:
            return zeros, zeros, zeros, np.zeros(n, dtype=bool)
        leaf = np.repeat(np.arange(n), nkeys)
        starts = np.repeat(np.cumsum(nkeys) - nkeys, nkeys)
        slot_addr = np.repeat(bases + h, nkeys) + 2 * (np.arange(total) - starts)
        ptr = pf.u16s(slot_addr)
        node = np.repeat(bases, nkeys) + ptr + pf.pagebase
        if (ptr + pf.pagebase < h).any() or (ptr + pf.pagebase + 8 > ps).any():
            raise PageError("a leaf node lies outside its page")
        nflags = pf.u16s(node + 4)
        dsize = pf.u16s(node) | (pf.u16s(node + 2) << 16)
        big = (nflags & F_BIGDATA) != 0
        odd = np.bincount(leaf, weights=((nflags & (F_SUBDATA | F_DUPDATA)) != 0), minlength=n) > 0
        ovpages = np.where(big, (h - 1 + dsize) // ps + 1, 0)
        ov_pages = np.bincount(leaf, weights=ovpages, minlength=n).astype(np.int64)
        ov_bytes = np.bincount(leaf, weights=np.where(big, dsize, 0), minlength=n).astype(np.int64)
        largest = np.zeros(n, dtype=np.int64)
        np.maximum.at(largest, leaf, dsize)
        return ov_pages, ov_bytes, largest, odd

    want_space = True
    _want_space = False
    #: Read a cold tree's pages ahead of the walk (see :mod:`zlmdb_inspect.prefetch`).
    prefetch = True
    #: Leaves per vectorised batch: bounds the arrays (every node of a leaf is read
    #: when the tree has overflow values).
    batch_leaves = 16384
    batch_leaves_deferred = 262144  # a whole walk's leaves, sorted by page number per batch
    batch_leaves_nodes = 2048

    def _scan_leaf(self, pgno: int, n: int, out: TreeSummary) -> None:
        """Read every node of a leaf: slots, named databases, overflow values."""
        pf = self._pf
        buf = pf.buf
        page_end = (pgno + 1) * pf.page_size
        per_slot: dict[int, int] = {}
        for i in range(n):
            off = pf.node(pgno, i)
            lo, hi, nflags, ksize = struct.unpack_from(_E + "4H", buf, off)
            if off + 8 + ksize > page_end:
                raise PageError(f"page {pgno}: a key runs past the end of its page")
            dsize = lo | (hi << 16)
            slot = (buf[off + 8] << 8 | buf[off + 9]) if ksize >= 2 else SHORT_KEY_SLOT
            if nflags & F_SUBDATA and not nflags & F_DUPDATA:
                doff = off + 8 + ((ksize + 1) & ~1 if pf.has_txnid else ksize)
                if dsize != 48 or doff + 48 > page_end:
                    raise PageError(f"page {pgno}: a named database record is malformed")
                out.named_dbs.append((bytes(buf[off + 8:off + 8 + ksize]), DbRecord.parse(buf, doff)))
                out.entries += 1
                continue
            count = 1
            if nflags & F_DUPDATA:
                doff = off + 8 + ((ksize + 1) & ~1 if pf.has_txnid else ksize)
                if nflags & F_SUBDATA:
                    count = DbRecord.parse(buf, doff).entries
                else:
                    sub_lower = _U16.unpack_from(buf, doff + pf.hdrsz - 4)[0]
                    count = (sub_lower - (pf.hdrsz - pf.pagebase)) >> 1
            sp = out.slots.get(slot)
            if sp is None:
                sp = out.slots[slot] = SlotSpace()
            sp.records += count
            sp.value_bytes += dsize
            if dsize > sp.max_value:
                sp.max_value = dsize
            if nflags & F_BIGDATA:
                ov = pf.ovpages(dsize)
                sp.overflow_pages += ov
                sp.overflow_bytes += dsize
                out.overflow_pages += ov
            per_slot[slot] = per_slot.get(slot, 0) + count
            out.entries += count
        total = sum(per_slot.values()) or 1
        for slot, c in per_slot.items():  # a shared leaf counts by its share of entries
            out.slots[slot].leaf_pages += c / total

    # -- free database -------------------------------------------------------

    def _free_db(self, meta: Meta) -> tuple[int, int, list[tuple[int, int]]]:
        """Pages on the freelist, as ``mdb_stat -f`` counts them."""
        pf = self._pf
        db = meta.free
        if db.root == P_INVALID:
            return 0, 0, []
        records: list[tuple[int, int]] = []
        pages = 0
        stack = [(db.root, 1)]
        visited: set[int] = set()
        while stack:
            pgno, depth = stack.pop()
            if depth > MAX_DEPTH or pgno in visited:
                raise PageError("the free database has a cycle or impossible depth")
            visited.add(pgno)
            flags, lower, upper, _ = pf.header(pgno, self._limit, "the free database")
            n = pf.numkeys(pgno, lower, upper)
            pages += 1
            if flags & P_BRANCH:
                for i in range(n):
                    stack.append((pf.child_pgno(pf.node(pgno, i)), depth + 1))
                continue
            if not flags & P_LEAF:
                raise PageError(f"free database page {pgno} has flags 0x{flags:x}")
            for i in range(n):
                off = pf.node(pgno, i)
                key = pf.node_key(pgno, off)
                if len(key) != 8:
                    raise PageError(f"free database page {pgno} has a {len(key)}-byte key")
                txnid = int.from_bytes(key, sys.byteorder)
                nflags = _U16.unpack_from(pf.buf, off + 4)[0]
                if nflags & F_BIGDATA:
                    dsize = _U16.unpack_from(pf.buf, off)[0] | (_U16.unpack_from(pf.buf, off + 2)[0] << 16)
                    pages += pf.ovpages(dsize)
                head = pf.read_value(pgno, off, self._limit, head=8)
                if len(head) < 8:
                    raise PageError(f"free database page {pgno} has a short page list")
                count = int.from_bytes(head, sys.byteorder)
                if count > self._limit:
                    raise PageError(f"free database record {txnid} lists {count} pages")
                records.append((txnid, count))
        return sum(c for _, c in records), pages, records

