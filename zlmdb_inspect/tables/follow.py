"""Follow one table's changes between snapshots, from the leaf pages that changed.

LMDB never writes a page in place: a transaction that changes a record copies its leaf
to a new page. So between two snapshots only leaves the old snapshot did not have can
hold changed records, and only records of leaves the new snapshot no longer has can have
changed or gone. A leaf is the same when its identity is: on 1.0-format files (page
number, txnid of the transaction that wrote it), which no later page can repeat; on 0.9
files the page number alone is not enough (a freed number is reused by a later
transaction), so the identity is (page number, CRC-32 of its bytes).

Each poll reads the leaf headers of the table (0.9: its leaf bytes, for the CRC) and only
the changed leaves' records, in one short read transaction; none is held between polls.

Memory is bounded by what is followed exactly, not by the table. At most ``exact`` records
(default 100,000; for a bigger table the last ``exact`` by key, where time-ordered keys change)
are followed exactly: each record's key and a 12-byte digest of its value, packed per leaf
(:class:`Digests`: about 25 bytes a record for 10-byte keys, not ~140 in a dict), with each of
their leaves' identity and key range. Every insert, update and delete among them between two
polls is reported once, with the net effect (inserted then updated is one insert; inserted then
deleted is nothing). The rest of the table is kept per group: the leaves under one bottom
branch page (~100-200 leaves), as one identity (a 64-bit digest of its leaves' identities), key
range and record count: for 400,000 records in 9,488 leaves (47 bottom branch pages) beyond
1,000 exact ones, 96 KiB in all (tracemalloc), where one state per leaf took 2.7 MiB and grew
~29 MiB an hour under 600 publications a second. A changed group is reported at page-range
granularity: one ``{"change": "pages", "from": first key, "to": last key, "records": new count,
"was": old count}`` per changed key range, without per-record detail.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zlmdb_inspect.core.slots import slot_end, slot_prefix
from zlmdb_inspect.storage.leaves import Leaf, LeafWalk
from zlmdb_inspect.storage.pageformat import MAX_DEPTH, P_BRANCH, P_INVALID, P_LEAF, PageError

if TYPE_CHECKING:
    from zlmdb_inspect.core.model import Table
    from zlmdb_inspect.storage.inspector import Inspector
    from zlmdb_inspect.tables.catalog import TableCodecs

EXACT_RECORDS = 100_000


def _digest(v: bytes) -> bytes:
    import hashlib  # follow mode only

    return hashlib.blake2b(v, digest_size=_DIGEST).digest()


_DIGEST = 12


class Digests:
    """A leaf's exactly followed records, (key, value digest) pairs packed in one bytes object.

    A dict of small bytes objects costs ~140 bytes a record; packed, a record costs its key, 2 bytes of
    length and the 12-byte digest. The dict is rebuilt only for a leaf that changed (it left the tree).
    """

    __slots__ = ("blob", "n")

    def __init__(self, recs: dict[bytes, bytes]) -> None:
        self.blob = b"".join(struct.pack(">H", len(k)) + k + d for k, d in recs.items())
        self.n = len(recs)

    def __len__(self) -> int:
        return self.n

    def as_dict(self) -> dict[bytes, bytes]:
        out: dict[bytes, bytes] = {}
        b, i = self.blob, 0
        while i < len(b):
            n = struct.unpack_from(">H", b, i)[0]
            k, i = b[i + 2:i + 2 + n], i + 2 + n
            out[k], i = b[i:i + _DIGEST], i + _DIGEST
        return out


Ident = tuple[int, ...]
GROUP = -1  # the last field of a group's identity: a leaf's has two fields, so never equals it
_IDENT = struct.Struct(">QQ")


@dataclass(slots=True)
class LeafState:
    """What the follower keeps of one leaf, or of a group (the leaves under one bottom branch page)."""

    ident: Ident  # a leaf: (page number, txnid or CRC-32); a group: (leaves, digest of their identities, GROUP)
    first: bytes
    last: bytes
    count: int
    records: Digests | None  # keys and value digests; None beyond the exact budget (always for a group)


@dataclass(slots=True)
class Kid:
    """A leaf under a bottom branch page, during one poll."""

    pgno: int
    ident: Ident
    n: int  # nodes on the page; -1: its header was not read in this poll
    count: int = 0  # the table's records on it
    first: bytes = b""
    last: bytes = b""
    exact: bool = False


@dataclass(slots=True)
class Bottom:
    """A bottom branch page (or the root leaf) under the table's key range, during one poll."""

    branch: Ident | None  # 1.0: (page number, txnid) of the branch page; None: the root leaf, or 0.9
    key: Ident  # the identity of its leaves as a group
    kids: list[Kid] | None  # None: not read (1.0, an unchanged group)
    exact: bool = False  # some of its leaves hold exactly followed records: kept per leaf


def _group_key(kids: list[Kid]) -> Ident:
    """A group's identity: its leaves' identities in order, digested (64 bits), and how many."""
    import hashlib  # follow mode only

    h = hashlib.blake2b(b"".join(_IDENT.pack(*k.ident) for k in kids), digest_size=8).digest()
    return (len(kids), int.from_bytes(h, "big"), GROUP)


@dataclass(slots=True)
class Change:
    change: str  # insert, update, delete, pages
    key: bytes
    txnid: int
    value: bytes | None = None  # raw value (insert, update)
    to_key: bytes | None = None  # pages: the end of the range
    records: int = 0  # pages: records now
    was: int = 0  # pages: records before


@dataclass
class Follower:
    """Follows one table; :meth:`poll` returns what changed since the previous poll.

    ``leaves`` holds one :class:`LeafState` per leaf under the bottom branch pages that hold
    exactly followed records, and one per group (all leaves under one bottom branch page) for
    the rest: beyond the exact records, the state grows with the table's bottom branch pages
    (one per ~100-200 leaves), not with its leaves.
    """

    ins: Inspector
    table: Table
    exact: int = EXACT_RECORDS
    leaves: dict[Ident, LeafState] = field(default_factory=dict)
    started: bool = False
    last_txnid: int = 0
    leaf_reads: int = 0  # leaves whose records were read (changed ones), over all polls
    leaf_pages: int = 0  # leaf pages under the table's key range at the last poll
    branches: dict[Ident, list[Ident]] = field(default_factory=dict)  # 1.0: an upper branch's children
    # 1.0: a bottom branch page's group identity, and its leaves' when they are kept per leaf
    bottoms: dict[Ident, tuple[Ident, list[Ident] | None]] = field(default_factory=dict)

    @property
    def prefix(self) -> bytes:
        return slot_prefix(self.table.slot)

    def _end(self) -> bytes | None:
        return slot_end(self.table.slot)

    def _kids(self, pf, meta, branch: int | None, prefix: bytes, end: bytes | None) -> list[Kid]:
        """The leaves under bottom branch page ``branch`` (None: the root is the only leaf) that may
        hold keys in [prefix, end), with their identities (0.9: a CRC of each page)."""
        if branch is None:
            pgnos = [meta.main.root]
        else:
            flags, lower, upper, _ = pf.header(branch, meta.last_pgno, "the tree")
            n = pf.numkeys(branch, lower, upper)
            lo, hi = _child_span(pf, branch, n, prefix, end)
            pgnos = [pf.child_pgno(pf.node(branch, i)) for i in range(lo, hi + 1)]
        kids = []
        for pgno in pgnos:
            flags, lower, upper, txnid = pf.header(pgno, meta.last_pgno, "the tree")
            if not flags & P_LEAF:
                raise PageError(f"page {pgno} is not a leaf page where one belongs")
            ident = (pgno, txnid) if pf.has_txnid else (pgno, zlib.crc32(pf.buf[pgno * pf.page_size:
                                                                               (pgno + 1) * pf.page_size]))
            kids.append(Kid(pgno, ident, pf.numkeys(pgno, lower, upper)))
        return kids

    def _describe(self, pf, walk: LeafWalk, kids: list[Kid], prefix: bytes, end: bytes | None) -> list[Kid]:
        """The kids that hold the table's records, with their counts and key ranges (a known leaf's
        from memory; a new one's from its first and last key, all its keys only at the table's ends)."""
        out = []
        for k in kids:
            st = self.leaves.get(k.ident)
            if st is not None:
                k.count, k.first, k.last = st.count, st.first, st.last
            elif k.n > 0:
                lo, hi = pf.node_key(k.pgno, pf.node(k.pgno, 0)), pf.node_key(k.pgno, pf.node(k.pgno, k.n - 1))
                if lo[:2] == prefix and hi[:2] == prefix and (end is None or hi < end):
                    k.count, k.first, k.last = k.n, lo, hi
                else:  # a leaf at the table's ends may hold other tables' records
                    keys = [x for x in (walk.key(off, ks) for off, _, ks, _ in walk.nodes(Leaf(k.pgno, 0, k.n)))
                            if x[:2] == prefix and (end is None or x < end)]
                    if keys:
                        k.count, k.first, k.last = len(keys), keys[0], keys[-1]
            if k.count:
                out.append(k)
        return out

    def _bottoms(self, pf, meta, prefix: bytes, end: bytes | None) -> list[Bottom]:
        """The bottom branch pages whose leaves may hold keys in [prefix, end), in key order.

        On 1.0 files a branch page seen at the last poll (same page number and txnid) has the
        same children: an upper one's subtree is taken from memory without reading a page, and
        a bottom one's group (or its leaves' identities) too.
        """
        out: list[Bottom] = []
        branches: dict[Ident, list[Ident]] = {}

        def known_bottom(ident: Ident) -> bool:
            cached = self.bottoms.get(ident)
            if cached is None:
                return False
            key, ids = cached
            if ids is None:
                if key not in self.leaves:
                    return False
                out.append(Bottom(ident, key, None))
            else:
                if not all(i in self.leaves for i in ids):
                    return False
                out.append(Bottom(ident, key, [Kid(i[0], i, -1) for i in ids]))
            return True

        def visit(pgno: int, depth: int, ident: Ident | None = None) -> Ident:
            if depth > MAX_DEPTH:
                raise PageError("the tree is deeper than LMDB allows")
            if ident is not None:  # a child of an unchanged branch: from memory when known
                sub = self.branches.get(ident)
                if sub is not None:
                    branches[ident] = sub
                    for kid in sub:
                        visit(kid[0], depth + 1, kid)
                    return ident
                if known_bottom(ident):
                    return ident
            flags, lower, upper, txnid = pf.header(pgno, meta.last_pgno, "the tree")
            n = pf.numkeys(pgno, lower, upper)
            if flags & P_LEAF:  # the root
                kids = self._kids(pf, meta, None, prefix, end)
                out.append(Bottom(None, _group_key(kids), kids))
                return (pgno, txnid)
            if not flags & P_BRANCH or n < 1:
                raise PageError(f"page {pgno} is not a branch page where one belongs")
            ident = (pgno, txnid)
            if pf.has_txnid and ident in self.branches:
                return visit(pgno, depth, ident)
            if pf.has_txnid and known_bottom(ident):
                return ident
            if depth == meta.main.depth - 1:
                kids = self._kids(pf, meta, pgno, prefix, end)
                out.append(Bottom(ident if pf.has_txnid else None, _group_key(kids), kids))
                return ident
            first, last = _child_span(pf, pgno, n, prefix, end)
            kids_ = [visit(pf.child_pgno(pf.node(pgno, i)), depth + 1) for i in range(first, last + 1)]
            if pf.has_txnid:
                branches[ident] = kids_
            return ident

        if meta.main.root != P_INVALID:
            visit(meta.main.root, 1)
        self.branches = branches
        return out

    def _units(self, pf, meta, walk: LeafWalk, prefix: bytes, end: bytes | None
               ) -> tuple[list[tuple[Kid | None, LeafState]], dict[Ident, LeafState]]:
        """This poll's units in key order: (a leaf, or None for a group; its state without records),
        and the last poll's states regrouped as this poll groups the same leaves."""
        bottoms = self._bottoms(pf, meta, prefix, end)
        # the exact budget: the last `exact` records by key, leaf by leaf from the end
        total = 0
        for b in reversed(bottoms):
            if b.kids is None:
                assert b.branch is not None  # the window reaches into an unchanged group: its leaves are read
                b.kids = self._kids(pf, meta, b.branch[0], prefix, end)
            b.kids = self._describe(pf, walk, b.kids, prefix, end)
            for k in reversed(b.kids):
                if total + k.count > self.exact:
                    break
                total += k.count
                k.exact = b.exact = True
            else:
                continue
            break
        prev = dict(self.leaves)
        units: list[tuple[Kid | None, LeafState]] = []
        bottoms_cache: dict[Ident, tuple[Ident, list[Ident] | None]] = {}
        pages = 0
        for b in bottoms:
            pages += b.key[0]
            if b.exact:
                assert b.kids is not None
                was_group = prev.pop(b.key, None) is not None
                for k in b.kids:
                    st = self.leaves.get(k.ident) or LeafState(k.ident, k.first, k.last, k.count, None)
                    if was_group:  # the same leaves, kept as a group until now: known, not followed exactly
                        prev[k.ident] = st
                    units.append((k, st))
                if b.branch is not None:
                    bottoms_cache[b.branch] = (b.key, [k.ident for k in b.kids])
                continue
            g = self.leaves.get(b.key)
            if g is None:
                assert b.kids is not None
                kids = self._describe(pf, walk, b.kids, prefix, end)
                if not kids:
                    continue
                g = LeafState(b.key, kids[0].first, kids[-1].last, sum(k.count for k in kids), None)
                if all(k.ident in prev for k in kids):  # the same leaves, kept per leaf until now
                    for k in kids:
                        del prev[k.ident]
                    prev[b.key] = g
            units.append((None, g))
            if b.branch is not None:
                bottoms_cache[b.branch] = (b.key, None)
        self.bottoms = bottoms_cache
        self.leaf_pages = pages
        return units, prev

    def poll(self) -> list[Change]:
        """Changes since the previous poll (none on the first: it takes the starting state)."""
        prefix, end = self.prefix, self._end()

        def body(txn, pf, meta):
            walk = LeafWalk(pf, meta)
            units, prev = self._units(pf, meta, walk, prefix, end)
            new_ids = {st.ident for _, st in units}
            gone = [st for ident, st in prev.items() if ident not in new_ids]
            changes: list[Change] = []
            new_state: dict[Ident, LeafState] = {}
            new_records: dict[bytes, tuple[bytes, int]] = {}
            fresh_inexact: list[LeafState] = []
            for kid, st in units:
                ident = st.ident
                exact = kid is not None and kid.exact
                old = prev.get(ident)
                if old is not None and (old.records is not None) == exact:
                    new_state[ident] = old
                    continue
                if not exact:  # beyond the exact records (or the exact window moved on): the range only
                    new_state[ident] = st if st.records is None else LeafState(ident, st.first, st.last,
                                                                               st.count, None)
                    if old is None:
                        fresh_inexact.append(new_state[ident])
                    continue
                assert kid is not None
                recs: dict[bytes, bytes] = {}
                self.leaf_reads += 1
                if kid.n < 0:  # the page's node count (a kid known from an earlier poll has none)
                    fl, lower, upper, txnid = pf.header(kid.pgno, meta.last_pgno, "the tree")
                    kid.n = pf.numkeys(kid.pgno, lower, upper)
                leaf = Leaf(kid.pgno, ident[1] if pf.has_txnid else 0, kid.n)
                for off, _, ks, _ in walk.nodes(leaf):
                    k = walk.key(off, ks)
                    if k[:2] != prefix or (end is not None and k >= end):
                        continue
                    v = walk.value(leaf, off)
                    recs[k] = _digest(v)
                    if old is None:
                        new_records[k] = (v, leaf.txnid or meta.txnid)
                new_state[ident] = LeafState(ident, st.first, st.last, st.count, Digests(recs))
            if self.started:
                old_records: dict[bytes, bytes] = {}
                inexact_gone = []
                for g in gone:
                    if g.records is None:
                        inexact_gone.append(g)
                    else:
                        old_records.update(g.records.as_dict())
                for k, (v, txnid) in sorted(new_records.items()):
                    d = old_records.pop(k, None)
                    if d is None:
                        if not _covered(inexact_gone, k):
                            changes.append(Change("insert", k, txnid, v))
                    elif d != _digest(v):
                        changes.append(Change("update", k, txnid, v))
                # a key lives in one leaf: one that left a gone leaf and is in no fresh one was deleted,
                # unless it may be in a fresh leaf or group beyond the exact records (then its range says so)
                for k in sorted(old_records):
                    if not _covered(fresh_inexact, k):
                        changes.append(Change("delete", k, meta.txnid))
                spans = sorted([(g.first, g.last, g.count, 0) for g in inexact_gone] +
                               [(st.first, st.last, 0, st.count) for st in fresh_inexact])
                merged: list[list[Any]] = []
                for lo, hi, was, now in spans:  # overlapping old and new ranges are one change
                    if merged and lo <= merged[-1][1]:
                        m = merged[-1]
                        m[1], m[2], m[3] = max(m[1], hi), m[2] + was, m[3] + now
                    else:
                        merged.append([lo, hi, was, now])
                for lo, hi, was, now in merged:
                    changes.append(Change("pages", lo, meta.txnid, to_key=hi, records=now, was=was))
                changes.sort(key=lambda c: c.key)
            self.leaves = new_state
            self.last_txnid = meta.txnid
            return changes

        out = self.ins.read(body, bounded=True)  # pages only
        self.started = True
        return out


def _child_span(pf, pgno: int, n: int, lo: bytes, hi: bytes | None) -> tuple[int, int]:
    """The first and last child of a branch page whose key range meets [lo, hi)."""

    def last_at_or_below(key: bytes, strict: bool) -> int:
        a, b = 1, n  # the last child whose separator is <= key (< key when strict)
        while a < b:
            mid = (a + b) // 2
            sep = pf.node_key(pgno, pf.node(pgno, mid))
            if sep < key or (not strict and sep == key):
                a = mid + 1
            else:
                b = mid
        return a - 1

    return last_at_or_below(lo, False), (n - 1 if hi is None else last_at_or_below(hi, True))


def _covered(states: list[LeafState], key: bytes) -> bool:
    return any(s.first <= key <= s.last for s in states)


def to_json(change: Change, catalog: TableCodecs, ins: Inspector, table: Table) -> dict[str, Any]:
    """A change as ``--dump --follow`` prints it: the key and value decoded like ``--dump``."""
    codec = catalog.profiled(ins, table)
    if change.change == "pages":
        lo = codec.decode(change.key, b"", 0).key
        hi = codec.decode(change.to_key or change.key, b"", 0).key
        return {"change": "pages", "from": lo, "to": hi, "records": change.records, "was": change.was,
                "txnid": change.txnid}
    if change.value is None:
        rec = codec.decode(change.key, b"", 0)
        return {"change": change.change, "key": rec.key, "txnid": change.txnid}
    rec = codec.decode(change.key, change.value, None)
    return {"change": change.change, "key": rec.key, "value": rec.value, "txnid": change.txnid}


class JsonFollow:
    """A :class:`Follower` whose changes come out as ``--dump --follow`` prints them."""

    def __init__(self, ins: Inspector, codecs: TableCodecs, table: Table, exact: int = EXACT_RECORDS):
        self.follower = Follower(ins, table, exact)
        self.codecs, self.ins, self.table = codecs, ins, table

    def poll(self, newest: int | None = None) -> list[dict[str, Any]]:
        """The changes since the last poll; each dict also holds its raw key as ``_raw_key``
        (None for page ranges) for filtering by key range.

        With ``newest``, only the ``newest`` newest changes (by txnid, then key, both descending: the
        Changes pane's order) are decoded; the others come back as ``{"change", "txnid", "_raw_key",
        "_undecoded": True}``, to be counted. A pane that shows 200 rows need not decode the 1,200
        records a busy table gains between two polls (with ``--import``, ~45 µs each).
        """
        changes = self.follower.poll()
        order = sorted(range(len(changes)), key=lambda i: (changes[i].txnid, i), reverse=True)
        decode = set(order if newest is None else order[:newest])
        out = []
        for i, c in enumerate(changes):
            raw = c.key if c.change != "pages" else None
            if i in decode:
                d = to_json(c, self.codecs, self.ins, self.table)
                d["_raw_key"] = raw
            else:
                d = {"change": c.change, "txnid": c.txnid, "_raw_key": raw, "_undecoded": True}
            out.append(d)
        return out
