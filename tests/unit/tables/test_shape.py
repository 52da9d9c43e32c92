"""Histograms of a table's shape against a direct computation over every record."""

from __future__ import annotations

import os
import random
import struct
import threading

import cbor2
import pytest
from conftest import raw_env, sha

from zlmdb_inspect.core.model import Table
from zlmdb_inspect.storage.inspector import Inspector
from zlmdb_inspect.storage.pageformat import F_BIGDATA, P_BRANCH, P_LEAF, PageFile
from zlmdb_inspect.tables import shape


def _build(path: str, fmt: str, n: int) -> None:
    env = raw_env(path, fmt, map_size=256 * 1024 * 1024)
    rng = random.Random(3)
    with env.begin(write=True) as txn:
        for slot in (1, 2, 3):
            for i in range(n if slot == 2 else 300):
                key = struct.pack(">H", slot) + rng.randbytes(rng.choice([8, 16, 24, 40]))
                size = rng.choice([0, 5, 60, 200, 900, 3000, 9000]) if i % 97 else 70_000 + i
                txn.put(key, cbor2.dumps({"p": b"x" * size}))
    env.close()


def _direct(path: str, slot: int):
    """Every record's key and value size through LMDB's cursor; records per leaf by a hand walk."""
    from zlmdb import lmdb

    env = lmdb.open(path, readonly=True, lock=False, max_dbs=0)
    prefix = struct.pack(">H", slot)
    with env.begin() as txn:
        recs = [(k, len(v)) for k, v in txn.cursor().iternext() if k[:2] == prefix]
    env.close()
    pf = PageFile(os.path.join(path, "data.mdb"))
    meta = pf.current_meta()
    per_leaf = []
    big = [0]

    def walk(pgno):
        flags, lower, upper, _ = pf.header(pgno, meta.last_pgno, "test")
        n = pf.numkeys(pgno, lower, upper)
        if flags & P_LEAF:
            mine = [i for i in range(n) if pf.node_key(pgno, pf.node(pgno, i))[:2] == prefix]
            c = len(mine)
            big[0] += sum(1 for i in mine if pf.buf[pf.node(pgno, i) + 4] & F_BIGDATA)
            if c:
                per_leaf.append(c)
        elif flags & P_BRANCH:
            for i in range(n):
                walk(pf.child_pgno(pf.node(pgno, i)))

    walk(meta.main.root)
    pf.close()
    return recs, per_leaf, big[0]


def _hist(values):
    h = [0] * shape.BINS
    for v in values:
        h[min(v.bit_length(), shape.BINS - 1)] += 1
    return h


@pytest.mark.parametrize("fmt", ["1.0", "0.9"])
def test_histograms_equal_a_direct_computation(tmp_path, fmt):
    path = str(tmp_path / "db")
    _build(path, fmt, 6000)
    before = sha(path)
    recs, per_leaf, big = _direct(path, 2)
    with Inspector(path) as ins:
        table = Table(2, None, None, None, None, len(recs), False)
        seen = []
        s = shape.compute(ins, table, on_progress=lambda sh: seen.append(sh.records), chunk_s=0.0)
    assert s.done and not s.sampled and s.records == len(recs) and s.chunks > 1
    assert seen == sorted(seen) and seen[-1] == len(recs)
    assert s.key_size.counts == _hist([len(k) - 2 for k, _ in recs])
    assert s.value_size.counts == _hist([n for _, n in recs])
    assert s.value_size.max == max(n for _, n in recs) and s.value_size.sum == sum(n for _, n in recs)
    assert s.per_leaf.counts == _hist(per_leaf) and s.leaves == len(per_leaf)
    top = sorted(((n, k[2:]) for k, n in recs), key=lambda p: (-p[0], p[1]))[:shape.LARGEST]
    assert s.largest == top
    assert s.overflow_records == big and big > 0
    assert sha(path) == before


def test_a_huge_table_is_sampled_and_says_so(tmp_path):
    path = str(tmp_path / "db")
    _build(path, "1.0", 6000)
    recs, per_leaf, big = _direct(path, 2)
    with Inspector(path) as ins:
        s = shape.compute(ins, Table(2, None, None, None, None, len(recs), False), max_records=1000)
        assert s.sampled and s.stride == 6 and "every 6th leaf page" in s.where
        assert abs(s.leaves - len(per_leaf) / 6) <= 2 and 0 < s.records < len(recs)
        cancel = threading.Event()
        cancel.set()
        c = shape.compute(ins, Table(2, None, None, None, None, len(recs), False), cancel=cancel)
        assert c.cancelled and not c.done and c.records == 0
