"""The free database's table (storage/freetree.py): lookups, the rows carried below a reused page,
and the checks a state file's columns must pass."""

from __future__ import annotations

import os
import shutil
import struct
from dataclasses import replace

import numpy as np
import pytest

from zlmdb_inspect.storage.freetree import FreeTree


def _tree() -> FreeTree:
    """root(0) -> B1(1), B2(2); B1 -> L1(3), L2(4); B2 -> L3(5), L4(6). Records 1..7 in txnid order."""
    counts = np.array([2, 1, 3, 1, 2, 1, 2], dtype=np.int64)
    return FreeTree(
        keys=np.array([[10, 9], [11, 5], [12, 8], [13, 3], [14, 5], [15, 6], [16, 8]], dtype=np.int64),
        crcs=np.arange(7, dtype=np.int64) + 100,
        parents=np.array([-1, 0, 0, 1, 1, 2, 2], dtype=np.int64),
        spans=np.array([[0, 7, 7], [0, 3, 3], [3, 7, 3], [0, 2, 1], [2, 3, 1], [3, 6, 1], [6, 7, 1]], dtype=np.int64),
        txnids=np.arange(1, 8, dtype=np.int64), counts=counts,
        lists=np.arange(100, 100 + int(counts.sum()), dtype=np.int32),
        verified=np.array([True, False, True, False, True, False, True]))


def test_find_and_pieces():
    t = _tree()
    assert t.find(np.array([12, 12, 99, 13]), np.array([8, 7, 1, 3])).tolist() == [2, -1, -1, 3]
    tx, counts, lists = t.piece(2)  # B2: records 4..7
    assert tx.tolist() == [4, 5, 6, 7] and counts.tolist() == [1, 2, 1, 2]
    assert lists.tolist() == list(range(106, 112))
    assert [x.tolist() for x in t.piece(4)] == [[3], [3], [103, 104, 105]]


def test_rows_below_a_reused_page_move_with_it():
    t = _tree()
    assert sorted(t.below(np.array([2])).tolist()) == [2, 5, 6]
    # B2 reused as row 10 of a new walk, its records now starting at 5 (two records more before it)
    c = t.carried(np.array([2]), np.array([10]), np.array([5]), start=20)
    assert c.keys.tolist() == [[15, 6], [16, 8]] and c.crcs.tolist() == [105, 106]
    assert c.parents.tolist() == [10, 10]
    assert c.spans.tolist() == [[5, 8, 1], [8, 9, 1]]
    assert c.verified.tolist() == [False, True]
    # the root reused: every row below it, each under its new parent, spans moved by the root's
    c = t.carried(np.array([0]), np.array([0]), np.array([2]), start=1)
    assert len(c) == 6 and c.spans[:, :2].tolist() == (t.spans[1:, :2] + 2).tolist()
    assert c.parents.tolist() == [0, 0, 1, 1, 2, 2]


def test_below_ends_on_a_cycle():
    t = replace(_tree(), parents=np.array([-1, 2, 1, 1, 1, 2, 2], dtype=np.int64))
    assert sorted(t.below(np.array([1])).tolist()) == [1, 2, 3, 4, 5, 6]


BAD = {
    "page number below the metas": lambda t: replace(t, keys=np.array([[1, 9]] + t.keys[1:].tolist())),
    "txnid negative": lambda t: replace(t, keys=np.array([[10, -1]] + t.keys[1:].tolist())),
    "page listed twice": lambda t: replace(t, keys=np.array([[11, 5]] + t.keys[1:].tolist())),
    "crc out of range": lambda t: replace(t, crcs=t.crcs + (1 << 32)),
    "parent beyond the rows": lambda t: replace(t, parents=np.array([-1, 0, 0, 1, 1, 2, 7])),
    "parent is itself": lambda t: replace(t, parents=np.array([-1, 1, 0, 1, 1, 2, 2])),
    "span past the records": lambda t: replace(t, spans=np.array(t.spans.tolist()[:-1] + [[6, 8, 1]])),
    "no pages": lambda t: replace(t, spans=np.array(t.spans.tolist()[:-1] + [[6, 7, 0]])),
    "records out of order": lambda t: replace(t, txnids=np.array([1, 2, 3, 5, 4, 6, 7])),
    "counts and lists disagree": lambda t: replace(t, lists=t.lists[:-1]),
    "records outside the page above": lambda t: replace(t, spans=np.array(
        t.spans.tolist()[:5] + [[2, 6, 1]] + t.spans.tolist()[6:])),  # L3 starts before B2
    "counts that wrap when summed": lambda t: replace(t, counts=np.array([1 << 62] * 4 + [-(1 << 62)] * 4)[:7],
                                                      lists=t.lists[:1]),
    "a listed page negative": lambda t: replace(t, lists=np.concatenate([[-2], t.lists[1:]]).astype(np.int32)),
    "columns of other lengths": lambda t: replace(t, crcs=t.crcs[:-1]),
}


def test_a_good_table_passes():
    _tree().check()


@pytest.mark.parametrize("how", sorted(BAD))
def test_bad_columns_are_refused(how):
    with pytest.raises(ValueError):
        BAD[how](_tree()).check()


# -- a free database of depth 3, damaged: what a reused subtree must not hide ----------------------

@pytest.fixture(scope="module")
def deep_free(tmp_path_factory):
    """A 1.0 file whose free database has depth 3 (30,000 records of one or a few pages, kept by a
    snapshot held throughout; ~400 MB, removed afterwards)."""
    from zlmdb import lmdb

    path = str(tmp_path_factory.mktemp("deep") / "db")
    env = lmdb.open(path, map_size=1 << 30, lib_version=1, sync=False, metasync=False)
    with env.begin(write=True) as txn:
        txn.put(b"\x00\x01k", b"v")
    held = env.begin()
    for i in range(30000):
        with env.begin(write=True) as txn:
            txn.put(b"\x00\x01k", b"v%d" % i)
    held.abort()
    env.close()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _walk(walker, path):
    from zlmdb_inspect.storage.pageformat import PageFile

    pf = PageFile(os.path.join(path, "data.mdb"))
    try:
        return walker.walk(pf, pf.current_meta())
    finally:
        pf.close()


def _write_node(path: str, branch: int, i: int, data: bytes) -> bytes:
    """Write ``data`` at the start of node ``i`` of free database branch page ``branch``; the bytes it held."""
    from zlmdb_inspect.storage.pageformat import PageFile

    pf = PageFile(os.path.join(path, "data.mdb"))
    off = pf.node(branch, i)
    pf.close()
    with open(os.path.join(path, "data.mdb"), "r+b") as f:
        f.seek(off)
        was = f.read(len(data))
        f.seek(off)
        f.write(data)
    return was


def _set_child(path: str, branch: int, i: int, child: int) -> bytes:
    """Point node ``i`` of ``branch`` at page ``child``; the bytes it held (for :func:`_write_node` back)."""
    return _write_node(path, branch, i, struct.pack("<HHH", child & 0xFFFF, (child >> 16) & 0xFFFF, child >> 32))


def _branches(tree: FreeTree) -> tuple[int, int, list[int]]:
    """Two branch pages below the root, and the leaves (page numbers) under the first."""
    b1, b2 = np.flatnonzero(tree.parents == 0)[:2].tolist()
    leaves = tree.keys[tree.parents == b1, 0].tolist()
    return int(tree.keys[b1, 0]), int(tree.keys[b2, 0]), leaves


def test_a_page_under_a_reused_subtree_and_a_read_branch_is_damage(deep_free):
    """A branch page read again (its bytes changed) that points at a leaf under a subtree taken from
    the table reaches that leaf twice: damage, as a walk from scratch says, not its records twice."""
    from zlmdb_inspect.storage.pageformat import PageError
    from zlmdb_inspect.storage.walk import TreeWalker

    walker = TreeWalker()
    _walk(walker, deep_free)
    tree = walker.free
    assert tree is not None and (tree.parents[tree.parents >= 0] > 0).any()  # depth 3
    b1, b2, leaves = _branches(tree)
    was = _set_child(deep_free, b2, 0, leaves[0])
    try:
        with pytest.raises(PageError):
            _walk(TreeWalker(), deep_free)
        cols = {k: v.copy() for k, v in tree.columns().items()}
        cols["crcs"][0] ^= 1  # the root is read again (as after a commit), and the changed branch
        again = TreeWalker()
        again.free = FreeTree.from_columns(cols)
        with pytest.raises(PageError, match="cycle|twice"):
            _walk(again, deep_free)
    finally:
        _write_node(deep_free, b2, 0, was)


def test_records_not_contiguous_under_a_page_are_not_kept(deep_free):
    """Two branch pages swapping a leaf each (the txnids stay unique and in order): the walk counts
    each record once, and keeps no table whose spans would count some twice when reused."""
    from zlmdb_inspect.storage.walk import TreeWalker

    walker = TreeWalker()
    clean = _walk(walker, deep_free)
    tree = walker.free
    assert tree is not None
    b1, b2, leaves = _branches(tree)
    last = len(leaves) - 1
    first_of_b2 = int(tree.keys[tree.parents == np.flatnonzero(tree.parents == 0)[1], 0][0])
    was1 = _set_child(deep_free, b1, last, first_of_b2)
    was2 = _set_child(deep_free, b2, 0, leaves[last])
    try:
        fresh = TreeWalker()
        got = _walk(fresh, deep_free)
        assert fresh.free is None
        assert (got.free_pages, len(got.free_records)) == (clean.free_pages, len(clean.free_records))
    finally:
        _write_node(deep_free, b2, 0, was2)
        _write_node(deep_free, b1, last, was1)
    walker = TreeWalker()
    assert _walk(walker, deep_free).free_pages == clean.free_pages and walker.free is not None
