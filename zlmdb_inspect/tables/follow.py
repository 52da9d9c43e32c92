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

Memory: the follower keeps, per leaf, its identity and key range (~350 bytes a leaf: this part grows
with the table, ~14 bytes a record for cfxdb publications), and for at
most ``exact`` records (default 100,000; for a bigger table the last ``exact`` by key,
where time-ordered keys change) each record's key and a 12-byte digest of its value, packed
per leaf (:class:`Digests`: about 25 bytes a record for 10-byte keys, not ~140 in a dict). Those
records are followed exactly: every insert, update and delete between two polls is
reported once, with the net effect (inserted then updated is one insert; inserted then
deleted is nothing). Changes in leaves beyond them are reported at page-range granularity:
one ``{"change": "pages", "from": first key, "to": last key, "records": new count,
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


@dataclass(slots=True)
class LeafState:
    ident: tuple[int, int]
    first: bytes
    last: bytes
    count: int
    records: Digests | None  # keys and value digests; None beyond the exact budget


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
    """Follows one table; :meth:`poll` returns what changed since the previous poll."""

    ins: Inspector
    table: Table
    exact: int = EXACT_RECORDS
    leaves: dict[tuple[int, int], LeafState] = field(default_factory=dict)
    started: bool = False
    last_txnid: int = 0
    leaf_reads: int = 0  # leaves whose records were read (changed ones), over all polls
    branches: dict[tuple[int, int], list[tuple[int, int]]] = field(default_factory=dict)  # 1.0: children

    @property
    def prefix(self) -> bytes:
        return slot_prefix(self.table.slot)

    def _end(self) -> bytes | None:
        return slot_end(self.table.slot)

    def _leaves_in_range(self, pf, meta, prefix: bytes, end: bytes | None) -> list[tuple[int, tuple[int, int]]]:
        """(page number, identity) of the leaves that may hold keys in [prefix, end), in key order.

        On 1.0 files a branch page seen at the last poll (same page number and txnid) has the
        same children: its subtree is taken from memory without reading a page.
        """
        out: list[tuple[int, tuple[int, int]]] = []
        branches: dict[tuple[int, int], list[tuple[int, int]]] = {}
        old = self.branches

        def expand(kids: list[tuple[int, int]]) -> None:
            for kid in kids:
                sub = old.get(kid)
                if sub is not None:
                    branches[kid] = sub
                    expand(sub)
                else:
                    out.append((kid[0], kid))

        def visit(pgno: int, depth: int) -> tuple[int, int]:
            if depth > MAX_DEPTH:
                raise PageError("the tree is deeper than LMDB allows")
            flags, lower, upper, txnid = pf.header(pgno, meta.last_pgno, "the tree")
            n = pf.numkeys(pgno, lower, upper)
            if flags & P_LEAF:
                ident = (pgno, txnid) if pf.has_txnid else (pgno, zlib.crc32(pf.buf[pgno * pf.page_size:
                                                                                   (pgno + 1) * pf.page_size]))
                out.append((pgno, ident))
                return ident
            if not flags & P_BRANCH or n < 1:
                raise PageError(f"page {pgno} is not a branch page where one belongs")
            ident = (pgno, txnid)
            if pf.has_txnid and ident in old:
                branches[ident] = old[ident]
                expand(old[ident])
                return ident
            first, last = _child_span(pf, pgno, n, prefix, end)
            kids = [visit(pf.child_pgno(pf.node(pgno, i)), depth + 1) for i in range(first, last + 1)]
            if pf.has_txnid:
                branches[ident] = kids
            return ident

        if meta.main.root != P_INVALID:
            visit(meta.main.root, 1)
        self.branches = branches
        return out

    def poll(self) -> list[Change]:
        """Changes since the previous poll (none on the first: it takes the starting state)."""
        prefix, end = self.prefix, self._end()

        def body(txn, pf, meta):
            walk = LeafWalk(pf, meta)
            seen: list[tuple[Leaf, tuple[int, int], bytes, bytes, int]] = []
            for pgno, ident in self._leaves_in_range(pf, meta, prefix, end):
                old = self.leaves.get(ident)
                if old is not None:
                    seen.append((Leaf(pgno, ident[1] if pf.has_txnid else 0, old.count), ident,
                                 old.first, old.last, old.count))
                    continue
                flags, lower, upper, txnid = pf.header(pgno, meta.last_pgno, "the tree")
                leaf = Leaf(pgno, txnid, pf.numkeys(pgno, lower, upper))
                nodes = list(walk.nodes(leaf))
                keys = [k for k in (walk.key(off, ks) for off, _, ks, _ in nodes)
                        if k[:2] == prefix and (end is None or k < end)]
                if keys:  # leaves at the range's ends may hold only other tables' records
                    seen.append((leaf, ident, keys[0], keys[-1], len(keys)))
            new_ids = {s[1] for s in seen}
            gone = [st for ident, st in self.leaves.items() if ident not in new_ids]
            fresh = [s for s in seen if s[1] not in self.leaves]
            # the exact budget: the last `exact` records by key
            budget_from = len(seen)
            total = 0
            for i in range(len(seen) - 1, -1, -1):
                if total + seen[i][4] > self.exact:
                    break
                total += seen[i][4]
                budget_from = i
            changes: list[Change] = []
            new_state: dict[tuple[int, int], LeafState] = {}
            new_records: dict[bytes, tuple[bytes, int]] = {}
            for idx, (leaf, ident, first, last, count) in enumerate(seen):
                exact = idx >= budget_from
                old = self.leaves.get(ident)
                if old is not None and (old.records is not None) == exact:
                    new_state[ident] = old
                    continue
                if old is not None and not exact:  # the exact window moved on: keep the range only
                    new_state[ident] = LeafState(ident, old.first, old.last, old.count, None)
                    continue
                recs: dict[bytes, bytes] | None = None
                if exact:
                    recs = {}
                    self.leaf_reads += 1
                    if old is not None:  # known, but not followed exactly until now: its nodes are read
                        fl, lower, upper, txnid = pf.header(leaf.pgno, meta.last_pgno, "the tree")
                        leaf = Leaf(leaf.pgno, txnid, pf.numkeys(leaf.pgno, lower, upper))
                    for off, _, ks, _ in walk.nodes(leaf):
                        k = walk.key(off, ks)
                        if k[:2] != prefix or (end is not None and k >= end):
                            continue
                        v = walk.value(leaf, off)
                        recs[k] = _digest(v)
                        if old is None:
                            new_records[k] = (v, leaf.txnid or meta.txnid)
                new_state[ident] = LeafState(ident, first, last, count, None if recs is None else Digests(recs))
            if self.started:
                old_records: dict[bytes, bytes] = {}
                inexact_gone = []
                for st in gone:
                    if st.records is None:
                        inexact_gone.append(st)
                    else:
                        old_records.update(st.records.as_dict())
                for k, (v, txnid) in sorted(new_records.items()):
                    d = old_records.pop(k, None)
                    if d is None:
                        if not _covered(inexact_gone, k):
                            changes.append(Change("insert", k, txnid, v))
                    elif d != _digest(v):
                        changes.append(Change("update", k, txnid, v))
                # a key lives in one leaf: one that left a gone leaf and is in no fresh one was deleted,
                # unless it may be in a fresh leaf beyond the exact records (then its range says so)
                fresh_inexact = [new_state[f[1]] for f in fresh if new_state[f[1]].records is None]
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

        out = self.ins.read(body)
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
