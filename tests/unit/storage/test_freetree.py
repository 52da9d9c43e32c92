"""The free database's table (storage/freetree.py): lookups, the rows carried below a reused page,
and the checks a state file's columns must pass."""

from __future__ import annotations

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
    "a listed page negative": lambda t: replace(t, lists=np.concatenate([[-2], t.lists[1:]]).astype(np.int32)),
    "columns of other lengths": lambda t: replace(t, crcs=t.crcs[:-1]),
}


def test_a_good_table_passes():
    _tree().check()


@pytest.mark.parametrize("how", sorted(BAD))
def test_bad_columns_are_refused(how):
    with pytest.raises(ValueError):
        BAD[how](_tree()).check()
