"""The walk over one snapshot's B-tree: per-slot counts and space, positions, the freelist.

Counting records per zlmdb slot through a cursor visits every key; the B-tree
already knows most of the answer. A leaf whose key range lies inside one slot
(its bounds come from the separator keys in its parent) contributes the entry
count in its page header, so keys are read only on leaves where one slot ends
and the next begins. The pages themselves are read through
:class:`~zlmdb_inspect.storage.pageformat.PageFile`.
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, cast

import numpy as np

from zlmdb_inspect.core.times import DAY_NS, HOUR_NS, TIME_MAX_NS, TIME_MIN_NS
from zlmdb_inspect.storage.arrays import find_keys, isin, key_index, ranges, unique, unique_inverse
from zlmdb_inspect.storage.freetree import FreeTree
from zlmdb_inspect.storage.pageformat import (
    F_BIGDATA,
    F_DUPDATA,
    F_SUBDATA,
    LITTLE_ENDIAN_HOST,
    MAX_DEPTH,
    MDB_DUPSORT,
    NATIVE,
    NUM_METAS,
    P_BRANCH,
    P_INVALID,
    P_LEAF,
    PAGE_KINDS,
    SHORT_KEY_SLOT,
    U16,
    DbRecord,
    Meta,
    PageError,
    PageFile,
    slot_of,
)

# -- time buckets (issue 23): records and bytes per hour of the leading big-endian datetime64[ns]
# of the keys of the slots the walker is told hold time-ordered keys ---------------------------
UNTIMED = -1  # the hour of records whose key holds no plausible time
NO_PARENT = (0, 0)  # the root's parent (no page)
_MIN_U, _MAX_U = np.uint64(TIME_MIN_NS), np.uint64(TIME_MAX_NS)
_DAY_U, _HOUR_U = np.uint64(DAY_NS), np.uint64(HOUR_NS)

#: slot -> hour (ns // HOUR_NS, or UNTIMED) -> (records, bytes); bytes are leaf pages (a leaf split
#: by entries, as the slots' pages are) and overflow pages, times the page size
TimeBuckets = dict[int, dict[int, tuple[float, float]]]


def time_rows(slot: np.ndarray, hour: np.ndarray, records: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
    """Rows (slot, hour, records, bytes) as one float64 array, consecutive equal (slot, hour)
    summed: a summary keeps a list of these (merging is a list extend and nothing per hour runs
    in Python during the walk; :func:`hourly` adds them up once, for whoever asks)."""
    if len(hour) > 1:
        starts = np.flatnonzero((hour[1:] != hour[:-1]) | (slot[1:] != slot[:-1])) + 1
        if len(starts) + 1 < len(hour):
            starts = np.concatenate(([0], starts))
            slot, hour = slot[starts], hour[starts]
            records, nbytes = np.add.reduceat(records, starts), np.add.reduceat(nbytes, starts)
    out = np.empty((len(hour), 4))
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = slot, hour, records, nbytes
    return out


def hourly(rows: list[np.ndarray]) -> TimeBuckets:
    """The rows of a summary (:func:`time_rows`) added up per slot and hour."""
    if not rows:
        return {}
    a = np.concatenate(rows) if len(rows) > 1 else rows[0]
    a = a[a[:, 2] > 0]  # leaves counted key by key leave empty rows behind
    code = (a[:, 0].astype(np.int64) << 22) | (a[:, 1].astype(np.int64) + 1)
    uniq, inv = unique_inverse(code)
    recs = np.bincount(inv, weights=a[:, 2], minlength=len(uniq))
    nb = np.bincount(inv, weights=a[:, 3], minlength=len(uniq))
    slots, hours = uniq >> 22, (uniq & 0x3FFFFF) - 1
    out: TimeBuckets = {}
    for s in unique(slots).tolist():
        m = slots == s
        out[s] = dict(zip(hours[m].tolist(), zip(recs[m].tolist(), nb[m].tolist(), strict=True), strict=True))
    return out


_SLOT_TIME = np.dtype([("slot", ">u2"), ("time", ">u8")])  # a key's first 10 bytes
NO_BOUND = 1 << 32  # leaf_times: no separator to bound a leaf (slots are 16 bits)


def _day_code(ts: np.ndarray) -> np.ndarray:
    """A key time's day, or -1 below 2000 (or too short a key), -2 from 2100 on: two keys with one
    code hold between them only keys of that day (or only keys that are no time)."""
    return np.where(ts < _MIN_U, -1, np.where(ts >= _MAX_U, -2, (ts // _DAY_U).astype(np.int64)))


def hour_of(ts: np.ndarray) -> np.ndarray:
    """The hour of each big-endian key time (uint64), UNTIMED outside 2000..2100."""
    ok = (ts >= _MIN_U) & (ts < _MAX_U)
    return np.where(ok, (ts // _HOUR_U).astype(np.int64), UNTIMED)


#: A shared leaf's share of a page, per slot, is a whole number of 1/SHARE_UNITS (its slots' shares add up
#: to one page exactly). Sums of such binary fractions are exact in a float (below 2**33 pages), so a table's
#: pages do not depend on the order a walk adds its subtrees in: a walk from saved summaries gives what a
#: walk from scratch gives to the last bit, rounding included (c / total made them differ, rarely, by 0.01).
SHARE_UNITS = 1 << 20


@dataclass
class SlotSpace:
    """Records and space of one slot (or of the short-key bucket)."""

    records: int = 0
    leaf_pages: float = 0.0  # a leaf shared by two slots is split by entries
    overflow_pages: int = 0
    overflow_bytes: int = 0
    value_bytes: int = 0  # inline + overflow value bytes, where nodes were read
    max_value: int = 0  # the largest value on overflow pages (every one is seen; inline ones are not all read)

    def add(self, other: SlotSpace) -> None:
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
    leaf_free_bytes: int = 0  # unused bytes of its leaves (upper - lower): what a rewrite in key order returns
    times: list[np.ndarray] = field(default_factory=list)  # the time slots' rows (:func:`time_rows`)
    time_slots: frozenset[int] = frozenset()  # the slots ``times`` was built for (a cache hit must match)

    def merge(self, other: TreeSummary) -> None:
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
        self.leaf_free_bytes += other.leaf_free_bytes
        if other.times:
            self.times.extend(other.times)

    def merge_many(self, others: list[TreeSummary]) -> None:
        """:meth:`merge` of many (an incremental walk merges thousands of cached summaries)."""
        self.branch_pages += sum(o.branch_pages for o in others)
        self.leaf_pages += sum(o.leaf_pages for o in others)
        self.overflow_pages += sum(o.overflow_pages for o in others)
        self.entries += sum(o.entries for o in others)
        self.leaf_free_bytes += sum(o.leaf_free_bytes for o in others)
        slots = self.slots
        for o in others:
            for slot, sp in o.slots.items():
                mine = slots.get(slot)
                if mine is None:
                    mine = slots[slot] = SlotSpace()
                mine.add(sp)
            if o.named_dbs:
                self.named_dbs.extend(o.named_dbs)
            if o.times:
                self.times.extend(o.times)


@dataclass
class WalkResult:
    """Per-slot counts and space of the main tree, and the freelist."""

    summary: TreeSummary
    free_pages: int
    free_db_pages: int
    free_records: np.ndarray  # rows of (txnid that freed them, page count), int64, in txnid order
    page_reads: int
    cached_subtrees: int
    prefetched_pages: int = 0  # tree pages read ahead because they were not in memory
    prefetched_bytes: int = 0
    # the page numbers of every free_records row (in txnid order), one after the other, as many as its
    # count (none for a damaged list: free_lists_bad says why, by txnid): storage.freeruns takes the
    # reusable ones; None where they were not read (big-endian hosts)
    free_lists: np.ndarray | None = None
    free_lists_bad: dict[int, str] = field(default_factory=dict)

    def free_pages_between(self, first: int, end: int) -> int:
        """Pages on the freelist freed by transactions ``first <= txnid < end`` (a refresh asks
        this of ~30k records on a busy database: summed by numpy, not in a Python loop)."""
        t = self.free_records[:, 0]
        return int(self.free_records[(t >= first) & (t < end), 1].sum())


class SavedSummaries(Protocol):
    """What a walk uses of a state file's summaries (:class:`~zlmdb_inspect.storage.summaries.PackedSummaries`,
    which builds on this module's summaries)."""

    keys: np.ndarray
    parents: np.ndarray
    verified: np.ndarray  # rows whose page is known to hold what the row says (checked, or vouched for)

    def __len__(self) -> int: ...
    def row(self, key: tuple[int, int]) -> int | None: ...
    def find(self, pgnos: np.ndarray, txnids: np.ndarray) -> np.ndarray: ...
    def usable(self, crc_of: Callable[[np.ndarray], np.ndarray], rows: list[int],
               time_slots: frozenset[int]) -> list[bool]: ...
    def summary(self, i: int) -> TreeSummary: ...
    def merge_into(self, rows: np.ndarray, out: TreeSummary) -> None: ...
    def only(self, seen: set[tuple[int, int]]) -> SavedSummaries | None: ...
    def rows_in(self, keys: set[tuple[int, int]]) -> np.ndarray: ...
    def only_rows(self, rows: np.ndarray) -> SavedSummaries | None: ...


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

    def add_new(self, pgnos: np.ndarray) -> int | None:
        """Mark a few pages (all inside the file); the first marked already or repeated, else None."""
        bits = self._map()
        marked = bits[pgnos]
        if marked.any():
            return int(pgnos[int(np.argmax(marked))])
        if len(pgnos) > 1:
            u = np.sort(pgnos)
            same = u[1:] == u[:-1]
            if same.any():
                return int(u[1:][int(np.argmax(same))])
        bits[pgnos] = True
        self._count += len(pgnos)
        return None

    def add_many(self, pgnos: np.ndarray) -> bool:
        """Mark pages (all inside the file); False when any was marked already or is repeated."""
        bits = self._map()
        bits[pgnos] = True
        count = int(np.count_nonzero(bits))
        ok = count == self._count + len(pgnos)
        self._count = count
        return ok


class TreeWalker:
    """Walks one snapshot's main tree and free database.

    With the 1.0 format every page carries the id of the transaction that wrote
    it, and a written page never changes: a subtree whose root has the same
    (page number, txnid) as in an earlier walk holds exactly what it held then.
    Those summaries are kept in ``cache`` so a refresh reads only what changed.
    The 0.9 format has no such stamp (a page can be freed and rewritten under
    the same number and bytes of its parent), so it is walked in full.
    """

    want_space = True  # read leaf nodes for overflow values (where the tree has any)
    #: Read a cold tree's pages ahead of the walk (see :mod:`zlmdb_inspect.storage.prefetch`).
    prefetch = True
    #: Leaves per vectorised batch: bounds the arrays (every node of a leaf is read
    #: when the tree has overflow values).
    batch_leaves = 16384
    batch_leaves_deferred = 1 << 20  # a 10M-record tree's leaves in one batch, read in file order (~140 B each)
    batch_leaves_nodes = 2048
    #: Summaries kept beyond twice the tree's branch pages before the cache is pruned.
    cache_slack = 1024

    def __init__(self) -> None:
        self.cache: dict[tuple[int, int], TreeSummary] = {}  # (pgno, txnid) -> summary, 1.0 only
        # 1.0: summaries from a state file (service.state), as columns; a row is used once the
        # walk reaches its page and finds its CRC (storage.summaries)
        self.saved: SavedSummaries | None = None
        self.parents: dict[tuple[int, int], tuple[int, int]] = {}  # cached summary -> its parent page's key
        # 0.9: the main tree's summary keyed (root pgno, snapshot txnid), set after every walk; a walk
        # of the same snapshot reuses it (a state file hands one to the next run: an unchanged 0.9
        # database costs nothing). 0.9 pages carry no txnid, so nothing smaller is ever reused.
        self.whole: tuple[tuple[int, int, int], TreeSummary] | None = None  # ((root, txnid, root CRC), summary)
        # 1.0: the free database as the last walk read it (or a state file's, each page checked by its CRC)
        self.free: FreeTree | None = None
        # 1.0: the CRC-32 of summarised pages this process knows (what a state file stores with them): those
        # a walk copied whole since the last export, and each cached summary's page as that export found it
        self.crcs: dict[tuple[int, int], int] = {}
        # 1.0: the last walk's main tree root (page number, txnid): a state file's witness (PackedSummaries)
        self.root: tuple[int, int] | None = None
        # slots whose keys lead with a big-endian datetime64[ns] (after the slot): the walk buckets
        # their leaves' records and bytes per hour of their keys' time (``TreeSummary.times``)
        self.time_slots: frozenset[int] = frozenset()

    def _below(self, roots: list[tuple[int, int]]) -> tuple[set[tuple[int, int]], np.ndarray]:
        """The summaries below the summaries ``roots``: the cached ones' keys, and the saved rows (sorted
        indices). The saved rows level by level as arrays: under an unchanged root they are every row
        of a state file (~6,000 at 10M records), which as tuples cost an unchanged run a third of its refresh."""
        empty = np.zeros(0, dtype=np.int64)
        if not roots:
            return set(), empty
        children: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for key, parent in self.parents.items():
            children.setdefault(parent, []).append(key)
        saved = self.saved if self.saved is not None and len(self.saved) else None
        taken = np.zeros(len(saved) if saved is not None else 0, dtype=bool)
        with_children = key_index(np.array(list(children), dtype=np.int64).reshape(-1, 2)) if children else None
        out: set[tuple[int, int]] = set()
        keys: list[tuple[int, int]] = list(dict.fromkeys(roots))  # the frontier: cached (or root) keys ...
        rows = empty  # ... and saved rows
        while keys or len(rows):
            nxt = [c for key in keys for c in children.get(key, ()) if c not in out]
            if saved is not None and with_children is not None and len(rows):  # cached summaries under saved rows
                sk = saved.keys[rows]
                for key in map(tuple, sk[find_keys(with_children, sk[:, 0], sk[:, 1]) >= 0].tolist()):
                    nxt += [c for c in children[key] if c not in out]
            out.update(nxt)
            new = empty
            if saved is not None:  # the saved rows whose parent is in the frontier
                up = np.concatenate([np.array(keys, dtype=np.int64).reshape(-1, 2), saved.keys[rows]])
                if len(up):
                    hit = find_keys(key_index(up), saved.parents[:, 0], saved.parents[:, 1]) >= 0
                    new = np.flatnonzero(hit & ~taken)
                    taken[new] = True
            keys, rows = nxt, new
        return out, np.flatnonzero(taken)

    @property
    def reusable(self) -> bool:
        """Whether a 1.0 walk has summaries to reuse (this process's, or a state file's)."""
        return bool(self.cache) or (self.saved is not None and len(self.saved) > 0)

    def forget(self) -> None:
        """Drop every summary (a walk from them stopped at damage: walk from scratch)."""
        self.cache.clear()
        self.parents.clear()
        self.crcs.clear()
        self.saved = None
        self.whole = None
        self.free = None
        self.root = None

    def rank(self, pf: PageFile, meta: Meta, key: bytes) -> int:
        """How many entries of the main tree have keys below ``key`` (a record's position).

        Descends to the leaf that holds ``key``, adding the entries of every subtree to the
        left: leaves by their header, branch subtrees by their (cached, on 1.0) summaries.
        """
        w = _Walk(self, pf, meta)
        if meta.main.root == P_INVALID:
            return 0
        if w.scan_all:
            raise PageError("positions are not counted in a DUPSORT main database")
        pgno, depth, below = meta.main.root, 1, 0
        while True:
            flags, lower, upper, _ = pf.header(pgno, w.limit, "a branch node")
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
            chosen = pf.branch_index(pgno, n, key)
            for i in range(chosen + 1):
                child = pf.child_pgno(pf.node(pgno, i))
                if i == chosen:
                    pgno = child
                    break
                below += w.entries(child, depth + 1, meta.main.depth)
            depth += 1

    def key_at(self, pf: PageFile, meta: Meta, index: int) -> bytes | None:
        """The key of the entry at 0-based ``index`` in the main tree (the inverse of :meth:`rank`)."""
        w = _Walk(self, pf, meta)
        if meta.main.root == P_INVALID or not 0 <= index < meta.main.entries:
            return None
        if w.scan_all:
            raise PageError("positions are not counted in a DUPSORT main database")
        pgno, depth = meta.main.root, 1
        while True:
            flags, lower, upper, _ = pf.header(pgno, w.limit, "a branch node")
            n = pf.numkeys(pgno, lower, upper)
            if flags & P_LEAF:
                if index >= n:
                    raise PageError(f"leaf {pgno} holds {n} entries, fewer than its parents count")
                return pf.node_key(pgno, pf.node(pgno, index))
            if not flags & P_BRANCH or depth >= meta.main.depth or n < 1:
                raise PageError(f"page {pgno} is not a branch page where one belongs")
            for i in range(n):
                child = pf.child_pgno(pf.node(pgno, i))
                size = w.entries(child, depth + 1, meta.main.depth)
                if index < size or i == n - 1:
                    pgno = child
                    break
                index -= size
            depth += 1

    def walk(self, pf: PageFile, meta: Meta, read_free: bool = True, remember: bool = True) -> WalkResult:
        """Counts and space of one snapshot. ``remember``: keep the 1.0 subtree summaries for the
        next walk (a one-shot run has none: it is spared building thousands of them)."""
        w = _Walk(self, pf, meta, remember)
        reads0 = pf.page_reads
        ahead = None
        # the same 0.9 snapshot: its root page (numbered, stamped with the txnid and holding the same bytes:
        # a file rewritten under one txnid, a restore or damage, is walked again)
        whole_key = (meta.main.root, meta.txnid, root_crc(pf, meta)) if not pf.has_txnid else None
        whole = self.whole[1] if whole_key is not None and self.whole is not None and self.whole[0] == whole_key \
            and self.whole[1].time_slots == self.time_slots else None
        if whole is not None or (pf.has_txnid and self.reusable):
            # a cached walk reads only what changed, and the same 0.9 snapshot only its free database (~1,700
            # pages scattered over a 10M-record file): no prefetch, and no readahead around the faults (the
            # kernel's read-around of each took a cold unchanged 0.9 run ~1 GB of the file, 0.27 s of CPU)
            pf.random_access()
            w.scattered = True
        elif self.prefetch:
            from zlmdb_inspect.storage.prefetch import prefetch_tree

            ahead = prefetch_tree(pf, meta)
        summary = TreeSummary()
        if whole is not None:  # the same 0.9 snapshot as the last walk: its summary, copied
            summary.merge(whole)
            w.cache_hits += 1
        elif meta.main.root != P_INVALID:
            if meta.main.depth > MAX_DEPTH:
                raise PageError(f"main tree claims depth {meta.main.depth}")
            # The bottom branch pages to read (all of them; on a 1.0 walk with a cache, those that
            # changed) are gathered over the whole tree first and their leaves read in large
            # batches, each in file order; the summaries are put together afterwards. (One batch
            # per parent page made an incremental walk on a busy 10M-record database 2.5x dearer.)
            w.defer = not w.scan_all and LITTLE_ENDIAN_HOST
            summary = w.subtree(meta.main.root, 1, meta.main.depth)
            w.finish()
            summary.merge(w.acc)
        if summary.entries != meta.main.entries:
            raise PageError(
                f"walked {summary.entries} entries but the meta page records {meta.main.entries}")
        if whole is None and not w.scattered:
            pf.mapped_tree = True  # every page of the tree went through the mapping: later walks read it there
        # Keep mostly what this snapshot still uses. The subtrees below a summary that was reused are not
        # "seen" but still valid (a (pgno, txnid) names one content), and every valid one is one of the
        # tree's branch pages: pruned only once the cache is twice those. (Twice what the walk saw was
        # too little: a run over an unchanged 10M-record tree sees only the root, and left the next run
        # a state file with the root's summary alone, so that run walked the whole tree again.)
        saved = self.saved
        if w.cacheable and summary.entries:
            # The summaries still valid are those this walk looked up and those below a reused one
            # (found by their parents); the rest name pages the writer has freed since (on a busy
            # tree, a quarter of a state file).
            below, below_rows = self._below(w.deep_hits)
            valid = w.seen | below
            drop = list(self.cache.keys() - valid)
            if drop and saved is not None and len(below_rows):  # (a cached summary under a saved row's key)
                d = np.array(drop, dtype=np.int64).reshape(-1, 2)
                held = find_keys(key_index(saved.keys[below_rows]), d[:, 0], d[:, 1]) >= 0
                drop = [k for k, h in zip(drop, held.tolist(), strict=True) if not h]
            for k in drop:
                del self.cache[k]
                self.parents.pop(k, None)
            if saved is not None:
                saved = self.saved = saved.only_rows(unique(np.concatenate((saved.rows_in(valid), below_rows))))
        if w.cacheable and len(self.cache) + (len(saved) if saved is not None else 0) > \
                2 * max(len(w.seen), meta.main.branch_pages) + self.cache_slack:
            for k in self.cache.keys() - w.seen:
                del self.cache[k]
                self.parents.pop(k, None)
            if saved is not None:
                self.saved = saved.only(w.seen)
        summary.time_slots = self.time_slots
        if w.cacheable and meta.main.root != P_INVALID:
            self.root = (meta.main.root, int(pf.txnids(np.array([meta.main.root]))[0]))
        if whole_key is not None and whole is None:
            kept = TreeSummary(time_slots=self.time_slots)
            kept.merge(summary)
            self.whole = (whole_key, kept)
        free_pages, free_db_pages = 0, 0
        free_records = np.zeros((0, 2), dtype=np.int64)
        if read_free:
            free_pages, free_db_pages, free_records = w.free_db(meta)
        return WalkResult(summary, free_pages, free_db_pages, free_records,
                          pf.page_reads - reads0, w.cache_hits,
                          ahead.pages if ahead else 0, ahead.bytes if ahead else 0,
                          free_lists=w.free_lists,
                          free_lists_bad=w.free_lists_bad)


def _around(seps: np.ndarray, br: np.ndarray, idx: np.ndarray, first: np.ndarray | None = None,
            last: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The slots of the separators below and above each child of branch pages (``seps``: each
    node's separator slot, ``br``: its page, ``idx``: its index there): a page's first child is
    bounded below by ``first[page]`` and its last above by ``last[page]`` (the separators around
    the page in its parent), SHORT_KEY_SLOT where there is none. A child whose two are one slot
    holds only that slot (keys are sorted)."""
    below = np.where(idx > 0, seps, SHORT_KEY_SLOT if first is None else first[br])
    end = np.ones(len(seps), dtype=bool)  # each page's last child
    end[:-1] = br[:-1] != br[1:]
    above = np.empty(len(seps), dtype=np.int64)
    above[:-1] = seps[1:]
    above = np.where(end, SHORT_KEY_SLOT if last is None else last[br], above)
    return below, above


def _codes(seps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(seps, return_inverse=True)`` for slots (-1..65535), by counting: no sort of
    a 10M-record tree's 600k leaves."""
    present = np.bincount(seps + 1, minlength=1 << 16 | 1)
    slots = np.nonzero(present)[0] - 1
    code = np.zeros(len(present), dtype=np.int64)
    code[slots + 1] = np.arange(len(slots))
    return slots, code[seps + 1]


def _runs(hour: np.ndarray, slot: np.ndarray | None, branch: np.ndarray | None) -> np.ndarray:
    """Where each run of leaves of one hour (and slot, and branch page, where given) begins."""
    change = hour[1:] != hour[:-1]
    if slot is not None:
        change |= slot[1:] != slot[:-1]
    if branch is not None:
        change |= branch[1:] != branch[:-1]
    return np.concatenate(([0], np.flatnonzero(change) + 1))


class FreeLeaves(NamedTuple):
    """The records of some free database leaves (:meth:`_Walk._free_leaves`)."""

    txnids: np.ndarray
    counts: np.ndarray  # as each record says (what the free page figures add up)
    lengths: np.ndarray  # the page numbers read of each: its count, 0 where the list is damaged
    at: np.ndarray  # leaf i's records: at[i]:at[i+1]
    list_at: np.ndarray  # record j's page numbers: lists[list_at[j]:list_at[j+1]]
    lists: np.ndarray
    ov_pages: np.ndarray  # per leaf: the overflow pages its lists use
    bad: dict[int, str]  # txnid -> why its list was not read


class _FreePiece(NamedTuple):
    """Records of one free database page (a leaf read, or a subtree reused), in key order."""

    row: int
    txnids: np.ndarray
    counts: np.ndarray
    lengths: np.ndarray
    lists: np.ndarray


class LeafSpace(NamedTuple):
    """Per leaf of a batch: what its nodes say about values on overflow pages."""

    pages: np.ndarray  # overflow pages
    bytes: np.ndarray  # bytes of values on overflow pages
    largest: np.ndarray  # largest value on overflow pages
    node_scan: np.ndarray  # holds named or dup databases: read node by node


class _Level(NamedTuple):
    """A parent of bottom branch pages: its children ``kids``, its summary ``out``, its key (``parent``
    of its children), and where its children's merges wait when deferred (``sink``; None: at once)."""

    kids: np.ndarray
    out: TreeSummary
    parent: tuple[int, int] | None
    sink: list[tuple[TreeSummary, TreeSummary]] | None = None
    #: per child, the slots of the separators around it in this page (SHORT_KEY_SLOT: none here,
    #: the first child's lower and the last one's upper bound): its first and last leaf's bounds
    bounds: tuple[np.ndarray, np.ndarray] | None = None

    def merge(self, walk: _Walk, child: TreeSummary) -> None:
        if self.sink is None:
            walk._merge(self.out, child)
        else:
            self.sink.append((self.out, child))


class _Walk:
    """One walk's state (one snapshot's pages); the walker keeps only what outlives it (the cache)."""

    def __init__(self, walker: TreeWalker, pf: PageFile, meta: Meta, remember: bool = True) -> None:
        self.walker = walker
        self.pf = pf
        # 1.0 pages carry the writing transaction's id: summaries of subtrees are looked up and kept
        self.cacheable = pf.has_txnid and remember
        self.limit = meta.last_pgno
        self.scan_all = bool(meta.main.flags & MDB_DUPSORT)
        # Overflow values are only seen in their leaf's nodes: read nodes when the tree has any.
        self.want_space = walker.want_space and meta.main.overflow_pages > 0
        self.cache_hits = 0
        self.seen: set[tuple[int, int]] = set()  # (pgno, txnid) of the subtrees this snapshot uses
        self.deep_hits: list[tuple[int, int]] = []  # reused summaries with summaries below them (unseen, valid)
        self.visited = _Visited(pf.pages_in_file)
        self.defer = False  # gather bottom branch pages for batches over the whole tree
        # a walk from summaries: pages it reads only once are pread (PageFile.header_words), and a batch's
        # leaves not in memory are read first
        self.scattered = False
        self.pending: list[tuple[int, int]] = []
        self.pending_bounds: list[tuple[int, int]] = []  # (lower, upper) slot bound of each (_Level.bounds)
        self.pending_outs: list[TreeSummary | None] = []  # None: the whole walk's ``acc`` (0.9)
        self.acc = TreeSummary()  # what deferred batches add up to where nothing is cached (0.9)
        # deferred, in the order a walk without deferral does them (children before parents); a list
        # holds the merges of a deferred level (:meth:`bottom_levels`), filled in at the end
        self.merges: list[tuple[TreeSummary, TreeSummary] | list[tuple[TreeSummary, TreeSummary]]] = []
        # parents of bottom branch pages, deferred (their depth: max_depth - 2): (pgno, nodes, summary, key, sink)
        self.levels: list[tuple[int, int, TreeSummary, tuple[int, int], list[tuple[TreeSummary, TreeSummary]]]] = []
        self.max_depth = meta.main.depth
        self.to_cache: list[tuple[tuple[int, int], TreeSummary, tuple[int, int] | None]] = []
        # set by free_db(): every record's page list, in txnid order (None: not read, big-endian hosts;
        # none of a damaged list, named in free_lists_bad)
        self.free_lists: np.ndarray | None = None
        self.free_lists_bad: dict[int, str] = {}
        self.time_slots = walker.time_slots
        self.time_arr = np.array(sorted(walker.time_slots), dtype=np.int64)
        self._v10: np.ndarray | None = None  # the file as (slot, time) records at every byte (slots_times_at)

    def _merge(self, out: TreeSummary, child: TreeSummary) -> None:
        if self.defer:
            self.merges.append((out, child))
        else:
            out.merge(child)

    def _cache(self, key: tuple[int, int], out: TreeSummary, parent: tuple[int, int] | None) -> None:
        """A summary is cached only once complete: a walk that stops at damage caches nothing
        it had not finished."""
        out.time_slots = self.time_slots
        if self.defer:  # its parent too: a walk that stops leaves no parent of a summary it did not keep
            self.to_cache.append((key, out, parent))
            return
        if parent is not None:
            self.walker.parents[key] = parent
        self.walker.cache[key] = out

    def _used_saved(self, key: tuple[int, int]) -> None:
        """A saved row was used for ``key``: a cached summary of it (walked for other time slots)
        would otherwise be what is written back."""
        if key in self.walker.cache:
            del self.walker.cache[key]
            self.walker.parents.pop(key, None)

    def finish(self) -> None:
        """Run the deferred batches, then the merges and cache entries that wait for them."""
        if self.levels:  # their nodes read at once (one numpy pass per parent page cost ~2 ms at 10M records)
            specs, self.levels = self.levels, []
            ns = np.array([spec[1] for spec in specs], dtype=np.int64)
            br, idx, bbase, node, kids, ks = self.pf.branch_nodes(np.array([spec[0] for spec in specs],
                                                                           dtype=np.int64), ns)
            lo, hi = _around(self.slots_at(node, ks, bbase + self.pf.page_size - 1), br, idx)
            cut = np.cumsum(ns)[:-1]
            self.bottom_levels([_Level(part, spec[2], spec[3], spec[4], (a, b)) for part, a, b, spec in
                                zip(np.split(kids, cut), np.split(lo, cut), np.split(hi, cut), specs, strict=True)],
                               self.max_depth - 1, self.max_depth)
        if self.pending:
            self.run_deferred()
        self.defer = False
        for item in self.merges:
            for out, child in item if isinstance(item, list) else (item,):
                out.merge(child)
        for key, out, parent in self.to_cache:
            if parent is not None:
                self.walker.parents[key] = parent
            self.walker.cache[key] = out
        self.merges, self.to_cache = [], []

    def run_deferred(self) -> None:
        """The deferred bottom branch pages, in batches (each read in file order). Splitting
        them between threads was tried: numpy's bookkeeping holds the GIL often enough that two
        threads took longer and twice the CPU of one (whose page gathers use threads already)."""
        batch, outs, bounds = self.pending, self.pending_outs, self.pending_bounds
        self.pending, self.pending_outs, self.pending_bounds = [], [], []
        limit = self.walker.batch_leaves_nodes if self.want_space else self.walker.batch_leaves_deferred
        self.run_batches(batch, [o if o is not None else self.acc for o in outs], limit, bounds)

    def entries(self, pgno: int, depth: int, max_depth: int) -> int:
        """Entries under one child: a leaf's header, or its subtree's (cached on 1.0) summary."""
        if depth == max_depth:
            _, lower, upper, _ = self.pf.header(pgno, self.limit, "a branch node")
            return self.pf.numkeys(pgno, lower, upper)
        self.visited = _Visited(self.pf.pages_in_file)  # each subtree is checked on its own
        return self.subtree(pgno, depth, max_depth, None).entries  # its parent is not known here

    def subtree(self, pgno: int, depth: int, max_depth: int,
                parent: tuple[int, int] | None = NO_PARENT) -> TreeSummary:
        """What the subtree under ``pgno`` holds; ``parent``: the key of the page above it (None:
        not known, as for :meth:`entries`; a wrong one would make a later walk drop valid summaries)."""
        pf = self.pf
        if depth > max_depth:
            raise PageError(f"page {pgno} lies deeper than the tree's depth {max_depth}")
        if not self.visited.add(pgno):
            raise PageError(f"page {pgno} is reachable twice (a cycle or a shared page)")
        flags, lower, upper, txnid = pf.header(pgno, self.limit, "a branch node")
        key = (pgno, txnid)
        if self.cacheable:
            self.seen.add(key)
            hit = self.walker.cache.get(key)
            if hit is not None and flags & P_BRANCH and hit.time_slots == self.time_slots:
                self.cache_hits += 1
                if parent is not None:
                    self.walker.parents[key] = parent
                if depth + 1 < max_depth:  # the summaries below it are still valid, unseen
                    self.deep_hits.append(key)
                return hit
            saved = self.walker.saved
            if saved is not None and flags & P_BRANCH:
                row = saved.row(key)
                if row is not None and saved.usable(pf.page_crcs, [row], self.time_slots)[0]:
                    self.cache_hits += 1
                    self._used_saved(key)
                    if parent is not None:
                        saved.parents[row] = parent
                    if depth + 1 < max_depth:
                        self.deep_hits.append(key)
                    return saved.summary(row)
        n = pf.numkeys(pgno, lower, upper)
        kind = flags & PAGE_KINDS
        if kind == P_LEAF:
            out = TreeSummary(leaf_pages=1, leaf_free_bytes=upper - lower)
            self.scan_leaf(pgno, n, out)
            return out
        if kind != P_BRANCH:
            raise PageError(f"page {pgno} has page flags 0x{flags:x} where a tree page belongs")
        if n < 1:
            raise PageError(f"branch page {pgno} has no children")
        out = TreeSummary(branch_pages=1)
        if depth + 1 == max_depth and not self.scan_all and LITTLE_ENDIAN_HOST:
            self.bottoms([(pgno, n)], [out])
        elif depth + 2 == max_depth and not self.scan_all and LITTLE_ENDIAN_HOST:
            if self.defer:  # with every other parent of bottom branch pages, at the end (finish)
                sink: list[tuple[TreeSummary, TreeSummary]] = []
                self.levels.append((pgno, n, out, key, sink))
                self.merges.append(sink)  # its children's merges come before its own into its parent
            else:
                nodes = self.pf.branch_nodes(np.array([pgno], dtype=np.int64), np.array([n], dtype=np.int64))
                self.bottom_levels([_Level(nodes[4], out, key)], depth + 1, max_depth)
        else:
            offs = [pf.node(pgno, i) for i in range(n)]
            kids = [pf.child_pgno(off) for off in offs]
            if depth + 1 == max_depth and not self.scan_all:  # separators bound the leaves' slots
                self.leaves([(kid, pf.node_key(pgno, off) if i else None)
                              for i, (kid, off) in enumerate(zip(kids, offs))], out)
            else:
                for child in kids:
                    self._merge(out, self.subtree(child, depth + 1, max_depth, key))
        if self.cacheable:
            self._cache(key, out, parent)
        return out

    def leaves(self, children: list[tuple[int, bytes | None]], out: TreeSummary) -> None:
        """Children of a bottom branch page: header counts where the slot is known."""
        pf = self.pf
        last = len(children) - 1
        for i, (child, sep) in enumerate(children):
            if not self.visited.add(child):
                raise PageError(f"page {child} is reachable twice")
            flags, lower, upper, _ = pf.header(child, self.limit, "a branch node")
            if flags & PAGE_KINDS != P_LEAF:
                raise PageError(f"page {child} should be a leaf but has flags 0x{flags:x}")
            n = pf.numkeys(child, lower, upper)
            out.leaf_pages += 1
            out.leaf_free_bytes += upper - lower
            slot = None
            if 0 < i < last:
                s1, s2 = slot_of(sep or b""), slot_of(children[i + 1][1] or b"")  # set for i > 0
                if s1 == s2 and s1 != SHORT_KEY_SLOT:
                    slot = s1
            if slot is None or self.scan_all or self.want_space or slot in self.time_slots:
                self.scan_leaf(child, n, out)
                continue
            sp = out.slots.get(slot)
            if sp is None:
                sp = out.slots[slot] = SlotSpace()
            sp.records += n
            sp.leaf_pages += 1
            out.entries += n

    def bottom_levels(self, groups: list[_Level], depth: int, max_depth: int) -> None:
        """The bottom branch pages under several pages (one :class:`_Level` each), vectorised together.

        One numpy pass per bottom branch page cost more in call overhead than in work
        (a 10M-record tree has about 1,800 of them); batching them makes a full walk
        cost tens of milliseconds, which is what a 0.9-format refresh pays every time.
        Their headers are read and checked at once too: an incremental (1.0) walk looks up
        thousands of them in its cache at every refresh of a busy database. A deferred walk
        hands all of the tree's levels at once (one pass per parent page cost a 10M-record
        repeat run ~3 ms more: 58 parents).
        """
        pf = self.pf
        todo: list[_Level] = []
        for level in groups:
            kids = level.kids
            if not len(kids) or not ((kids >= NUM_METAS) & (kids <= self.limit) & (kids < pf.pages_in_file)).all():
                for child in kids.tolist():  # the general walk says which page is out of range
                    level.merge(self, self.subtree(child, depth, max_depth, level.parent))
            else:
                todo.append(level)
        if not todo:
            return
        lens = np.array([len(g.kids) for g in todo], dtype=np.int64)
        kids = np.concatenate([g.kids for g in todo]) if len(todo) > 1 else todo[0].kids
        gid = np.repeat(np.arange(len(todo), dtype=np.int64), lens)
        # the parents' separators around each: all of them (finish) or none (a walk that does not defer)
        given = [g.bounds for g in todo if g.bounds is not None]
        assert not given or len(given) == len(todo)
        lo = np.concatenate([b[0] for b in given]) if given else None
        hi = np.concatenate([b[1] for b in given]) if given else None
        # a walk from a state file's rows: the pages whole (most are reused, after a CRC of their bytes), or
        # their headers only where every row is vouched for already (the state's witness, adopt_summaries)
        saved0 = self.walker.saved
        block, words = None, None
        if self.scattered and saved0 is not None:
            if saved0.verified.all():
                words = pf.header_words(kids, True)
            else:
                block = pf.fresh_pages(kids)
                words = pf.words_of(block) if block is not None else None
        flags, ns = pf.checked_headers(kids, words)
        pf.page_reads += len(kids)
        branch = (flags & PAGE_KINDS) == P_BRANCH
        if not branch.all():  # not what belongs here: the general walk says why
            for child, g in zip(kids[~branch].tolist(), gid[~branch].tolist()):
                todo[g].merge(self, self.subtree(child, depth, max_depth, todo[g].parent))
            kids, ns, gid = kids[branch], ns[branch], gid[branch]
            if lo is not None and hi is not None:
                lo, hi = lo[branch], hi[branch]
            if block is not None:
                block = block[branch]
            if words is not None:  # (headers only, without a block, where every saved row is vouched for)
                words = words[branch]
        repeated = self.visited.add_new(kids)
        if repeated is not None:
            raise PageError(f"page {repeated} is reachable twice (a cycle or a shared page)")
        if (ns < 1).any():
            raise PageError(f"branch page {int(kids[int(np.argmax(ns < 1))])} has no children")
        miss = np.ones(len(kids), dtype=bool)  # not reused: their leaves are read
        keys: list[tuple[int, int]] = []
        if self.cacheable:
            txnids = pf.txnids(kids, words)
            keys = list(zip(kids.tolist(), txnids.tolist()))
            self.seen.update(keys)
            glist = gid.tolist()
            # (a one-shot run from a state file has no summaries in memory: its hits are saved rows)
            if self.walker.cache:
                get = self.walker.cache.get
                hits: dict[int, list[TreeSummary]] = {}
                for i, key in enumerate(keys):
                    f = get(key)
                    if f is not None and f.time_slots == self.time_slots:
                        miss[i] = False
                        hits.setdefault(glist[i], []).append(f)
                        up = todo[glist[i]].parent
                        if up is not None:
                            self.walker.parents[key] = up
                for g, found in hits.items():
                    self.cache_hits += len(found)
                    todo[g].out.merge_many(found)
            saved = self.walker.saved
            if saved is not None and miss.any():  # a state file's rows: merged as columns, never as objects
                cand = np.flatnonzero(miss)
                in_rows = saved.find(kids[cand], txnids[cand].astype(np.int64))
                cand, cand_rows = cand[in_rows >= 0], in_rows[in_rows >= 0]
                crc_of = pf.page_crcs if block is None else pf.copy_crcs(kids, block)
                ok = np.array(saved.usable(crc_of, cand_rows.tolist(), self.time_slots), dtype=bool)
                if ok.any():
                    used, hit_rows, hit_g = cand[ok], cand_rows[ok], gid[cand[ok]]
                    self.cache_hits += len(used)
                    miss[used] = False
                    order = np.lexsort((hit_rows, hit_g))  # per parent, its rows in order
                    hit_rows, hit_g = hit_rows[order], hit_g[order]
                    bounds = np.flatnonzero(np.diff(hit_g)) + 1
                    for part, g in zip(np.split(hit_rows, bounds), hit_g[np.concatenate(([0], bounds))].tolist()):
                        saved.merge_into(part, todo[g].out)
                        if todo[g].parent is not None:
                            saved.parents[part] = todo[g].parent
                    if self.walker.cache:
                        for i in used.tolist():
                            self._used_saved(keys[i])
        left = np.flatnonzero(miss)
        if block is not None and self.cacheable:  # their CRCs, for a state file (their copies are here)
            crc32 = zlib.crc32
            self.walker.crcs.update({keys[i]: crc32(block[i]) for i in left.tolist()})
        batch = list(zip(kids[left].tolist(), ns[left].tolist()))
        around = list(zip(lo[left].tolist(), hi[left].tolist())) if lo is not None and hi is not None else None
        lg = gid[left].tolist()
        outs: list[TreeSummary | None]
        if self.cacheable:
            outs = [TreeSummary(branch_pages=1) for _ in batch]
        else:  # nothing is cached: add straight to the parent's (or the whole walk's) summary
            outs = [None if self.defer else todo[g].out for g in lg]
            for level, n in zip(todo, np.bincount(gid, minlength=len(todo)).tolist()):
                level.out.branch_pages += n
        if self.defer:
            self.pending += batch
            self.pending_outs += outs
            assert around is not None  # a deferred walk hands its levels over with their bounds (finish)
            self.pending_bounds += around
        else:
            self.run_batches(batch, cast("list[TreeSummary]", outs), self.walker.batch_leaves_nodes
                             if self.want_space else self.walker.batch_leaves, around)
        if self.cacheable:
            for i, g, sub in zip(left.tolist(), lg, outs):
                assert sub is not None
                self._cache(keys[i], sub, todo[g].parent)
                todo[g].merge(self, sub)

    def run_batches(self, batch: list[tuple[int, int]], outs: list[TreeSummary], limit: int,
                    bounds: list[tuple[int, int]] | None = None) -> None:
        """:meth:`bottoms` over bottom branch pages, in batches of at most ``limit`` leaves."""
        i = 0
        while i < len(batch):
            j, leaves = i, 0
            while j < len(batch) and (j == i or leaves + batch[j][1] <= limit):
                leaves += batch[j][1]
                j += 1
            self.bottoms(batch[i:j], outs[i:j], bounds[i:j] if bounds is not None else None)
            i = j

    def bottoms(self, branches: list[tuple[int, int]], outs: list[TreeSummary],
                bounds: list[tuple[int, int]] | None = None) -> None:
        """Bottom branch pages (pgno, children; headers checked) and their leaves' headers, at once.

        What the leaves under ``branches[j]`` hold is added to ``outs[j]``. ``bounds[j]``: the slots
        of the separators around ``branches[j]`` in its parent (-1: not known), which bound its first
        and last leaf as its own separators bound the others.
        """
        pf = self.pf
        ps = pf.page_size
        m = len(branches)
        bpg = np.array([b for b, _ in branches], dtype=np.int64)
        ns = np.array([n for _, n in branches], dtype=np.int64)
        total = int(ns.sum())
        br, idx, bbase, node, children, ks = pf.branch_nodes(bpg, ns)

        def first_bad(mask) -> int:
            return int(np.nonzero(mask)[0][0])

        tsep = None
        if len(self.time_arr):  # the separators' slot and time (key bytes 0..10) in one read of the pages
            seps, tsep = self.slots_times_at(node, ks)
        else:
            seps = self.slots_at(node, ks, bbase + ps - 1)
        limit = min(self.limit, pf.pages_in_file - 1)
        bad = (children < NUM_METAS) | (children > limit)
        if bad.any():
            k = first_bad(bad)
            raise PageError(f"branch page {int(bpg[br[k]])} points at page {int(children[k])}, "
                            f"outside the file's pages 2..{limit}")
        kids = children
        if not self.visited.add_many(children):
            raise PageError(f"a leaf under branch page {int(bpg[0])} or its neighbours is reachable twice")
        pf.page_reads += total
        bases = children * ps
        if self.scattered:  # no prefetch before a walk from summaries: these leaves, at once
            from zlmdb_inspect.storage.prefetch import read_missing

            read_missing(pf, children)
        # A leaf between two separators of one slot holds only that slot (keys are sorted) and is
        # counted from its header alone (its nodes are not read); the first and last leaf of each
        # branch page are bounded by the separators around the page in its parent where the walk
        # passes them (``bounds``: not for time slots, nor at a parent's own edges), else by the
        # keys they hold.
        first = last = None
        if bounds is not None:
            first, last = np.array(bounds, dtype=np.int64).reshape(-1, 2).T
        lower, upper = _around(seps, br, idx, first, last)
        known = (lower == upper) & (lower != SHORT_KEY_SLOT)
        if bounds is not None and len(self.time_arr):  # the time slots' first and last leaves keep
            edge = (idx == 0) | np.append(br[:-1] != br[1:], True)  # their own bounds (leaf_times)
            known &= ~(edge & isin(lower, self.time_arr))
        from_parent = np.flatnonzero(known & (idx == 0))  # first leaves whose slot the parent's separators give
        words = None
        if self.scattered and not self.want_space:  # headers only, where the leaf's nodes are not read below
            pread = known & ~isin(seps, self.time_arr) if len(self.time_arr) else known
            words = pf.header_words(children, pread)
        flags, nkeys, free = pf.checked_headers_free(children, words)
        bad = (flags & PAGE_KINDS) != P_LEAF
        if bad.any():
            k = first_bad(bad)
            raise PageError(f"page {int(kids[k])} should be a leaf but has flags 0x{int(flags[k]):x}")
        ov = self.leaf_overflow(bases, nkeys) if self.want_space else None
        sep_slots = seps.copy() if len(self.time_arr) else seps  # the separators' own slots
        if len(from_parent):
            seps[from_parent] = lower[from_parent]
        if ov is not None:
            known &= ~ov.node_scan  # leaves holding named or dup databases: read node by node
        probe = ~known & (nkeys > 0)
        if ov is not None:
            probe &= ~ov.node_scan
        unk = np.nonzero(probe)[0]
        if len(unk):
            first = self.leaf_key_slots(bases[unk], np.zeros(len(unk), dtype=np.int64), kids, unk)
            last = self.leaf_key_slots(bases[unk], nkeys[unk] - 1, kids, unk)
            ok = (first == last) & (first != SHORT_KEY_SLOT)
            seps[unk[ok]] = first[ok]
            known[unk[ok]] = True
        free_per = np.bincount(br, weights=free, minlength=m).astype(np.int64).tolist()
        for j, (_, n) in enumerate(branches):
            outs[j].leaf_pages += n
            outs[j].leaf_free_bytes += free_per[j]
        if len(self.time_arr):
            timed = known & (nkeys > 0)
            timed &= seps == self.time_arr[0] if len(self.time_arr) == 1 else isin(seps, self.time_arr)
            if timed.any():
                assert tsep is not None
                self.leaf_times(np.flatnonzero(timed), tsep, ks, idx, bases, nkeys, seps, sep_slots, br, kids,
                                ov, outs)
        if known.any():
            slots, inv = _codes(seps[known])
            width = len(slots)
            comb = br[known] * width + inv  # (branch page, slot) pairs
            size = m * width
            pages = np.bincount(comb, minlength=size)
            recs = np.bincount(comb, weights=nkeys[known], minlength=size)
            if ov is not None:
                ovp = np.bincount(comb, weights=ov.pages[known], minlength=size)
                ovb = np.bincount(comb, weights=ov.bytes[known], minlength=size)
                mx = np.zeros(size, dtype=np.int64)
                np.maximum.at(mx, comb, ov.largest[known])
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
            self.scan_leaf(int(kids[k]), int(nkeys[k]), outs[int(br[k])])

    def key_times(self, bases: np.ndarray, i: np.ndarray, kids: np.ndarray, which: np.ndarray) -> np.ndarray:
        """The time of node ``i``'s key in each leaf at ``bases`` (uint64; 0, not a time, where the
        key is too short to hold one)."""
        ps = self.pf.page_size
        ptr, node, ks = self.leaf_nodes(bases, i, kids, which)
        long = (ks >= 10) & (ptr + 8 + ks <= ps)
        ts = self.pf.u64s(np.where(long, node + 10, node)).byteswap()  # the key's bytes 2..10, big-endian
        return np.where(long, ts, np.uint64(0))

    def leaf_times(self, timed: np.ndarray, tsep: np.ndarray, ks: np.ndarray, idx: np.ndarray,
                   bases: np.ndarray, nkeys: np.ndarray, seps: np.ndarray, sep_slots: np.ndarray,
                   br: np.ndarray, kids: np.ndarray, ov: LeafSpace | None, outs: list[TreeSummary]) -> None:
        """Per hour of the key times: records and bytes of the leaves ``timed`` (of time slots),
        for a whole batch of leaves at once (per leaf in Python, this tripled the walk).

        A leaf's keys lie between the separator above it and the next one under the same branch
        page (``tsep``: every separator's key bytes 2..10, read with its slot). Where the
        next leaf is timed too, of the same slot, and its separator falls in the same hour, the
        leaf counts whole (its header's count) in that hour and nothing more is done for it: that
        is most leaves, and they cost a handful of numpy operations each (the issue allows a walk
        10 % more for its time slots). The others (an hour or slot changes after them, a bound is
        missing, a gap in the timed leaves) are looked at together: where both bounds fall in
        one UTC day, whole in the hour of the lower one; where a bound is missing (the first and
        last leaf under a branch page: time slots do not take the parent's separators), the leaf's
        own first or last key stands in; only a leaf that spans a day
        boundary is read key by key. So days are exact and hours exact to a leaf page.
        """
        pf = self.pf
        ps = pf.page_size
        k = len(timed)
        single = len(self.time_arr) == 1
        slot0 = int(self.time_arr[0])
        sl = seps[timed] if not single else None  # one time slot: every timed leaf is of it
        # a separator bounds the keys of a time slot where it is of that slot and holds a time
        vslot = np.where((idx > 0) & (ks >= 10), sep_slots, NO_BOUND)
        t = tsep[timed]  # each leaf's lower bound (where has_lo)
        has_lo = vslot[timed] == (slot0 if sl is None else sl)
        hour = (t // _HOUR_U).astype(np.int64)
        # the next leaf's separator is this one's upper bound: where the next leaf is timed as well
        # (in the same branch page, since has_lo says idx > 0 there) and of the same slot, whole if
        # both are in one hour; everything else is a candidate, looked at below
        missing = ~has_lo
        cand = np.empty(k, dtype=bool)
        cand[-1] = True
        np.not_equal(hour[1:], hour[:-1], out=cand[:-1])
        cand[:-1] |= np.diff(timed) != 1
        cand[:-1] |= missing[1:]
        cand |= missing
        if sl is not None:
            cand[:-1] |= sl[1:] != sl[:-1]
        lb = (timed, t, has_lo, hour, tsep, vslot, sl, slot0, nkeys, bases, kids)
        split = self._leaf_bounds(np.flatnonzero(cand), *lb)
        one = len(outs) == 1 or not self.cacheable  # a walk without a cache adds all to one summary
        bt = br[timed] if not one else None
        starts = _runs(hour, sl, bt)
        # a plausible time (2000..2100), checked by the hour of each run (all its leaves have it;
        # UNTIMED is a candidate's): leaves whose separators are no time go as the candidates
        lo_h, hi_h = TIME_MIN_NS // HOUR_NS, TIME_MAX_NS // HOUR_NS
        rh = hour[starts]
        if ((rh != UNTIMED) & ((rh < lo_h) | (rh >= hi_h))).any():
            odd = np.flatnonzero(((hour < lo_h) | (hour >= hi_h)) & ~cand)
            split = np.concatenate((split, self._leaf_bounds(odd, *lb)))
            starts = _runs(hour, sl, bt)
        # whole leaves, summed per run; those that span a day boundary count key by key below
        recs = nkeys[timed]
        if len(split):
            recs[split] = 0
        r_recs = np.add.reduceat(recs, starts)
        if ov is not None:
            units = ov.pages[timed] + 1  # pages per leaf
            if len(split):
                units[split] = 0
            r_pages = np.add.reduceat(units, starts)
        else:
            r_pages = np.diff(np.append(starts, k))
            if len(split):
                np.subtract.at(r_pages, np.searchsorted(starts, split, side="right") - 1, 1)
        rows = np.empty((len(starts), 4))
        rows[:, 0] = slot0 if sl is None else sl[starts]
        rows[:, 1], rows[:, 2], rows[:, 3] = hour[starts], r_recs, r_pages * float(ps)
        if bt is None:
            outs[0].times.append(rows)
        else:
            jj = bt[starts]
            cuts = np.flatnonzero(jj[1:] != jj[:-1]) + 1  # rows of one branch page lie together
            for a, z in zip(np.concatenate(([0], cuts)).tolist(), np.concatenate((cuts, [len(jj)])).tolist(),
                            strict=True):
                outs[int(jj[a])].times.append(rows[a:z])
        if len(split):
            self._split_leaves(timed[unique(split)], nkeys, bases, kids, br, seps, ov, outs, one)

    def _leaf_bounds(self, c: np.ndarray, timed: np.ndarray, t: np.ndarray, has_lo: np.ndarray, hour: np.ndarray,
                     tsep: np.ndarray, vslot: np.ndarray, sl: np.ndarray | None, slot0: int, nkeys: np.ndarray,
                     bases: np.ndarray, kids: np.ndarray) -> np.ndarray:
        """The hour of the leaves ``c`` (positions in ``timed``) from both their bounds, set in
        ``hour``; which of them span a day boundary (to be read key by key)."""
        if not len(c):
            return c
        total = len(vslot)
        lw = timed[c]
        slc = sl[c] if sl is not None else np.full(len(c), slot0)
        lo, have_lo = t[c], has_lo[c]
        nx = lw + 1
        end = nx >= total
        nx = np.minimum(nx, total - 1)
        hi = tsep[nx]
        have_hi = (vslot[nx] == slc) & ~end  # idx > 0 there: the same branch page
        # a bound missing: the leaf's own first or last key stands in (one key per leaf)
        for have, bound, pos in ((have_lo, lo, np.zeros(len(c), dtype=np.int64)), (have_hi, hi, nkeys[lw] - 1)):
            r = np.flatnonzero(~have)
            if len(r):
                bound[r] = self.key_times(bases[lw[r]], pos[r], kids, lw[r])
        one_day = _day_code(lo) == _day_code(hi)  # one day (a plausible time), or no time at all
        hour[c] = hour_of(lo)
        return c[~one_day]

    def _split_leaves(self, split: np.ndarray, nkeys: np.ndarray, bases: np.ndarray, kids: np.ndarray,
                      br: np.ndarray, seps: np.ndarray, ov: LeafSpace | None, outs: list[TreeSummary],
                      one: bool) -> None:
        """Every key of the leaves ``split`` (they span a day boundary), in the hour of its time."""
        pf = self.pf
        ps = pf.page_size
        sn = nkeys[split]
        leaf = np.repeat(np.arange(len(split)), sn)
        i = np.arange(int(sn.sum())) - np.repeat(np.cumsum(sn) - sn, sn)
        lb = bases[split][leaf]
        hours = hour_of(self.key_times(lb, i, kids, split[leaf]))
        kb = np.full(len(i), float(ps)) / sn[leaf]
        if ov is not None:  # values on overflow pages count with their record
            kn = lb + pf.u16s(lb + pf.hdrsz + 2 * i) + pf.pagebase
            big = (pf.u16s(kn + 4) & F_BIGDATA) != 0
            dsize = pf.u16s(kn) | (pf.u16s(kn + 2) << 16)
            kb = kb + np.where(big, ((pf.hdrsz - 1 + dsize) // ps + 1) * ps, 0)
        jj, slot, rr = br[split][leaf], seps[split][leaf], np.ones(len(i))
        if one:
            outs[0].times.append(time_rows(slot, hours, rr, kb))
            return
        cuts = np.flatnonzero(jj[1:] != jj[:-1]) + 1  # leaves of one branch page lie together
        for a, z in zip(np.concatenate(([0], cuts)).tolist(), np.concatenate((cuts, [len(jj)])).tolist(),
                        strict=True):
            outs[int(jj[a])].times.append(time_rows(slot[a:z], hours[a:z], rr[a:z], kb[a:z]))

    def slots_times_at(self, node: np.ndarray, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`slots_at` and the time after the slot (key bytes 2..10, big-endian; not a time
        where the key is shorter) of each node's key, from one gather of 10-byte records: a
        second gather of every separator cost a time-slot walk 4 %."""
        pf = self.pf
        at = node + 8
        if int(at.max()) > pf.file_size - 10:  # a short key at the file's very end
            at = np.minimum(at, pf.file_size - 10)
        if self._v10 is None:
            self._v10 = np.ndarray(shape=(pf.file_size - 9,), dtype="V10", buffer=pf.np, strides=(1,))
        rec = self._v10[at].view(_SLOT_TIME)  # gathered as raw bytes: numpy gathers fields one by one
        slots = np.where(ks >= 2, rec["slot"].astype(np.int64), SHORT_KEY_SLOT)
        return slots, rec["time"].astype(np.uint64)

    def slots_at(self, node, ks, last_byte):
        """The slot of each node's key (its first two bytes), or SHORT_KEY_SLOT; reads stay in the page."""
        v = self.pf.u16s(np.minimum(node + 8, last_byte - 1))  # the key's first two bytes, big-endian
        return np.where(ks >= 2, ((v & 0xFF) << 8) | (v >> 8), SHORT_KEY_SLOT)

    def leaf_nodes(self, bases: np.ndarray, i: np.ndarray, kids: np.ndarray,
                   which: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Node ``i`` of each leaf at ``bases``: its offset in the page, its address and its key's
        size; a node pointer outside its page is damage (``kids[which]`` name the leaves)."""
        pf = self.pf
        ps, h = pf.page_size, pf.hdrsz
        ptr = pf.u16s(bases + h + 2 * i) + pf.pagebase
        bad = (ptr < h) | (ptr + 8 > ps)
        if bad.any():
            raise PageError(f"page {int(kids[int(which[np.nonzero(bad)[0][0]])])}: a node lies outside its page")
        node = bases + ptr
        return ptr, node, pf.u16s(node + 6)

    def leaf_key_slots(self, bases, i, kids, which):
        """Slot of node ``i`` of each leaf at ``bases`` (``kids[which]`` name them in errors)."""
        ps = self.pf.page_size
        ptr, node, ks = self.leaf_nodes(bases, i, kids, which)
        bad = ptr + 8 + ks > ps
        if bad.any():
            raise PageError(f"page {int(kids[int(which[np.nonzero(bad)[0][0]])])}: a key runs past the end of its page")
        return self.slots_at(node, ks, bases + ps - 1)

    def leaf_overflow(self, bases: np.ndarray, nkeys: np.ndarray) -> LeafSpace:
        """Per leaf: overflow pages, overflow bytes, largest value, and whether it needs a node scan.

        Reads every node header of the leaves at once (numpy), because values on
        overflow pages show only in their node's flags.
        """
        pf = self.pf
        ps, h = pf.page_size, pf.hdrsz
        n = len(bases)
        total = int(nkeys.sum())
        zeros = np.zeros(n, dtype=np.int64)
        if total == 0:
            return LeafSpace(zeros, zeros, zeros, np.zeros(n, dtype=bool))
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
        if big.any():
            self._check_overflow(bases[leaf[big]], node[big], ovpages[big])
        ov_pages = np.bincount(leaf, weights=ovpages, minlength=n).astype(np.int64)
        ov_bytes = np.bincount(leaf, weights=np.where(big, dsize, 0), minlength=n).astype(np.int64)
        largest = np.zeros(n, dtype=np.int64)
        np.maximum.at(largest, leaf, np.where(big, dsize, 0))
        return LeafSpace(ov_pages, ov_bytes, largest, odd)

    def _check_overflow(self, bases: np.ndarray, nodes: np.ndarray, pages: np.ndarray) -> None:
        """Values on overflow pages (their leaves at byte ``bases``, nodes at ``nodes``, ``pages`` each):
        each run lies inside the snapshot's pages and the file. LMDB's cursor copies such a value
        through the mapping without looking at the file's end: a run past it (a damaged or hostile
        size or page number) would kill the process with SIGBUS, so the walk that vouches for the
        tree before any cursor reads it says so first."""
        pf = self.pf
        ksize = pf.u16s(nodes + 6)
        doff = nodes + 8 + ((ksize + 1) & ~1 if pf.has_txnid else ksize)
        bad = doff + 8 > bases + pf.page_size
        ops = np.where(bad, 0, pf.u64s(np.where(bad, nodes, doff)).astype(np.int64))  # >= 2**63: negative
        limit = min(self.limit, pf.pages_in_file - 1)
        bad |= (ops < NUM_METAS) | (ops > limit - pages + 1)
        if bad.any():
            k = int(np.argmax(bad))
            raise PageError(f"page {int(bases[k]) // pf.page_size}: a value on overflow pages runs outside "
                            f"the file's pages 2..{limit}")

    def scan_leaf(self, pgno: int, n: int, out: TreeSummary) -> None:
        """Read every node of a leaf: slots, named databases, overflow values."""
        pf = self.pf
        buf = pf.buf
        page_end = (pgno + 1) * pf.page_size
        per_slot: dict[int, int] = {}
        timed: list[tuple[int, int, int]] = []  # (slot, hour, overflow pages) of records of time slots
        for i in range(n):
            off = pf.node(pgno, i)
            lo, hi, nflags, ksize = struct.unpack_from(NATIVE + "4H", buf, off)
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
                    sub_lower = U16.unpack_from(buf, doff + pf.hdrsz - 4)[0]
                    count = (sub_lower - (pf.hdrsz - pf.pagebase)) >> 1
            sp = out.slots.get(slot)
            if sp is None:
                sp = out.slots[slot] = SlotSpace()
            sp.records += count
            sp.value_bytes += dsize
            if nflags & F_BIGDATA:
                if dsize > sp.max_value:
                    sp.max_value = dsize
                ov = pf.ovpages(dsize)
                self._check_overflow(np.array([pgno * pf.page_size]), np.array([off]), np.array([ov]))
                sp.overflow_pages += ov
                sp.overflow_bytes += dsize
                out.overflow_pages += ov
            per_slot[slot] = per_slot.get(slot, 0) + count
            out.entries += count
            if slot in self.time_slots and count == 1:
                ts = int.from_bytes(buf[off + 10:off + 18], "big") if ksize >= 10 else 0
                hour = ts // HOUR_NS if TIME_MIN_NS <= ts < TIME_MAX_NS else UNTIMED
                timed.append((slot, hour, pf.ovpages(dsize) if nflags & F_BIGDATA else 0))
        total = sum(per_slot.values()) or 1
        done = units = 0
        for slot, c in per_slot.items():  # a shared leaf counts by its share of entries, in SHARE_UNITs
            done += c
            share = round(done * SHARE_UNITS / total) - units
            units += share
            out.slots[slot].leaf_pages += share / SHARE_UNITS
        if timed:
            a = np.array(timed, dtype=np.int64)
            out.times.append(time_rows(a[:, 0], a[:, 1], np.ones(len(a)),
                                       pf.page_size / total + a[:, 2] * float(pf.page_size)))

    def free_db(self, meta: Meta) -> tuple[int, int, np.ndarray]:
        """Pages on the freelist, as ``mdb_stat -f`` counts them, and each record (txnid, page
        count) in txnid order; on little-endian hosts the records' page lists too (``free_lists``).

        A busy database has tens of thousands of freelist records; reading them one node at a
        time cost a fifth of a second of a 10M-record walk, so its pages are read a level at a
        time and the leaves' nodes at once (numpy), every field checked. On 1.0, a subtree the
        last walk read (:class:`~zlmdb_inspect.storage.freetree.FreeTree`) is not read again.
        """
        pf = self.pf
        db = meta.free
        if db.root == P_INVALID:
            self.free_lists = np.zeros(0, dtype=np.int64)
            if self.cacheable:
                self.walker.free = FreeTree()
            return 0, 0, np.zeros((0, 2), dtype=np.int64)
        if LITTLE_ENDIAN_HOST:
            return self._free_tree(db.root)
        pages = 0
        leaves: list[int] = []
        stack = [(db.root, 1)]
        visited: set[int] = set()
        while stack:
            pgno, depth = stack.pop()
            if depth > MAX_DEPTH or pgno in visited:
                raise PageError("the free database has a cycle or impossible depth")
            visited.add(pgno)
            flags, lower, upper, _ = pf.header(pgno, self.limit, "the free database")
            n = pf.numkeys(pgno, lower, upper)
            pages += 1
            if flags & P_BRANCH:
                for i in range(n):
                    stack.append((pf.child_pgno(pf.node(pgno, i)), depth + 1))
                continue
            if not flags & P_LEAF:
                raise PageError(f"free database page {pgno} has flags 0x{flags:x}")
            if n:
                leaves.append(pgno)
        if not leaves:
            return 0, pages, np.zeros((0, 2), dtype=np.int64)
        free, pages, records = self._free_leaves_nodes(leaves, pages)  # big-endian machines
        recs = np.array(records, dtype=np.int64).reshape(-1, 2)
        return free, pages, recs[np.argsort(recs[:, 0], kind="stable")]

    def _free_tree(self, root: int) -> tuple[int, int, np.ndarray]:
        """The free database a level at a time (a busy database's freelist has thousands of pages):
        its records in txnid order with their page lists, and its pages; a subtree of the last
        walk's (1.0: the same page number, txnid and CRC-32) taken from it instead of read."""
        pf = self.pf
        saved = self.walker.free if self.cacheable else None
        keep = self.cacheable
        level = np.array([root], dtype=np.int64)
        up = np.array([-1], dtype=np.int64)  # each page's parent's row in this walk's table
        visited = _Visited(pf.pages_in_file)
        limit = min(self.limit, pf.pages_in_file - 1)
        depth, nrows = 1, 0
        keys: list[np.ndarray] = []
        crcs: list[np.ndarray] = []
        ups: list[np.ndarray] = []
        own: list[np.ndarray] = []  # pages each row adds itself (a leaf: with its lists' overflow pages)
        reused_rows: list[np.ndarray] = []  # rows reused from ``saved``, and their rows there
        reused_old: list[np.ndarray] = []
        pieces: list[_FreePiece] = []
        bad_lists: dict[int, str] = {}
        while len(level):
            out = (level < NUM_METAS) | (level > limit)
            if out.any():
                raise PageError(f"the free database points at page {int(level[int(np.argmax(out))])}, "
                                f"outside the file's pages 2..{limit}")
            if depth > MAX_DEPTH or visited.add_new(level) is not None:
                raise PageError("the free database has a cycle or impossible depth")
            words = pf.header_words(level, self.scattered)
            flags, n = pf.checked_headers(level, words)
            pf.page_reads += len(level)
            branch, leaf = (flags & P_BRANCH) != 0, (flags & P_LEAF) != 0
            bad = ~branch & ~leaf
            if bad.any():
                k = int(np.argmax(bad))
                raise PageError(f"free database page {int(level[k])} has flags 0x{int(flags[k]):x}")
            rows = nrows + np.arange(len(level), dtype=np.int64)
            txnids = pf.txnids(level, words).astype(np.int64) if pf.has_txnid else np.zeros(len(level), np.int64)
            hit = np.zeros(len(level), dtype=bool)
            old = np.full(len(level), -1, dtype=np.int64)
            crc = np.zeros(len(level), dtype=np.int64)
            read_crc = np.zeros(len(level), dtype=bool)  # crc holds the page's bytes' CRC already
            if saved is not None and len(saved):
                old = saved.find(level, txnids)
                cand = np.flatnonzero(old >= 0)
                check = cand[~saved.verified[old[cand]]]
                ok = np.ones(len(level), dtype=bool)
                if len(check):  # a page this process has not seen holding that CRC: its bytes say
                    crc[check] = pf.page_crcs(level[check])
                    read_crc[check] = True
                    ok[check] = crc[check] == saved.crcs[old[check]]
                hit[cand] = ok[cand]
                saved.verified[old[hit]] = True
                if hit.any():  # the reused subtrees' pages are this walk's too: a page reached twice is damage
                    below = saved.keys[saved.below(old[hit])[int(hit.sum()):], 0]
                    if len(below) and visited.add_new(below[(below >= NUM_METAS) & (below < pf.pages_in_file)]) \
                            is not None:
                        raise PageError("the free database has a page reachable twice")
            if keep:
                crc[hit] = saved.crcs[old[hit]] if saved is not None else 0
                todo = ~hit & ~read_crc
                if todo.any():
                    crc[todo] = pf.page_crcs(level[todo])
            keys.append(np.stack([level, txnids], axis=1))
            crcs.append(crc)
            ups.append(up)
            mine = np.ones(len(level), dtype=np.int64)
            mine[hit] = 0
            if hit.any():
                assert saved is not None
                reused_rows.append(rows[hit])
                reused_old.append(old[hit])
                for row, o in zip(rows[hit].tolist(), old[hit].tolist()):
                    tx, counts, lists = saved.piece(o)
                    pieces.append(_FreePiece(row, tx, counts, counts, lists))
            read = leaf & ~branch & ~hit & (n > 0)
            if read.any():
                recs = self._free_leaves(level[read], words[read])
                mine[read] += recs.ov_pages
                bad_lists.update(recs.bad)
                for j, row in enumerate(rows[read].tolist()):
                    a, b = int(recs.at[j]), int(recs.at[j + 1])
                    pieces.append(_FreePiece(row, recs.txnids[a:b], recs.counts[a:b], recs.lengths[a:b],
                                             recs.lists[int(recs.list_at[a]):int(recs.list_at[b])]))
            own.append(mine)
            nrows += len(level)
            down = branch & ~hit
            if down.any():
                br, _, _, _, level, _ = pf.branch_nodes(level[down], n[down])
                up = rows[down][br]
            else:
                level = level[:0]
            depth += 1
        return self._free_result(pieces, bad_lists, keep, saved, nrows, keys, crcs, ups, own, reused_rows,
                                 reused_old)

    def _free_result(self, pieces: list[_FreePiece], bad_lists: dict[int, str], keep: bool,
                     saved: FreeTree | None, nrows: int, keys: list[np.ndarray], crcs: list[np.ndarray],
                     ups: list[np.ndarray], own: list[np.ndarray], reused_rows: list[np.ndarray],
                     reused_old: list[np.ndarray]) -> tuple[int, int, np.ndarray]:
        """The records in txnid order, the free database's page count, and (1.0) the table of this
        walk's pages for the next one (``walker.free``): kept only where it is what a walk from
        scratch would build (no damaged list, records in order, each page's records contiguous)."""
        filled = [p for p in pieces if len(p.txnids)]
        filled.sort(key=lambda p: int(p.txnids[0]))
        empty = np.zeros(0, dtype=np.int64)
        txnids = np.concatenate([p.txnids for p in filled]) if filled else empty
        counts = np.concatenate([p.counts for p in filled]) if filled else empty
        lengths = np.concatenate([p.lengths for p in filled]) if filled else empty
        lists = np.concatenate([p.lists for p in filled]) if filled else empty
        if bad_lists:
            keep = False
        in_order = not len(txnids) or bool((np.diff(txnids) > 0).all())
        if not in_order:  # damage (keys out of order, or a record twice): in txnid order, nothing kept
            keep = False
            order = np.argsort(txnids, kind="stable")
            ends = np.cumsum(lengths)
            lists = lists[ranges(ends[order] - lengths[order], ends[order])]
            txnids, counts = txnids[order], counts[order]
        if keep and len(lists) and (int(lists.min()) < NUM_METAS or int(lists.max()) > self.limit):
            keep = False  # a page number beyond the file's pages: said by the free runs, never kept
        self.free_lists, self.free_lists_bad = lists, bad_lists
        # each row's pages and records: its own, plus its children's (a level's rows follow their parents')
        parent = np.concatenate(ups)
        pages = np.concatenate(own)
        nrec = np.zeros(nrows, dtype=np.int64)
        for p in filled:
            nrec[p.row] = len(p.txnids)
        reused = np.concatenate(reused_rows) if reused_rows else empty
        olds = np.concatenate(reused_old) if reused_old else empty
        if len(reused):
            assert saved is not None
            pages[reused] = saved.spans[olds, 2]
        starts = np.cumsum([0] + [len(u) for u in ups])
        for lv in range(len(ups) - 1, 0, -1):  # deepest level first: a level's rows are summed into their parents
            rows = np.arange(starts[lv], starts[lv + 1])
            np.add.at(pages, parent[rows], pages[rows])
            np.add.at(nrec, parent[rows], nrec[rows])
        free_db_pages = int(pages[0])
        records = np.stack([txnids, counts], axis=1)
        if not keep:
            if self.cacheable:
                self.walker.free = None
            return int(counts.sum()), free_db_pages, records
        # each row's span of records: a piece's own; a branch's from its children's (empty: none)
        lo = np.full(nrows, np.iinfo(np.int64).max, dtype=np.int64)
        hi = np.full(nrows, -1, dtype=np.int64)
        at = 0
        for p in filled:
            lo[p.row], hi[p.row] = at, at + len(p.txnids)
            at += len(p.txnids)
        for lv in range(len(ups) - 1, 0, -1):
            rows = np.arange(starts[lv], starts[lv + 1])
            np.minimum.at(lo, parent[rows], lo[rows])
            np.maximum.at(hi, parent[rows], hi[rows])
        empty_span = hi < 0
        lo[empty_span], hi[empty_span] = 0, 0
        if not (hi - lo == nrec).all():  # a page's records not contiguous (damage: a leaf under the wrong branch)
            self.walker.free = None
            return int(counts.sum()), free_db_pages, records
        tree_keys, tree_crcs = np.concatenate(keys), np.concatenate(crcs)
        spans = np.stack([lo, hi, pages], axis=1)
        verified = np.ones(nrows, dtype=bool)
        if len(reused):  # the rows below a reused page: the next walk may reuse parts of it
            assert saved is not None
            below = saved.carried(olds, reused, spans[reused, 0], nrows)
            tree_keys = np.concatenate([tree_keys, below.keys])
            tree_crcs = np.concatenate([tree_crcs, below.crcs])
            parent = np.concatenate([parent, below.parents])
            spans = np.concatenate([spans, below.spans])
            verified = np.concatenate([verified, below.verified])
        self.walker.free = FreeTree(keys=tree_keys, crcs=tree_crcs, parents=parent, spans=spans, txnids=txnids,
                                    counts=counts, lists=lists, verified=verified)
        return int(counts.sum()), free_db_pages, records

    def _free_leaves(self, leaves: np.ndarray, words: np.ndarray | None = None) -> FreeLeaves:
        """Every record on the free database's leaves ``leaves`` (headers checked): (txnid, page count),
        their page lists, and the overflow pages the lists use. A list that does not fit its value
        (damage) is left out (``lengths`` 0) and named in ``bad``: the walk's figures stand, the free
        runs say it is damaged where they need it. ``words``: their headers, where read already."""
        pf = self.pf
        ps, h, pb = pf.page_size, pf.hdrsz, pf.pagebase
        _, _, lower, _ = pf.headers(leaves, words)  # flags, bounds and stored pgnos checked by _free_tree()
        nkeys = (lower - (h - pb)) >> 1
        total = int(nkeys.sum())
        leaf = np.repeat(np.arange(len(leaves)), nkeys)
        bases = np.repeat(leaves * ps, nkeys)
        idx = np.arange(total) - np.repeat(np.cumsum(nkeys) - nkeys, nkeys)
        ptr = pf.u16s(bases + h + 2 * idx) + pb
        bad = (ptr < h) | (ptr + 8 > ps)
        if bad.any():
            raise PageError(f"free database page {int(leaves[leaf[np.nonzero(bad)[0][0]]])}: "
                            "a node lies outside its page")
        node = bases + ptr
        dsize = pf.u16s(node) | (pf.u16s(node + 2) << 16)
        nflags = pf.u16s(node + 4)
        ksize = pf.u16s(node + 6)
        bad = ksize != 8
        if bad.any():
            k = int(np.nonzero(bad)[0][0])
            raise PageError(f"free database page {int(leaves[leaf[k]])} has a {int(ksize[k])}-byte key")
        end = bases + ps
        big = (nflags & F_BIGDATA) != 0
        doff = node + 16  # an 8-byte key: no padding in either format
        bad = (doff + np.where(big, 8, np.maximum(dsize, 8)) > end) | (dsize < 8)
        if bad.any():
            k = int(np.nonzero(bad)[0][0])
            raise PageError(f"free database page {int(leaves[leaf[k]])} has a short page list or "
                            "a value that runs past its page")
        txnids = pf.u64s(node + 8).astype(np.int64)
        limit = min(self.limit, pf.pages_in_file - 1)
        count_at = doff
        ov_pages = np.zeros(len(leaves), dtype=np.int64)
        if big.any():
            ops = pf.u64s(doff[big]).astype(np.int64)  # >= 2**63 turns negative: out of range
            n = (h - 1 + dsize[big]) // ps + 1
            bad = (ops < NUM_METAS) | (ops + n - 1 > limit)
            if bad.any():
                k = int(np.nonzero(big)[0][np.nonzero(bad)[0][0]])
                raise PageError(f"free database page {int(leaves[leaf[k]])}: overflow value runs "
                                "outside the file")
            pf.page_reads += len(ops)
            count_at = doff.copy()
            count_at[big] = ops * ps + h
            ov_pages = np.bincount(leaf[big], weights=n, minlength=len(leaves)).astype(np.int64)
        counts = pf.u64s(count_at)
        bad = counts > np.uint64(self.limit)
        if bad.any():
            k = int(np.nonzero(bad)[0][0])
            raise PageError(f"free database record {int(txnids[k])} lists {int(counts[k])} pages")
        counts = counts.astype(np.int64)
        # a list is its value after the count: one that claims more numbers than its value holds is damaged
        short = 8 * (counts + 1) > dsize
        lengths = np.where(short, 0, counts)
        at = np.zeros(len(leaves) + 1, dtype=np.int64)
        np.cumsum(nkeys, out=at[1:])
        list_at = np.zeros(total + 1, dtype=np.int64)
        np.cumsum(lengths, out=list_at[1:])
        first = count_at.astype(np.int64) + 8
        ends = list_at[1:]
        addr = np.repeat(first - 8 * (ends - lengths), lengths) + 8 * np.arange(int(list_at[-1]), dtype=np.int64)
        raw = pf.u64s(addr)  # every list in one gather (a value lies inside its page or overflow pages)
        lists = raw.astype(np.int64)  # >= 2**63 turns negative: out of range for the free runs
        if not len(lists) or (0 <= int(lists.min()) and int(lists.max()) < 1 << 31):
            lists = lists.astype(np.int32)  # half the bytes to keep, sort and scan (files < 8 TiB)
        bad_lists = {int(t): f"free-list record {int(t)} lists more pages ({int(c)}) than its value holds"
                     for t, c in zip(txnids[short].tolist(), counts[short].tolist())}
        return FreeLeaves(txnids, counts, lengths, at, list_at, lists, ov_pages, bad_lists)

    def _free_leaves_nodes(self, leaves: list[int], pages: int) -> tuple[int, int, list[tuple[int, int]]]:
        """The freelist records node by node (big-endian machines)."""
        pf = self.pf
        records: list[tuple[int, int]] = []
        for pgno in leaves:
            _, lower, upper, _ = pf.header(pgno, self.limit, "the free database")
            for i in range(pf.numkeys(pgno, lower, upper)):
                off = pf.node(pgno, i)
                key = pf.node_key(pgno, off)
                if len(key) != 8:
                    raise PageError(f"free database page {pgno} has a {len(key)}-byte key")
                txnid = int.from_bytes(key, sys.byteorder)
                nflags = U16.unpack_from(pf.buf, off + 4)[0]
                if nflags & F_BIGDATA:
                    dsize = U16.unpack_from(pf.buf, off)[0] | (U16.unpack_from(pf.buf, off + 2)[0] << 16)
                    pages += pf.ovpages(dsize)
                head = pf.read_value(pgno, off, self.limit, head=8)
                if len(head) < 8:
                    raise PageError(f"free database page {pgno} has a short page list")
                count = int.from_bytes(head, sys.byteorder)
                if count > self.limit:
                    raise PageError(f"free database record {txnid} lists {count} pages")
                records.append((txnid, count))
        return sum(c for _, c in records), pages, records


def unwritten_pages_are_free(pf: PageFile, meta: Meta) -> bool:
    """Whether every page the meta page counts as in use but past the end of ``data.mdb`` is on the
    free list. LMDB writes a page only when it commits it dirty: one allocated at the end and freed
    again in the same transaction (a delete that merges pages) is counted by ``last_pgno`` and never
    written, so a healthy file can be shorter than the meta page says; a truncated one lacks pages
    the trees still use. Reads the free database only (through :class:`PageFile`'s bounds checks);
    False where it cannot tell (damage, a big-endian host)."""
    reads = pf.page_reads
    try:
        w = _Walk(TreeWalker(), pf, meta, remember=False)
        w.free_db(meta)
    except PageError:
        return False
    finally:
        pf.page_reads = reads  # not the snapshot's reads
    if w.free_lists is None or w.free_lists_bad:
        return False
    past = np.arange(pf.pages_in_file, meta.last_pgno + 1, dtype=np.int64)
    return bool(np.isin(past, w.free_lists).all())


def root_crc(pf: PageFile, meta: Meta) -> int:
    """CRC-32 of the main tree's root page (0 for an empty tree): what a 0.9 summary is keyed by besides
    the snapshot's txnid, since 0.9 pages carry no txnid of their own."""
    root = meta.main.root
    if root == P_INVALID or not 0 <= root <= meta.last_pgno or (root + 1) * pf.page_size > pf.file_size:
        return 0
    return int(pf.page_crcs(np.array([root]))[0])



