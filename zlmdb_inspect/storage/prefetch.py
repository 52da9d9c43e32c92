"""Reading a cold database's tree pages before the walk touches them.

A walk through the memory map on a cold page cache faults one page at a time, in
tree order, and the kernel's readahead around each fault reads whatever lies
next to it: the freelist, overflow values, the whole file. This reads only the
main tree's pages (branches, then leaves; never overflow or free pages) that are
not already in memory (``mincore``), level by level, each level in file order,
with neighbouring pages merged into one request and several requests in flight
(a virtual disk serves parallel requests far faster than one at a time).

Everything read here is also checked by the walk that follows; anything that
does not look like a branch page simply ends the prefetch early.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import random
import threading
from dataclasses import dataclass

import numpy as np

from zlmdb_inspect.storage.arrays import unique
from zlmdb_inspect.storage.pageformat import NUM_METAS, P_BRANCH, P_INVALID, Meta, PageError, PageFile

_libc = ctypes.CDLL(None, use_errno=True)  # this process's own symbols include libc's (find_library
# would run ldconfig in a child process: a fifth of a second)
_mincore = getattr(_libc, "mincore", None)
if _mincore is not None:
    _mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
    _mincore.restype = ctypes.c_int

#: Requests in flight at once.
THREADS = 64
#: Pages not needed that may lie between two needed ones and still be read in the same request.
GAP = 2
#: Ask the kernel to read (posix_fadvise WILLNEED: no copy into this process) rather than pread.
WILLNEED = True
#: Largest request, in bytes.
MAX_REQUEST = 1 << 20


@dataclass
class Prefetched:
    pages: int = 0  # tree pages that were not in memory and were read
    requests: int = 0
    bytes: int = 0  # bytes requested (the needed pages and the gaps merged with them)


def _in_memory(pf: PageFile, first: int, last: int) -> np.ndarray | None:
    """Per LMDB page ``first..last``: whether all of it is in memory (``mincore``); None if unknown."""
    if _mincore is None or last < first:
        return None
    sys_page = mmap.PAGESIZE
    ratio = max(1, pf.page_size // sys_page)
    start = first * pf.page_size
    length = (last + 1) * pf.page_size - start
    if start % sys_page:
        return None
    vec = np.zeros((length + sys_page - 1) // sys_page, dtype=np.uint8)
    addr = pf.np.ctypes.data + start
    if _mincore(ctypes.c_void_p(addr), ctypes.c_size_t(length), ctypes.c_void_p(vec.ctypes.data)) != 0:
        return None
    per = (vec & 1).astype(bool)
    if ratio > 1:
        per = np.asarray(per.reshape(-1, ratio).all(axis=1))
    return per


def resident(pf: PageFile, pgnos: np.ndarray) -> np.ndarray | None:
    """Per page of ``pgnos`` (sorted, inside the file): whether all of it is in memory; None if unknown."""
    if not len(pgnos):
        return None
    first = int(pgnos[0])
    per = _in_memory(pf, first, int(pgnos[-1]))
    return None if per is None else per[pgnos - first]


#: Pages of a level checked one by one before deciding it is in memory.
SAMPLE = 64


#: A batch whose sample finds at most this share of its pages missing is left to fault them in:
#: finding which ones costs ``mincore`` over their whole span (a 5 GB file: 60 ms of CPU), more
#: than the few faults (a warm 10M-record tree after 200 commits: 3-4 % of the pages it reads).
FEW_MISSING = 1 / 8


def read_missing(pf: PageFile, pgnos: np.ndarray) -> int:
    """Read the pages of ``pgnos`` that are not in memory, in merged requests several at a time,
    before a walk from saved summaries faults them one by one (on a cold file each fault waits for
    its own read); how many were read. Costs a few ``mincore`` calls when (nearly) all are in memory."""
    pages = unique(pgnos)
    if not len(pages) or _sampled_missing(pf, pages) <= FEW_MISSING:
        return 0
    have = resident(pf, pages)
    out = Prefetched()
    _read(pf, pages if have is None else pages[~have], out)
    return out.pages


def _sampled_missing(pf: PageFile, pages: np.ndarray) -> float:
    """The share of a sample of ``pages`` not in memory (0 without ``mincore``)."""
    if _mincore is None:
        return 0.0
    step = max(1, len(pages) // SAMPLE)
    sample = pages[::step][:SAMPLE].tolist()
    missing = 0
    for pgno in sample:
        have = _in_memory(pf, pgno, pgno)
        missing += have is None or not have.all()
    return missing / len(sample)


def _looks_warm(pf: PageFile, meta: Meta) -> bool:
    """Whether every page on a few random root-to-leaf paths is in memory (a warm tree costs
    these few ``mincore`` calls, not a pass over all branch pages)."""
    if _mincore is None:
        return True
    rng = random.Random(meta.txnid)
    limit = meta.last_pgno
    for _ in range(SAMPLE):
        pgno = meta.main.root
        for d in range(meta.main.depth):
            have = _in_memory(pf, pgno, pgno)
            if have is None or not have.all():
                return False
            if d == meta.main.depth - 1:
                break
            try:  # only pages already in memory are read here
                flags, lower, upper, _ = pf.header(pgno, limit, "a branch node")
                n = pf.numkeys(pgno, lower, upper)
                if not flags & P_BRANCH or n < 1:
                    return True  # the walk says what is wrong
                pgno = pf.child_pgno(pf.node(pgno, rng.randrange(n)))
                if not NUM_METAS <= pgno < pf.pages_in_file:
                    return True
            except PageError:
                return True
    return True


def prefetch_tree(pf: PageFile, meta: Meta) -> Prefetched:
    """Read the main tree's pages that are not in memory, level by level, in file order."""
    out = Prefetched()
    root, depth = meta.main.root, meta.main.depth
    if root == P_INVALID or depth < 1 or not NUM_METAS <= root < pf.pages_in_file:
        return out
    reads = pf.page_reads
    warm = _looks_warm(pf, meta)
    pf.page_reads = reads  # the walk's figure counts the walk's reads only
    if warm:
        return out
    level = np.array([root], dtype=np.int64)
    limit = min(meta.last_pgno, pf.pages_in_file - 1)
    for d in range(1, depth + 1):
        level = np.sort(level)
        if _sampled_missing(pf, level):
            have = resident(pf, level) if len(level) > SAMPLE else None
            _read(pf, level if have is None else level[~have], out)
        if d == depth:
            break
        below = _children(pf, level, limit)
        if below is None or not len(below):
            break
        level = below
    if out.pages:
        # a cold file: a page the walk still faults in (the freelist's) is read alone, not with
        # the megabytes of readahead around it
        pf.random_access()
    return out


def _children(pf: PageFile, pages: np.ndarray, limit: int) -> np.ndarray | None:
    """Child page numbers of branch pages ``pages``; None when any is not a plausible branch page."""
    try:
        flags, ns = pf.checked_headers(pages)
        if ((flags & P_BRANCH) == 0).any() or int(ns.sum()) == 0:
            return None
        kids = pf.branch_nodes(pages, ns)[4]
    except PageError:
        return None
    if ((kids < NUM_METAS) | (kids > limit)).any():
        return None
    return kids


def _read(pf: PageFile, pages: np.ndarray, out: Prefetched) -> None:
    """Read ``pages`` (sorted) into the page cache: merged runs, several at a time."""
    if not len(pages):
        return
    ps = pf.page_size
    per_request = max(1, MAX_REQUEST // ps)
    brk = np.nonzero(np.diff(pages) > GAP + 1)[0]
    starts = np.concatenate((pages[:1], pages[brk + 1]))
    ends = np.concatenate((pages[brk], pages[-1:])) + 1
    runs: list[tuple[int, int]] = []
    for a, b in zip(starts.tolist(), ends.tolist()):
        while a < b:
            n = min(per_request, b - a)
            runs.append((a * ps, n * ps))
            a += n
    out.pages += len(pages)
    out.requests += len(runs)
    out.bytes += sum(n for _, n in runs)
    fd = pf.fd  # the file's own descriptor (pread and fadvise keep no file position)
    pf.random_access()  # exactly these pages: no readahead around them (nor around later faults)
    workers = min(THREADS, len(runs))
    share = (len(runs) + workers - 1) // workers
    local = threading.local()

    def read(chunk: list[tuple[int, int]]) -> None:
        buf = getattr(local, "buf", None)
        if buf is None:
            buf = local.buf = memoryview(bytearray(per_request * ps))
        for off, n in chunk:  # each worker reads its share of the file front to back
            try:
                if WILLNEED:
                    os.posix_fadvise(fd, off, n, os.POSIX_FADV_WILLNEED)
                else:
                    os.preadv(fd, [buf[:n]], off)
            except OSError:
                return  # the walk will say what is wrong with the file
    if workers == 1:
        read(runs)
    else:
        from concurrent.futures import ThreadPoolExecutor  # a cold tree only

        with ThreadPoolExecutor(workers) as ex:
            list(ex.map(read, [runs[i * share:(i + 1) * share] for i in range(workers)]))
