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

Memory is bounded: the follower keeps, per leaf, its identity and key range, and for at
most ``exact`` records (default 100,000; for a bigger table the last ``exact`` by key,
where time-ordered keys change) each record's key and a 12-byte digest of its value. Those
records are followed exactly: every insert, update and delete between two polls is
reported once, with the net effect (inserted then updated is one insert; inserted then
deleted is nothing). Changes in leaves beyond them are reported at page-range granularity:
one ``{"change": "pages", "from": first key, "to": last key, "records": new count,
"was": old count}`` per changed key range, without per-record detail.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zlmdb_inspect.leaves import Leaf, LeafWalk

if TYPE_CHECKING:
    from zlmdb_inspect.inspector import Inspector
    from zlmdb_inspect.model import Table
    from zlmdb_inspect.records import Catalog

EXACT_RECORDS = 100_000


def _digest(v: bytes) -> bytes:
    return hashlib.blake2b(v, digest_size=12).digest()


@dataclass
class LeafState:
    ident: tuple[int, int]
    first: bytes
    last: bytes
    count: int
    records: dict[bytes, bytes] | None  # key -> value digest; None beyond the exact budget


@dataclass
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

    ins: "Inspector"
    table: "Table"
    exact: int = EXACT_RECORDS
    leaves: dict[tuple[int, int], LeafState] = field(default_factory=dict)
    started: bool = False
    last_txnid: int = 0
    leaf_reads: int = 0  # leaves whose records were read (changed ones), over all polls

    @property
    def prefix(self) -> bytes:
        return struct.pack(">H", self.table.slot)

    def _end(self) -> bytes | None:
        return struct.pack(">H", self.table.slot + 1) if self.table.slot < 0xFFFF else None

    def poll(self) -> list[Change]:
        """Changes since the previous poll (none on the first: it takes the starting state)."""
        prefix, end = self.prefix, self._end()

        def body(txn, pf, meta):
            walk = LeafWalk(pf, meta)
            seen: list[tuple[Leaf, tuple[int, int], bytes, bytes, int]] = []
            for leaf in walk.leaves(prefix):
                nodes = list(walk.nodes(leaf))
                if not nodes:
                    continue
                first = walk.key(nodes[0][0], nodes[0][2])
                if end is not None and first >= end:
                    break
                last = walk.key(nodes[-1][0], nodes[-1][2])
                if last < prefix:
                    continue
                ident = (leaf.pgno, leaf.txnid) if pf.has_txnid else (leaf.pgno, zlib.crc32(walk.page(leaf)))
                seen.append((leaf, ident, first, last, len(nodes)))
                if end is not None and last >= end:
                    break
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
            for idx, (leaf, ident, first, last, _) in enumerate(seen):
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
                    for off, _, ks, _ in walk.nodes(leaf):
                        k = walk.key(off, ks)
                        if k[:2] != prefix:
                            continue
                        v = walk.value(leaf, off)
                        recs[k] = _digest(v)
                        if old is None:
                            new_records[k] = (v, leaf.txnid or meta.txnid)
                n_in = sum(1 for off, _, ks, _ in walk.nodes(leaf) if walk.key(off, ks)[:2] == prefix) \
                    if recs is None else len(recs)
                new_state[ident] = LeafState(ident, max(first, prefix), last, n_in, recs)
            if self.started:
                old_records: dict[bytes, bytes] = {}
                inexact_gone = []
                for st in gone:
                    if st.records is None:
                        inexact_gone.append(st)
                    else:
                        old_records.update(st.records)
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
        return out  # type: ignore[return-value]


def _covered(states: list[LeafState], key: bytes) -> bool:
    return any(s.first <= key <= s.last for s in states)


def to_json(change: Change, catalog: "Catalog", ins: "Inspector", table: "Table") -> dict[str, Any]:
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
