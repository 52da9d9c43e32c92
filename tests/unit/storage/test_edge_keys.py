"""LeafWalk.edge_keys: the keys around a key, read from the pages, equal what LMDB's cursor gives."""

from __future__ import annotations

import os
import random

import pytest
from conftest import raw_env

from zlmdb_inspect.storage.leaves import LeafWalk
from zlmdb_inspect.storage.pageformat import PageFile
from zlmdb_inspect.tables.timesource import LAST


def cursor_edges(txn, key: bytes) -> tuple[bytes | None, bytes | None]:
    cur = txn.cursor()
    if cur.set_range(key):
        above = bytes(cur.key())
        below = bytes(cur.key()) if cur.prev() else None
        return below, above
    return (bytes(cur.key()) if cur.last() else None), None


@pytest.mark.parametrize("deleted", [0.0, 0.6, 0.97], ids=["full", "thinned", "nearly-empty"])
def test_edge_keys_equal_the_cursor(tmp_path, fmt, deleted):
    """Keys of 1 to 40 bytes; many deleted afterwards, so branch separators name keys that are gone
    and leaves start above their separator (the key below is then on the leaf before)."""
    rnd = random.Random(5)
    path = str(tmp_path / "db")
    env = raw_env(path, fmt, map_size=64 * 1024 * 1024)
    keys = sorted({rnd.randbytes(rnd.choice([1, 2, 3, 10, 18, 40])) for _ in range(30000)})
    with env.begin(write=True) as txn:
        for k in keys:
            txn.put(k, b"v" * rnd.randint(1, 60))
    with env.begin(write=True) as txn:
        for k in keys:
            if rnd.random() < deleted:
                txn.delete(k)
    probes = [b"", b"\0", LAST, keys[0], keys[-1]] + rnd.sample(keys, 300) + [rnd.randbytes(rnd.randint(1, 20))
                                                                              for _ in range(300)]
    probes += [k + b"\0" for k in rnd.sample(keys, 100)] + [k[:-1] for k in rnd.sample(keys, 100) if len(k) > 1]
    pf = PageFile(os.path.join(path, "data.mdb"))
    try:
        walk = LeafWalk(pf, pf.current_meta())
        for leaf in walk.leaves():  # each leaf's first key, and above its last: the neighbours are
            keys = [walk.key(off, ksize) for off, _, ksize, _ in walk.nodes(leaf)]  # on the next leaf over,
            if keys:  # across bottom branch pages too
                probes += [keys[0], keys[-1] + b"\0"]
        with env.begin() as txn:
            assert pf.current_meta().main.depth >= 3
            for k in probes:
                assert walk.edge_keys(k) == cursor_edges(txn, k), k
    finally:
        pf.close()
        env.close()


def test_edge_keys_of_an_empty_tree(tmp_path, fmt):
    path = str(tmp_path / "db")
    env = raw_env(path, fmt)
    with env.begin(write=True) as txn:
        txn.put(b"a", b"1")
    with env.begin(write=True) as txn:
        txn.delete(b"a")
    env.close()
    pf = PageFile(os.path.join(path, "data.mdb"))
    try:
        assert LeafWalk(pf, pf.current_meta()).edge_keys(b"a") == (None, None)
    finally:
        pf.close()


def test_an_empty_leaf_leaves_its_neighbours_found(tmp_path):
    """A leaf emptied in place (damage): the keys around it come from the leaves beside it, on both
    sides of the same search."""
    import struct

    from zlmdb_inspect.storage.pageformat import P_LEAF

    path = str(tmp_path / "db")
    env = raw_env(path, "1.0")
    with env.begin(write=True) as txn:
        for i in range(2000):
            txn.put(struct.pack(">I", i), b"v" * 30)
    env.close()
    data = os.path.join(path, "data.mdb")
    pf = PageFile(data)
    try:
        walk = LeafWalk(pf, pf.current_meta())
        leaves = list(walk.leaves())
        first, second = leaves[0], leaves[1]
        after = [walk.key(off, ksize) for off, _, ksize, _ in walk.nodes(second)][0]
        h, empty = pf.hdrsz, pf.hdrsz - pf.pagebase  # lower at the header's end: no nodes
        flags = pf.header(first.pgno, pf.current_meta().last_pgno, "a leaf")[0]
        assert flags & P_LEAF
    finally:
        pf.close()
    with open(data, "r+b") as f:
        f.seek(first.pgno * 4096 + h - 4)
        f.write(struct.pack("<H", empty))
    pf = PageFile(data)
    try:
        walk = LeafWalk(pf, pf.current_meta())
        assert walk.edge_keys(b"") == (None, after)
        assert walk.edge_keys(after) == (None, after)
    finally:
        pf.close()
