"""LMDB's on-disk format, formats 0.9 and 1.0: constants, meta pages, pages and nodes.

The layout follows zlmdb's vendored ``zlmdb/_lmdb_vendor/verify.py``; the algorithms that use
it (counting, ranking, the freelist) live in :mod:`zlmdb_inspect.storage.walk`.

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
import threading
import weakref
import zlib
from collections.abc import Callable
from dataclasses import dataclass

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
#: A page stamped with a larger txnid is damage (LMDB's txnids count commits; summaries keep them as int64).
TXNID_MAX = (1 << 63) - 1

NATIVE = "<" if sys.byteorder == "little" else ">"  # LMDB writes its fields in the host's byte order
U16 = struct.Struct(NATIVE + "H")
_U32 = struct.Struct(NATIVE + "I")
_U64 = struct.Struct(NATIVE + "Q")
_CHILD = struct.Struct(NATIVE + "3H")
LITTLE_ENDIAN_HOST = sys.byteorder == "little"  # the vectorised walk reads little-endian fields

PAGE_KINDS = P_BRANCH | P_LEAF | P_OVERFLOW | P_META | P_LEAF2

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
    def parse(cls, buf, off: int) -> DbRecord:
        flags, depth = U16.unpack_from(buf, off + 4)[0], U16.unpack_from(buf, off + 6)[0]
        branch, leaf, overflow, entries, root = struct.unpack_from(NATIVE + "5Q", buf, off + 8)
        return cls(flags, depth, branch, leaf, overflow, entries, root)


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


def slot_of(key: bytes) -> int:
    """The zlmdb slot a key belongs to (its first two bytes, big-endian)."""
    return (key[0] << 8) | key[1] if len(key) >= 2 else SHORT_KEY_SLOT


_madvise = None


def _unmap_in_parallel(addr: int, length: int, threads: int) -> None:
    """Drop a large mapping's page-table entries from several threads before ``munmap``.

    A walk of a 10M-record tree maps about a million pages (the kernel maps a fault's neighbours
    too); taking them down is kernel work of a seventh of a second that ``munmap`` (or the exit)
    does on one core. ``MADV_DONTNEED`` on parts of a read-only shared file mapping does the same
    work in parallel and changes nothing else: the pages stay in the page cache.
    """
    global _madvise
    dontneed = getattr(mmap, "MADV_DONTNEED", None)
    if dontneed is None or not sys.platform.startswith("linux"):
        return
    if _madvise is None:
        import ctypes  # numpy has imported it already

        try:
            fn = ctypes.CDLL(None, use_errno=True).madvise  # ctypes releases the GIL during the call
        except (OSError, AttributeError):  # munmap does the work alone
            return
        fn.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        fn.restype = ctypes.c_int
        _madvise = fn
    page = mmap.PAGESIZE
    cuts = [addr + (length * i // threads) // page * page for i in range(threads)] + [addr + length]

    def drop(i: int) -> None:
        _madvise(cuts[i], cuts[i + 1] - cuts[i], dontneed)  # a failure leaves the work to munmap

    _run_parts(drop, threads)


def _run_parts(fn: Callable[[int], None], parts: int) -> None:
    """``fn(i)`` for every part ``i``: part 0 in the caller's thread, the others in threads of
    their own; the first error, by part, is raised here."""
    errors: list[BaseException | None] = [None] * parts

    def run(i: int) -> None:
        try:
            fn(i)
        except BaseException as e:  # noqa: BLE001 - raised in the caller's thread below
            errors[i] = e

    workers = [threading.Thread(target=run, args=(i,)) for i in range(1, parts)]
    for t in workers:
        t.start()
    run(0)
    for t in workers:
        t.join()
    for e in errors:
        if e is not None:
            raise e


class PageFile:
    """Read-only, bounds-checked view of a ``data.mdb`` file."""

    #: Gathers of more headers than this read the pages in file order.
    sort_above = 65536
    #: A scattered read of more pages than this goes through the mapping (a walk from a stale state file
    #: reads most of the tree: in file order, fault-around maps neighbours 16 at a time, cheaper than a pread each).
    pread_at_most = 65536

    def __init__(self, path: str):
        self.path = path
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            self.file_size = os.fstat(fd).st_size
            if self.file_size < 64:
                raise PageError(f"data file is {self.file_size} bytes, too short for LMDB")
            self._mm = mmap.mmap(fd, self.file_size, prot=mmap.PROT_READ)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd  # kept for scattered reads (see :meth:`header_words`)
        # closed by close(), or when the object goes without it (an opener that fails after it, retried per refresh)
        self._close_fd = weakref.finalize(self, os.close, fd)
        try:
            self.buf = memoryview(self._mm)
            self.np = np.frombuffer(self._mm, dtype=np.uint8)
            self.np16 = np.frombuffer(self._mm, dtype=np.uint16, count=self.file_size // 2)
            self.np64 = np.frombuffer(self._mm, dtype=np.uint64, count=self.file_size // 8)
            # the 64-bit word at every byte address (unaligned reads): a node's first word holds its
            # data size (a branch node's child) and flags (48 bits) and its key size
            self.np64_at = np.ndarray(shape=(self.file_size - 7,), dtype=np.uint64, buffer=self._mm,
                                      strides=(1,))
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
        except BaseException:  # a damaged or foreign file: its descriptor is not kept (the mapping goes with the GC)
            self._close_fd()
            self._fd = -1
            raise
        self.page_reads = 0
        self._random = False  # random_access() was asked for
        # a walk over the whole tree has mapped its pages in this process: reads go through the mapping
        self.mapped_tree = False
        self._read: np.ndarray | None = None  # pages this object has read in scattered reads (by page number)

    @property
    def fd(self) -> int:
        """The descriptor this object keeps open on the data file (pread, fadvise); -1 once closed."""
        return self._fd

    def random_access(self) -> None:
        """No readahead around this mapping's page faults (``MADV_RANDOM``, on this process's own
        mapping only): a walk that reads only what changed faults single pages scattered over the
        file, and the kernel's read-around of each fault (128 KiB and more) read 98 % of a
        1M-record file on a cold cache when 55 % of the tree was wanted."""
        if not self._random and hasattr(self._mm, "madvise"):
            self._mm.madvise(mmap.MADV_RANDOM)
        if not self._random and hasattr(os, "posix_fadvise"):  # the same for scattered preads (this descriptor)
            os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_RANDOM)
        self._random = True

    def reload_metas(self) -> None:
        """Read both meta pages again: a writer rewrites one at every commit."""
        self.metas = (self._read_meta(0, 0), self._read_meta(1, self.page_size))

    #: Mappings at least this large are unmapped by several threads (see :func:`_unmap_in_parallel`).
    unmap_parallel_above = 256 << 20

    def close(self) -> None:
        if self.np is not None and self.file_size >= self.unmap_parallel_above and self.gather_threads > 1:
            _unmap_in_parallel(self.np.ctypes.data, self.file_size, self.gather_threads)
        self.np = self.np16 = self.np64 = self.np64_at = self.np_headers = None  # type: ignore[assignment]
        self.buf.release()
        try:
            self._mm.close()
        except BufferError:  # a numpy view still alive; the GC closes it
            pass
        self._close_fd()  # once, however often close() is called
        self._fd = -1

    def _detect_header(self) -> int:
        for off in (16, 24):
            if _U32.unpack_from(self.buf, off)[0] == MDB_MAGIC:
                return off
        swapped = struct.unpack(("<" if NATIVE == ">" else ">") + "I", struct.pack(NATIVE + "I", MDB_MAGIC))[0]
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
        flags = U16.unpack_from(self.buf, base + h - 6)[0]
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
        have = sorted(m.txnid for m in self.metas)
        if txnid > have[-1]:  # LMDB's lock file remembers a newer transaction than the file holds
            raise PageError(f"lock.mdb names transaction {txnid} the newest, but data.mdb's meta pages carry "
                            f"{have[0]} and {have[1]}: was data.mdb replaced or restored while a process had "
                            "the environment open?")
        raise PageError(f"no meta page carries txnid {txnid} (they carry {have[0]} and {have[1]})")

    # -- raw page access -------------------------------------------------

    def u16s(self, addrs: np.ndarray) -> np.ndarray:
        """The native 16-bit fields at byte addresses ``addrs`` (checked by the caller), as int64."""
        if (addrs & 1).any():  # LMDB aligns nodes to 2 bytes; a damaged page may not
            return self.np[addrs].astype(np.int64) | (self.np[addrs + 1].astype(np.int64) << 8)
        return self.np16[addrs >> 1].astype(np.int64)

    def u64s(self, addrs: np.ndarray) -> np.ndarray:
        """The native 64-bit words at byte addresses ``addrs`` (any alignment; checked by the
        caller), as uint64."""
        return self.np64_at[addrs]

    def branch_nodes(self, bpg: np.ndarray, ns: np.ndarray) -> tuple[np.ndarray, ...]:
        """Every node of branch pages ``bpg`` (``ns`` nodes each; headers checked), at once:
        (its page's index in ``bpg``, its index in that page, the page's offset, its offset,
        the child page number, the key size), checked to lie inside the page. Little-endian only."""
        ps, h, pb = self.page_size, self.hdrsz, self.pagebase
        total = int(ns.sum())
        br = np.repeat(np.arange(len(bpg)), ns)  # each node's branch page
        idx = np.arange(total) - np.repeat(np.cumsum(ns) - ns, ns)  # its index in that page
        bbase = np.repeat(bpg * ps, ns)
        ptrs = self.u16s(bbase + h + 2 * idx) + pb
        bad = (ptrs < h) | (ptrs + 8 > ps)
        if bad.any():
            raise PageError(f"branch page {int(bpg[br[int(np.argmax(bad))]])} has nodes outside its page")
        node = bbase + ptrs
        word = self.u64s(node)  # little-endian: child page number (48 bits), key size
        children = (word & np.uint64(0xFFFF_FFFF_FFFF)).astype(np.int64)
        ks = (word >> np.uint64(48)).astype(np.int64)
        bad = ptrs + 8 + ks > ps
        if bad.any():
            raise PageError(f"branch page {int(bpg[br[int(np.argmax(bad))]])}: a key runs past the end of its page")
        return br, idx, bbase, node, children, ks

    def headers(self, pgnos: np.ndarray, words: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """(stored pgno, flags, lower, upper) of the pages ``pgnos`` (checked by the caller), as int64,
        from their header ``words`` if read already (:meth:`header_words`).

        Little-endian only, like the rest of the vectorised walk: the last header word holds
        pad, flags, lower and upper as four 16-bit fields.
        """
        hdr = self._mapped_headers(pgnos) if words is None else words
        word = hdr[:, -1]
        return (hdr[:, 0].astype(np.int64), ((word >> 16) & 0xFFFF).astype(np.int64),
                ((word >> 32) & 0xFFFF).astype(np.int64), (word >> 48).astype(np.int64))

    # -- scattered reads ---------------------------------------------------
    # A walk from summaries reads the headers of some 20,000 pages scattered over a 10M-record
    # file. Through the mapping, each is a page fault that also maps up to 15 neighbours the walk
    # does not want (fault-around): 4-5 us per page on a VM, against ~1.0 us for a pread of its
    # header and ~1.9 us for a pread of the whole page in file order (up to ~20 % more in tree order;
    # benchmarks/pread_bench.py; more as the VM's load goes up). So a page this process has not
    # read before is read with pread, in file order, when the walk asks for it as scattered; a page read
    # again (a later refresh in the same process) goes through the mapping, which from then on
    # costs nothing. After a walk of the whole tree (``mapped_tree``), everything is mapped.

    def _fresh(self, pgnos: np.ndarray, scattered: bool | np.ndarray) -> np.ndarray | None:
        """Positions in ``pgnos`` (inside the file) to read with pread: those ``scattered`` (all,
        or a mask) that this object has not read before; None when there are none."""
        if scattered is False or self.mapped_tree or not len(pgnos):
            return None
        if self._read is None:
            self._read = np.zeros(self.pages_in_file, dtype=bool)  # the kernel's zero pages until written
        fresh = ~self._read[pgnos]
        self._read[pgnos] = True
        if scattered is not True:
            fresh &= scattered
        idx = np.flatnonzero(fresh)
        return idx if 0 < len(idx) <= self.pread_at_most else None

    def _pread(self, offsets: list[int], size: int) -> bytes:
        pread, fd = os.pread, self._fd
        data = b"".join([pread(fd, size, off) for off in offsets])
        if len(data) != size * len(offsets):
            raise PageError("the data file shrank while it was read")
        return data

    def header_words(self, pgnos: np.ndarray, scattered: bool | np.ndarray = False) -> np.ndarray:
        """The header words of pages ``pgnos`` (inside the file), one row of ``hdrsz // 8`` uint64
        each. ``scattered`` (all, or a mask of ``pgnos``): pages of a walk that reads few pages
        over the file and not their other bytes (see the note above)."""
        idx = self._fresh(pgnos, scattered)
        if idx is None:
            return self._mapped_headers(pgnos)
        out = np.empty((len(pgnos), self.np_headers.shape[1]), dtype=np.uint64)
        if len(idx) < len(pgnos):
            rest = np.ones(len(pgnos), dtype=bool)
            rest[idx] = False
            out[rest] = self._mapped_headers(pgnos[rest])
        idx = idx[np.argsort(pgnos[idx], kind="stable")]  # in file order: ~15 % less CPU a read than scattered
        data = self._pread((pgnos[idx] * self.page_size).tolist(), self.hdrsz)
        out[idx] = np.frombuffer(data, dtype=np.uint64).reshape(len(idx), -1)
        return out

    def fresh_pages(self, pgnos: np.ndarray) -> np.ndarray | None:
        """Copies of the pages ``pgnos`` (inside the file; one row of ``page_size`` bytes each)
        read with pread, when most of them are pages this process has not read before (see the
        note above); else None: read them through the mapping."""
        idx = self._fresh(pgnos, True)
        if idx is None or 2 * len(idx) < len(pgnos):
            return None
        ps = self.page_size
        out = np.empty((len(pgnos), ps), dtype=np.uint8)
        fresh = np.zeros(len(pgnos), dtype=bool)
        fresh[idx] = True
        flat, preadv, fd = out.reshape(-1).data, os.preadv, self._fd
        order = np.argsort(pgnos, kind="stable")  # in file order (see header_words)
        for i, pgno, new in zip(order.tolist(), pgnos[order].tolist(), fresh[order].tolist()):
            if not new:
                out[i] = self.np[pgno * ps:(pgno + 1) * ps]
            elif preadv(fd, [flat[i * ps:(i + 1) * ps]], pgno * ps) != ps:
                raise PageError("the data file shrank while it was read")
        return out

    def words_of(self, pages: np.ndarray) -> np.ndarray:
        """The header words of page copies (:meth:`fresh_pages`)."""
        return np.ascontiguousarray(pages[:, :self.hdrsz]).view(np.uint64)

    def page_crcs(self, pgnos: np.ndarray) -> np.ndarray:
        """CRC-32 of each page ``pgnos`` (inside the file), through the mapping."""
        ps, buf, crc32 = self.page_size, self.buf, zlib.crc32
        return np.array([crc32(buf[b:b + ps]) for b in (pgnos * ps).tolist()], dtype=np.int64)

    @staticmethod
    def copy_crcs(pgnos: np.ndarray, block: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """:meth:`page_crcs` of some of ``pgnos`` from their copies ``block`` (a row each, as
        :meth:`fresh_pages` gives them)."""
        order = np.argsort(pgnos)

        def crcs(want: np.ndarray) -> np.ndarray:
            rows = order[np.searchsorted(pgnos, want, sorter=order)]
            return np.array([zlib.crc32(block[i]) for i in rows.tolist()], dtype=np.int64)

        return crcs

    def _mapped_headers(self, pgnos: np.ndarray) -> np.ndarray:
        if len(pgnos) > self.sort_above:  # in file order: neighbours share page-table and cache lines
            order = self._file_order(pgnos)
            hdr = np.empty((len(pgnos), self.np_headers.shape[1]), dtype=np.uint64)
            hdr[order] = self._gather(pgnos[order])
            return hdr
        return self.np_headers[pgnos]

    def checked_headers(self, pgnos: np.ndarray, words: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(flags, node count) of the pages ``pgnos`` (inside the file), with what :meth:`header`
        and :meth:`numkeys` check checked for all of them at once."""
        flags, n, _ = self.checked_headers_free(pgnos, words)
        return flags, n

    def checked_headers_free(self, pgnos: np.ndarray,
                             words: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`checked_headers` and each page's unused bytes (upper - lower), read in the same pass."""
        stored, flags, lower, upper = self.headers(pgnos, words)
        bad = stored != pgnos
        if bad.any():
            k = int(np.argmax(bad))
            raise PageError(f"page {int(pgnos[k])} stores page number {int(stored[k]) & 0xFFFFFFFFFFFFFFFF}")
        floor = self.hdrsz - self.pagebase
        bad = (lower < floor) | (lower > upper) | (upper > self.page_size - self.pagebase)
        if bad.any():
            k = int(np.argmax(bad))
            raise PageError(f"page {int(pgnos[k])} has impossible bounds lower={int(lower[k])} upper={int(upper[k])}")
        return flags, (lower - floor) >> 1, upper - lower

    def txnids(self, pgnos: np.ndarray, words: np.ndarray | None = None) -> np.ndarray:
        """The id of the transaction that wrote each page ``pgnos`` (1.0 format only), as uint64."""
        tx = self.np_headers[pgnos, 1] if words is None else words[:, 1]
        bad = tx > np.uint64(TXNID_MAX)
        if bad.any():
            k = int(np.argmax(bad))
            raise PageError(f"page {int(pgnos[k])} is stamped with txnid {int(tx[k])}, which no transaction has")
        return tx

    def _file_order(self, pgnos: np.ndarray) -> np.ndarray:
        """The permutation that sorts ``pgnos`` (inside the file). Distinct page numbers that are
        a good share of the file's pages (a tree's leaves) are placed by a pass over the file's
        pages, several times faster than argsort; its array is at most 32 bytes per page sorted."""
        n = len(pgnos)
        if self.pages_in_file > 8 * n or self.pages_in_file >= 1 << 31:
            return np.argsort(pgnos, kind="stable")
        pos = np.full(self.pages_in_file, -1, dtype=np.int32)
        pos[pgnos] = np.arange(n, dtype=np.int32)
        order = pos[pos >= 0]
        return order if len(order) == n else np.argsort(pgnos, kind="stable")  # repeated pages

    #: Threads that fault in a large gather's pages (the kernel maps pages for several at once;
    #: numpy releases the GIL while it gathers).
    gather_threads = min(4, os.cpu_count() or 1)

    def _gather(self, pgnos: np.ndarray) -> np.ndarray:
        """Header words of pages ``pgnos`` (sorted): the first touch of each page is a page
        fault, so a large gather is split into contiguous parts read in parallel."""
        parts = self.gather_threads if len(pgnos) >= 4 * self.sort_above else 1
        if parts < 2:
            return self.np_headers[pgnos]
        out = np.empty((len(pgnos), self.np_headers.shape[1]), dtype=np.uint64)
        bounds = np.linspace(0, len(pgnos), parts + 1).astype(np.int64).tolist()

        def part(i: int) -> None:
            out[bounds[i]:bounds[i + 1]] = self.np_headers[pgnos[bounds[i]:bounds[i + 1]]]

        _run_parts(part, parts)
        return out

    def _check_pgno(self, pgno: int, limit: int, what: str) -> int:
        if pgno < NUM_METAS or pgno > limit or pgno >= self.pages_in_file:
            last = min(limit, self.pages_in_file - 1)
            raise PageError(f"{what} points at page {pgno}, outside the file's pages 2..{last}")
        return pgno * self.page_size

    def header(self, pgno: int, limit: int, what: str) -> tuple[int, int, int, int]:
        """(flags, lower, upper, txnid) of a page, after checking its stored pgno."""
        base = self._check_pgno(pgno, limit, what)
        self.page_reads += 1
        h = self.hdrsz
        stored = _U64.unpack_from(self.buf, base)[0]
        if stored != pgno:
            raise PageError(f"page {pgno} stores page number {stored}")
        flags = U16.unpack_from(self.buf, base + h - 6)[0]
        lower = U16.unpack_from(self.buf, base + h - 4)[0]
        upper = U16.unpack_from(self.buf, base + h - 2)[0]
        txnid = _U64.unpack_from(self.buf, base + 8)[0] if self.has_txnid else 0
        if txnid > TXNID_MAX:
            raise PageError(f"page {pgno} is stamped with txnid {txnid}, which no transaction has")
        return flags, lower, upper, txnid

    def numkeys(self, pgno: int, lower: int, upper: int) -> int:
        floor = self.hdrsz - self.pagebase
        if lower < floor or lower > upper or upper > self.page_size - self.pagebase:
            raise PageError(f"page {pgno} has impossible bounds lower={lower} upper={upper}")
        return (lower - floor) >> 1

    def node(self, pgno: int, i: int) -> int:
        """Offset of node ``i`` of page ``pgno``, checked to lie inside the page."""
        base = pgno * self.page_size
        ptr = U16.unpack_from(self.buf, base + self.hdrsz + 2 * i)[0]
        off = ptr + self.pagebase
        if off < self.hdrsz or off + 8 > self.page_size:
            raise PageError(f"page {pgno} node {i} lies outside its page")
        return base + off

    def child_pgno(self, off: int) -> int:
        """The page a branch node at ``off`` points to (48 bits in its size and flags fields)."""
        lo, hi, nfl = _CHILD.unpack_from(self.buf, off)
        return lo | (hi << 16) | (nfl << 32)

    def node_key(self, pgno: int, off: int) -> bytes:
        ksize = U16.unpack_from(self.buf, off + 6)[0]
        end = off + 8 + ksize
        if end > (pgno + 1) * self.page_size:
            raise PageError(f"page {pgno}: a key runs past the end of its page")
        return bytes(self.buf[off + 8:end])

    def branch_index(self, pgno: int, n: int, key: bytes) -> int:
        """Index of the last child of branch page ``pgno`` (``n`` nodes) whose separator is <= ``key``
        (node 0 has no separator: it takes everything below node 1's)."""
        lo, hi = 1, n
        while lo < hi:
            mid = (lo + hi) // 2
            if self.node_key(pgno, self.node(pgno, mid)) <= key:
                lo = mid + 1
            else:
                hi = mid
        return lo - 1

    def ovpages(self, dsize: int) -> int:
        return (self.hdrsz - 1 + dsize) // self.page_size + 1

    def read_value(self, pgno: int, off: int, limit: int, head: int | None = None) -> bytes:
        """The value of the leaf node at ``off`` (inline or on overflow pages); with ``head``,
        only its first ``head`` bytes (the rest of a large value is neither copied nor touched)."""
        nflags = U16.unpack_from(self.buf, off + 4)[0]
        dsize = U16.unpack_from(self.buf, off)[0] | (U16.unpack_from(self.buf, off + 2)[0] << 16)
        ksize = U16.unpack_from(self.buf, off + 6)[0]
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
