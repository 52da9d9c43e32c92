"""Follow mode: every change between two polls, once, from the changed leaves only."""

from __future__ import annotations

import contextlib
import os
import random
import struct
import subprocess
import sys
from collections.abc import Iterator

import cbor2
import pytest
from conftest import SUPPORT, raw_env

from zlmdb_inspect.core.model import Table
from zlmdb_inspect.core.options import Options
from zlmdb_inspect.storage.inspector import Inspector
from zlmdb_inspect.tables import follow
from zlmdb_inspect.tables.catalog import TableCodecs

WRITER = os.path.join(SUPPORT, "follow_writer.py")


def _build(path: str, fmt: str, n: int) -> None:
    env = raw_env(path, fmt, map_size=64 * 1024 * 1024)
    rng = random.Random(5)
    with env.begin(write=True) as txn:
        for i in range(n):
            txn.put(struct.pack(">HQ", 1, rng.getrandbits(40)), cbor2.dumps({"i": i, "pad": "x" * (i % 200)}))
        for i in range(50):
            txn.put(struct.pack(">HQ", 2, i), b"\xa1ai\x01")
    env.close()


def _state(ins: Inspector) -> dict[bytes, bytes]:
    return ins.read(lambda txn, pf, meta: {k: v for k, v in txn.cursor().iternext() if k[:2] == b"\x00\x01"})


def _write(path: str, fmt: str, seed: int, txns: int) -> None:
    subprocess.run([sys.executable, WRITER, path, fmt, str(seed), str(txns)], check=True, timeout=60)


def _net(before: dict, after: dict) -> dict[tuple[str, bytes], bytes | None]:
    out: dict[tuple[str, bytes], bytes | None] = {}
    for k, v in after.items():
        if k not in before:
            out[("insert", k)] = v
        elif before[k] != v:
            out[("update", k)] = v
    for k in before:
        if k not in after:
            out[("delete", k)] = None
    return out


@pytest.mark.parametrize("fmt", ["1.0", "0.9"])
def test_every_change_once(tmp_path, fmt):
    path = str(tmp_path / "db")
    _build(path, fmt, 2000)
    ins = Inspector(path)
    try:
        table = Table(1, None, None, None, None, 2000, False)
        f = follow.Follower(ins, table)
        assert f.poll() == []
        leaves = len(f.leaves)
        before = _state(ins)
        for step in range(8):
            _write(path, fmt, step, txns=1 + step % 4)
            changes = f.poll()
            after = _state(ins)
            got = {(c.change, c.key): c.value for c in changes}
            assert len(got) == len(changes)  # each change once
            assert got == _net(before, after), step
            assert all(c.change != "pages" for c in changes)
            if fmt == "1.0":
                assert all(c.txnid <= f.last_txnid for c in changes)
            before = after
        # only changed leaves were read: a few per step, not the table's
        assert f.leaf_reads < leaves + 8 * 40
        assert f.poll() == []  # nothing changed, nothing reported
    finally:
        ins.close()


@pytest.mark.parametrize("fmt", ["1.0", "0.9"])
def test_beyond_the_exact_records_changes_are_page_ranges(tmp_path, fmt):
    path = str(tmp_path / "db")
    _build(path, fmt, 2000)
    ins = Inspector(path)
    try:
        table = Table(1, None, None, None, None, 2000, False)
        f = follow.Follower(ins, table, exact=300)
        f.poll()
        assert sum(len(s.records) for s in f.leaves.values() if s.records is not None) <= 300
        before = _state(ins)
        for step in range(4):
            _write(path, fmt, 100 + step, txns=3)
            changes = f.poll()
            after = _state(ins)
            truth = _net(before, after)
            exact = {(c.change, c.key): c.value for c in changes if c.change != "pages"}
            ranges = [(c.key, c.to_key) for c in changes if c.change == "pages"]
            for kind_key, v in exact.items():
                assert truth[kind_key] == v  # what is reported exactly is true
            for kind_key in truth:
                if kind_key not in exact:  # the rest lies in a reported page range
                    assert any(a <= kind_key[1] <= b for a, b in ranges), kind_key
            assert sum(len(s.records) for s in f.leaves.values() if s.records is not None) <= 300 + 200
            before = after
    finally:
        ins.close()


def test_changes_as_json(tmp_path):
    path = str(tmp_path / "db")
    _build(path, "1.0", 100)
    ins = Inspector(path)
    try:
        snap = ins.snapshot()
        table = snap.table_by_slot(1)
        cat = TableCodecs(Options(path=path))
        f = follow.Follower(ins, table)
        f.poll()
        _write(path, "1.0", 7, 2)
        lines = [follow.to_json(c, cat, ins, table) for c in f.poll()]
        assert lines and all(set(d) == ({"change", "key", "txnid"} if d["change"] == "delete"
                                        else {"change", "key", "value", "txnid"}) for d in lines)
        assert all(isinstance(d["value"], dict) for d in lines if "value" in d)
    finally:
        ins.close()


def test_a_poll_reads_only_what_changed(tmp_path):
    """1.0: unchanged subtrees come from memory; a poll after one small write reads a part of the pages."""
    path = str(tmp_path / "db")
    _build(path, "1.0", 20000)
    with _following(path, 20000, exact=5000) as f:
        leaves = f.leaf_pages
        assert leaves > 500
        _write(path, "1.0", 1, 1)
        before = f.ins._open_pagefile().page_reads
        changes = f.poll()
        reads = f.ins._open_pagefile().page_reads - before
        # a changed branch's children are read by header (their txnids); unchanged subtrees not at all
        assert changes and reads < leaves / 2, (reads, leaves)
        assert sum(len(s.records) for s in f.leaves.values() if s.records is not None) <= 5000 + 200


APPEND = """if True:  # time-ordered keys, as a router archives publications: PATH FORMAT FIRST TXNS PER_TXN [UPDATE]
    import struct, sys
    import cbor2
    from zlmdb import lmdb
    path, fmt, first, txns, per = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    env = lmdb.open(path, map_size=256 * 1024 * 1024, lib_version=0 if fmt == "0.9" else 1)
    for t in range(txns):
        with env.begin(write=True) as txn:
            for i in range(first + t * per, first + (t + 1) * per):
                txn.put(struct.pack(">HQ", 1, i), cbor2.dumps({"i": i, "pad": "x" * 60}))
            if len(sys.argv) > 6:  # and one old record (beyond the exact ones) updated
                txn.put(struct.pack(">HQ", 1, int(sys.argv[6])), cbor2.dumps({"updated": t}))
    env.close()
"""


def _append(path: str, fmt: str, first: int, txns: int, per: int, update: int | None = None) -> None:
    args = [sys.executable, "-c", APPEND, path, fmt, str(first), str(txns), str(per)]
    subprocess.run(args + ([str(update)] if update is not None else []), check=True, timeout=120)


@contextlib.contextmanager
def _following(path: str, records: int, exact: int) -> Iterator[follow.Follower]:
    """A follower of slot 1 (``records`` records) that has taken its starting state."""
    with Inspector(path) as ins:
        f = follow.Follower(ins, Table(1, None, None, None, None, records, False), exact=exact)
        f.poll()
        yield f


def _kept(f: follow.Follower) -> int:
    """Entries the follower keeps between polls: states, cached children and leaf identities."""
    bottoms = getattr(f, "bottoms", {})
    return (len(f.leaves) + sum(len(v) for v in f.branches.values())
            + sum(1 + len(ids or ()) for _, ids in bottoms.values()))


@pytest.mark.parametrize("fmt", ["1.0", "0.9"])
def test_state_grows_with_branch_pages_not_leaves(tmp_path, fmt):
    """Appending 40,000 records (~700 leaf pages) beyond the exact ones adds a handful of entries to
    what the follower keeps (one per bottom branch page), not one per leaf; every append is still
    reported as an insert, and nothing else (no page range for leaves the exact window left)."""
    path = str(tmp_path / "db")
    _append(path, fmt, 1, 1, 2000)
    with _following(path, 2000, exact=6000) as f:
        nxt = 2001
        for _ in range(8):
            _append(path, fmt, nxt, 10, 500)
            changes = f.poll()
            assert sorted((c.change, c.key) for c in changes) == [
                ("insert", struct.pack(">HQ", 1, i)) for i in range(nxt, nxt + 5000)]
            nxt += 5000
            if nxt == 12001:
                kept, pages = _kept(f), f.leaf_pages
        assert f.leaf_pages - pages > 500
        assert _kept(f) - kept < (f.leaf_pages - pages) / 20, (kept, _kept(f), pages, f.leaf_pages)
        assert sum(len(s.records) for s in f.leaves.values() if s.records is not None) <= 6000


@pytest.mark.parametrize("fmt", ["1.0", "0.9"])
def test_a_change_in_a_group_is_its_page_range(tmp_path, fmt):
    """An old record updated beyond the exact ones while records are appended: its group's key range
    is reported (with the records it holds now and held before), the appends exactly."""
    path = str(tmp_path / "db")
    _append(path, fmt, 1, 1, 20000)
    with _following(path, 20000, exact=2000) as f:
        _append(path, fmt, 20001, 3, 100, update=77)
        changes = f.poll()
        exact = sorted(c.key for c in changes if c.change != "pages")
        pages = [c for c in changes if c.change == "pages"]
        assert exact == [struct.pack(">HQ", 1, i) for i in range(20001, 20301)]
        assert all(c.change == "insert" for c in changes if c.change != "pages")
        assert len(pages) == 1
        p = pages[0]
        assert p.key <= struct.pack(">HQ", 1, 77) <= p.to_key and p.records == p.was
        assert p.to_key < struct.pack(">HQ", 1, 18000)  # one group's range, not the table's
        assert p.records > 1000  # a group: ~100 leaves of ~30 records
        assert f.poll() == []


@pytest.mark.parametrize("fmt", ["1.0", "0.9"])
def test_unchanged_groups_entering_the_exact_window_are_no_change(tmp_path, fmt):
    """When the exact window grows over groups (here: a bigger budget), their leaves are read and
    followed exactly from then on, and nothing is reported for them: they did not change."""
    path = str(tmp_path / "db")
    _append(path, fmt, 1, 1, 20000)
    with _following(path, 20000, exact=1000) as f:
        groups = [s for s in f.leaves.values() if len(s.ident) == 3]
        assert groups and sum(g.count for g in groups) > 10000
        f.exact = 30000
        assert f.poll() == []
        assert sum(len(s.records) for s in f.leaves.values() if s.records is not None) == 20000
        _append(path, fmt, 20001, 1, 1, update=77)
        assert [(c.change, c.key) for c in f.poll()] == [("update", struct.pack(">HQ", 1, 77)),
                                                         ("insert", struct.pack(">HQ", 1, 20001))]


THREE_TXNS = """if True:  # in another process: LMDB opens an environment once per process
    import struct, sys
    import cbor2
    from zlmdb import lmdb
    env = lmdb.open(sys.argv[1], map_size=64 * 1024 * 1024, lib_version=1)
    for t, base in enumerate((0, 1 << 39, 1 << 41)):  # three transactions, each on its own leaf
        with env.begin(write=True) as txn:
            for i in range(5):
                txn.put(struct.pack(">HQ", 1, base + i), cbor2.dumps({"t": t, "i": i}))
    env.close()
"""


def test_json_follow_decodes_only_the_newest(tmp_path):
    """``poll(newest=N)``: the N newest changes (txnid, then key, descending) are decoded exactly as
    ``poll()`` decodes them; the rest come back undecoded with their kind, txnid and raw key."""
    path = str(tmp_path / "db")
    _build(path, "1.0", 300)
    ins = Inspector(path)
    try:
        table = ins.snapshot().table_by_slot(1)
        cat = TableCodecs(Options(path=path))
        full, limited = follow.JsonFollow(ins, cat, table), follow.JsonFollow(ins, cat, table)
        full.poll(), limited.poll()
        subprocess.run([sys.executable, "-c", THREE_TXNS, path], check=True, timeout=60)
        want, got = full.poll(), limited.poll(newest=4)
        assert len(got) == len(want) == 15 and len({d["txnid"] for d in want}) > 1
        order = sorted(range(len(want)), key=lambda i: (want[i]["txnid"], i), reverse=True)
        assert [i for i, d in enumerate(got) if not d.get("_undecoded")] == sorted(order[:4])
        for i in order[:4]:
            assert got[i] == want[i] and set(got[i]["value"]) == {"t", "i"}
        for i in order[4:]:
            assert got[i] == {"change": want[i]["change"], "txnid": want[i]["txnid"], "_raw_key": want[i]["_raw_key"],
                              "_undecoded": True}
    finally:
        ins.close()
