"""The walk's records and bytes per hour of a leading big-endian key time (issue 23) against every
key read through a cursor: days exact, hours exact to a leaf page, whatever the batches, formats,
depths, caches and neighbouring slots."""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys

import pytest
from conftest import raw_env

from zlmdb_inspect.core.times import HOUR_NS, TIME_MAX_NS, TIME_MIN_NS
from zlmdb_inspect.storage import walk as pages
from zlmdb_inspect.storage.pageformat import PageFile
from zlmdb_inspect.storage.walk import TreeWalker, hourly

DAY_NS = 24 * HOUR_NS
START = 1_760_000_000 * 10**9  # 2025-10-09T08:53:20Z: days do not begin at the first key
TIME_SLOTS = (1, 3)  # slot 3 follows slot 2 (random keys) and slot 1
EDGE_SLOTS = tuple(range(10, 70))  # adjacent time slots: a leaf's bound may be the next slot's key


def _key(slot: int, t: int, rnd: random.Random) -> bytes:
    return struct.pack(">HQ", slot, t) + rnd.randbytes(16)


def _build(path: str, fmt: str, n: int, seed: int = 1, big: bool = False) -> None:
    """``n`` records in each time slot over 20 days at rates that change by day, random keys in
    slot 2 between them, keys in slot 1 whose 'time' lies before 2000 or after 2262 (not time),
    and, with ``big``, some values on overflow pages."""
    rnd = random.Random(seed)
    env = raw_env(path, fmt, map_size=512 * 1024 * 1024)
    with env.begin(write=True) as txn:
        for slot in TIME_SLOTS:
            for _ in range(n):
                day = int(rnd.triangular(0, 20, 17))
                t = START + day * DAY_NS + rnd.randrange(DAY_NS)
                txn.put(_key(slot, t, rnd), b"v" * (5000 if big and rnd.random() < 0.01 else rnd.randrange(20, 90)))
        for _ in range(n // 2):
            txn.put(struct.pack(">H", 2) + rnd.randbytes(20), b"r" * 40)
        for t in (5, 10**9, 2**63 + 7, 2**64 - 1):  # not times: 1970 and after 2262
            txn.put(_key(1, t, rnd), b"odd")
        # each slot ends a few records past a midnight; the next one's keys all fall in the day
        # before it: a bound taken from the next slot's key would say its last leaf is one day
        midnight = START - START % DAY_NS + 5 * DAY_NS
        for slot in EDGE_SLOTS:
            for i in range(rnd.randrange(60, 400)):
                txn.put(_key(slot, midnight - 3 * HOUR_NS + i * 10**9, rnd), b"e" * 30)
            for i in range(3):
                txn.put(_key(slot, midnight + i * 10**9, rnd), b"e" * 30)
    env.close()


def _truth(path: str) -> dict[int, dict[int, int]]:
    """slot -> hour (-1: no time) -> records, from every key."""
    from zlmdb import lmdb

    env = lmdb.open(path, readonly=True, lock=False)
    out: dict[int, dict[int, int]] = {s: {} for s in TIME_SLOTS + EDGE_SLOTS}
    with env.begin() as txn:
        for key in txn.cursor().iternext(values=False):
            slot = int.from_bytes(key[:2], "big")
            if slot in out:
                t = int.from_bytes(key[2:10], "big")
                h = t // HOUR_NS if TIME_MIN_NS <= t < TIME_MAX_NS else -1
                out[slot][h] = out[slot].get(h, 0) + 1
    env.close()
    return out


def _walk(path: str, walker: TreeWalker, remember: bool = False):
    pf = PageFile(os.path.join(path, "data.mdb"))
    try:
        res = walker.walk(pf, pf.current_meta(), remember=remember)
        return res, pf.page_size
    finally:
        pf.close()


def _check(walked: dict[int, dict[int, tuple[float, float]]], truth: dict[int, dict[int, int]], res, ps: int) -> None:
    leaf_max = ps // 32  # more records than a page holds at their smallest
    for slot in TIME_SLOTS + EDGE_SLOTS:
        got, want = walked[slot], truth[slot]
        assert round(got.get(-1, (0, 0))[0]) == want.get(-1, 0)  # no time in the key
        days_got: dict[int, float] = {}
        for h, (r, _) in got.items():
            if h >= 0:
                days_got[h // 24] = days_got.get(h // 24, 0) + r
        days_want: dict[int, int] = {}
        for h, r in want.items():
            if h >= 0:
                days_want[h // 24] = days_want.get(h // 24, 0) + r
        assert {d: round(r) for d, r in days_got.items() if round(r)} == days_want, slot
        # hours exact to a leaf page: a leaf counts whole in the hour its keys begin (or before)
        hours = sorted(h for h in set(got) | set(want) if h >= 0)
        cum_got = cum_want = 0.0
        for h in hours:
            cum_got += got.get(h, (0, 0))[0]
            cum_want += want.get(h, 0)
            assert 0 <= round(cum_got - cum_want) <= leaf_max, (slot, h)
        sp = res.summary.slots[slot]
        assert sum(b for _, b in got.values()) == pytest.approx((sp.leaf_pages + sp.overflow_pages) * ps)


@pytest.mark.parametrize("big", [False, True], ids=["no-overflow", "overflow"])
def test_hourly_counts_match_every_key(tmp_path, fmt, big):
    path = str(tmp_path / "t")
    _build(path, fmt, 30_000, big=big)
    truth = _truth(path)
    w = TreeWalker()
    w.time_slots = frozenset(TIME_SLOTS + EDGE_SLOTS)
    res, ps = _walk(path, w)
    assert res.summary.time_slots == frozenset(TIME_SLOTS + EDGE_SLOTS)
    _check(hourly(res.summary.times), truth, res, ps)


def test_small_batches_and_the_per_node_walk_agree(tmp_path, monkeypatch):
    """Batches of one bottom branch page (no neighbours to bound a leaf), a two-level tree (no
    page above the bottom branch page) and the per-node walk count the same days."""
    path = str(tmp_path / "t")
    _build(path, "1.0", 8_000)
    truth = _truth(path)
    for batch in (1, 7):
        monkeypatch.setattr(TreeWalker, "batch_leaves", batch)
        monkeypatch.setattr(TreeWalker, "batch_leaves_deferred", batch)
        w = TreeWalker()
        w.time_slots = frozenset(TIME_SLOTS + EDGE_SLOTS)
        res, ps = _walk(path, w)
        _check(hourly(res.summary.times), truth, res, ps)
    monkeypatch.setattr(pages, "LITTLE_ENDIAN_HOST", False)
    w = TreeWalker()
    w.time_slots = frozenset(TIME_SLOTS + EDGE_SLOTS)
    res, ps = _walk(path, w)
    _check(hourly(res.summary.times), truth, res, ps)
    small = str(tmp_path / "small")
    _build(small, "1.0", 300)
    w = TreeWalker()
    w.time_slots = frozenset(TIME_SLOTS + EDGE_SLOTS)
    res, ps = _walk(small, w)
    _check(hourly(res.summary.times), _truth(small), res, ps)


ADD = """
import random, struct, sys
from zlmdb import lmdb
env = lmdb.open(sys.argv[1], map_size=0)
rnd = random.Random(7)
with env.begin(write=True) as txn:
    for _ in range(500):
        t = int(sys.argv[2]) + rnd.randrange(3 * 86400 * 10**9)
        txn.put(struct.pack(">HQ", 1, t) + rnd.randbytes(16), b"n" * 50)
env.close()
"""


def test_cached_walk_counts_what_changed(tmp_path):
    """A 1.0 walk that reuses the summaries of unchanged subtrees (each with its own rows) counts
    the days of the records added since, and a walker told other slots reuses none of them."""
    path = str(tmp_path / "t")
    _build(path, "1.0", 30_000)
    w = TreeWalker()
    w.time_slots = frozenset(TIME_SLOTS + EDGE_SLOTS)
    res, ps = _walk(path, w, remember=True)
    _check(hourly(res.summary.times), _truth(path), res, ps)
    subprocess.run([sys.executable, "-c", ADD, path, str(START + 10 * DAY_NS)], check=True)
    res2, _ = _walk(path, w, remember=True)
    assert res2.cached_subtrees > 0
    _check(hourly(res2.summary.times), _truth(path), res2, ps)
    w.time_slots = frozenset({1})
    res3, _ = _walk(path, w, remember=True)
    assert set(hourly(res3.summary.times)) == {1}


def test_whole_leaves_of_keys_that_are_no_time(tmp_path, fmt):
    """Leaves full of keys from 1970 or after 2100 (whole leaves, their separators in one 'hour')
    count as no time, not in the hours their bytes would name; the real times beside them stay exact."""
    path = str(tmp_path / "t")
    rnd = random.Random(5)
    env = raw_env(path, fmt, map_size=256 * 1024 * 1024)
    with env.begin(write=True) as txn:
        for i in range(3000):
            txn.put(_key(1, 10**6 * i, rnd), b"o" * 40)  # 1970
            txn.put(_key(1, START + i * 10**9, rnd), b"t" * 40)
            txn.put(_key(1, TIME_MAX_NS + i, rnd), b"f" * 40)  # 2100
    env.close()
    w = TreeWalker()
    w.time_slots = frozenset({1})
    res, ps = _walk(path, w)
    got, want = hourly(res.summary.times)[1], _truth(path)[1]
    assert round(got[-1][0]) == want[-1] == 6000
    assert {h // 24 for h in got if h >= 0} == {h // 24 for h in want if h >= 0}
    assert sum(r for h, (r, _) in got.items() if h >= 0) == 3000
