"""Subtree summaries as columns (storage.summaries): packed and read back unchanged, merged as
TreeSummary.merge_many merges, untrusted columns rejected, a row used only while its page holds its CRC."""

from __future__ import annotations

import copy
import random
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from conftest import put_random, space_key

from zlmdb_inspect.core.slots import MAX_SLOT
from zlmdb_inspect.storage.inspector import Inspector
from zlmdb_inspect.storage.pageformat import SHORT_KEY_SLOT
from zlmdb_inspect.storage.summaries import PackedSummaries
from zlmdb_inspect.storage.walk import UNTIMED, SlotSpace, TreeSummary, hourly

H = 1_760_000_000 // 3600  # an hour of 2025
HEADS = ("branch_pages", "leaf_pages", "overflow_pages", "entries", "leaf_free_bytes")


def _summary(rng: random.Random) -> TreeSummary:
    chosen = rng.sample([SHORT_KEY_SLOT, 0, 1, 2, 7, 300, MAX_SLOT], rng.randint(0, 4))
    leaf_pages = rng.randint(len(chosen), 60)
    s = TreeSummary(branch_pages=rng.randint(1, 9), leaf_pages=leaf_pages, overflow_pages=rng.randint(0, 20),
                    leaf_free_bytes=rng.randint(0, 10**6))
    for slot in chosen:  # leaf pages in eighths: sums are exact whatever their order
        leaf = rng.randint(0, 8 * leaf_pages // max(1, len(chosen))) / 8
        s.slots[slot] = SlotSpace(rng.randint(0, 400), leaf, rng.randint(0, 5), rng.randint(0, 10**7),
                                  rng.randint(0, 10**8), rng.randint(0, 10**6))
    s.entries = sum(sp.records for sp in s.slots.values())
    if rng.random() < 0.6:
        s.time_slots = frozenset(rng.sample([0, 1, 2, 5], rng.randint(1, 3)))
        rows: list[list[float]] = []
        for slot in sorted(s.time_slots):
            left = rng.randint(0, s.slots[slot].records) if slot in s.slots else 0
            while left:
                rec = rng.randint(1, left)
                left -= rec
                hour = UNTIMED if rng.random() < 0.2 else H + rng.randint(0, 2)
                rows.append([slot, hour, rec, rec * 100.5])
                if rng.random() < 0.3:
                    rows.append([slot, rng.choice([H, UNTIMED]), 0, 0.0])  # left behind by a leaf counted key by key
        cut = sorted(rng.sample(range(len(rows) + 1), min(2, len(rows) + 1)))
        parts = [rows[a:b] for a, b in zip([0, *cut], [*cut, len(rows)])]
        s.times = [np.array(p, dtype=np.float64) for p in parts if p]
    return s


def _expected_rows(s: TreeSummary) -> list[list[float]]:
    """Rows with records, consecutive equal (slot, hour) summed."""
    out: list[list[float]] = []
    for r in (r for a in s.times for r in a.tolist() if r[2] > 0):
        if out and out[-1][:2] == r[:2]:
            out[-1][2] += r[2]
            out[-1][3] += r[3]
        else:
            out.append(list(r))
    return out


def _same(got: TreeSummary, want: TreeSummary) -> None:
    assert got.slots == want.slots
    assert [getattr(got, f) for f in HEADS] == [getattr(want, f) for f in HEADS]
    assert got.time_slots == want.time_slots
    assert [r for a in got.times for r in a.tolist()] == _expected_rows(want)
    assert len(got.times) == (1 if _expected_rows(want) else 0)


@pytest.fixture
def objs() -> list[TreeSummary]:
    rng = random.Random(7)
    return [_summary(rng) for _ in range(50)]


def _pack(objs: list[TreeSummary]) -> PackedSummaries:
    return PackedSummaries.pack(((100 + 3 * i, 50 + i % 4), (i * 7919) % 2**32, s) for i, s in enumerate(objs))


def test_pack_round_trip(objs):
    named = TreeSummary(entries=1, named_dbs=[(b"db", None)])  # type: ignore[list-item]
    p = PackedSummaries.pack([((99, 1), 5, named)] + [((100 + 3 * i, 50 + i % 4), i, s) for i, s in enumerate(objs)])
    assert len(p) == 50 and p.row((99, 1)) is None  # a summary naming sub-databases is walked again
    assert any(s.time_slots for s in objs) and any(_expected_rows(s) for s in objs)
    assert any(SHORT_KEY_SLOT in s.slots for s in objs) and any(not s.slots for s in objs)
    for i, s in enumerate(objs):
        _same(p.summary(i), s)
        assert p.crcs[i] == i
    p.check()
    again = PackedSummaries.from_columns({k: v.copy() for k, v in p.columns().items()})
    again.check()
    _same(again.summary(49), objs[49])


@pytest.mark.parametrize("seed", range(4))
def test_merge_into_equals_merge_many(objs, seed):
    p = _pack(objs)
    rows = sorted(random.Random(seed).sample(range(50), 5 + 10 * seed))
    base = objs[seed]
    got, want = TreeSummary(), TreeSummary()
    got.merge(base)  # merged into a summary that holds slots already
    want.merge(base)
    p.merge_into(np.array(rows, dtype=np.int64), got)
    want.merge_many([objs[r] for r in rows])
    assert got.slots == want.slots
    assert [getattr(got, f) for f in HEADS] == [getattr(want, f) for f in HEADS]
    assert hourly(got.times) == hourly(want.times) and hourly(got.times)
    before = (copy.deepcopy(got.slots), got.entries, len(got.times))
    p.merge_into(np.zeros(0, dtype=np.int64), got)
    assert (dict(got.slots), got.entries, len(got.times)) == before


def test_select_concat_and_lookups(objs):
    p = _pack(objs)
    rows = [1, 4, 5, 17, 30, 49]
    p.verified[4] = True  # found good by this process: still so in a selection
    sel = p.select(np.array(rows))
    assert sel.verified.tolist() == [False, True, False, False, False, False]
    sel.check()
    for j, r in enumerate(rows):
        _same(sel.summary(j), objs[r])
    empty = p.select(np.zeros(0, dtype=np.int64))
    empty.check()
    assert len(empty) == 0
    a, b = p.select(np.arange(0, 20)), p.select(np.arange(20, 50))
    b.verified[3] = True
    both = PackedSummaries.concat([a, PackedSummaries(), b])
    both.check()
    assert len(both) == 50 and (both.keys == p.keys).all() and (both.crcs == p.crcs).all()
    assert both.verified.tolist() == [i in (4, 23) for i in range(50)]
    for i, s in enumerate(objs):
        _same(both.summary(i), s)
    rev = PackedSummaries.concat([b, a])
    _same(rev.summary(0), objs[20])
    _same(rev.summary(30), objs[0])
    assert both.row((100 + 3 * 7, 50 + 7 % 4)) == 7
    q = np.array([(100 + 3 * 49, 51), (100, 50), (101, 50), (100, 51)])
    assert both.find(q[:, 0], q[:, 1]).tolist() == [49, 0, -1, -1]
    assert both.row((5, 5)) is None and PackedSummaries().row((100, 50)) is None


@pytest.mark.parametrize("seed", range(3))
def test_lookups_by_binary_search_equal_a_dict(seed):
    """Keys looked up, kept (only) and dropped (without) as a dict of every row would: page numbers
    under several txnids, in any row order, and keys that are not there."""
    rnd = random.Random(seed)
    keys = set()
    while len(keys) < 300:
        pg = rnd.choice([rnd.randrange(2, 50), rnd.randrange(2, 10**9)])  # small ones repeat: several txnids
        keys.add((pg, rnd.randrange(1, 10**12)))
    order = list(keys)
    rnd.shuffle(order)
    p = PackedSummaries.pack([(k, i, TreeSummary(entries=i)) for i, k in enumerate(order)])
    ref = {k: i for i, k in enumerate(order)}
    assert len({k[0] for k in order}) < len(order)  # some page number has several txnids
    asked = order[::3] + [(k[0], k[1] + 1) for k in order[:40]] + [(1, 1), (10**10, 5)]
    q = np.array(asked, dtype=np.int64)
    assert p.find(q[:, 0], q[:, 1]).tolist() == [ref.get(k, -1) for k in asked]
    assert all(p.row(k) == ref.get(k) for k in asked[:50])
    assert p.row((1 << 63, 5)) is None and p.without({(3, 1 << 64)}) is p  # beyond int64: in no row
    seen = set(order[::2]) | {(1, 1)}
    kept = p.only(seen)
    assert kept is not None and sorted(map(tuple, kept.keys.tolist())) == sorted(set(order[::2]))
    assert kept.head[:, 3].tolist() == sorted(ref[k] for k in order[::2])  # in row order
    gone = p.without(set(order[:100]) | {(7, 7)})
    assert sorted(map(tuple, gone.keys.tolist())) == sorted(order[100:])
    assert p.only(set(order)) is p and p.without({(1, 1)}) is p and p.only({(1, 1)}) is None


def _good() -> PackedSummaries:
    r0 = TreeSummary(slots={1: SlotSpace(3, 1.5), 2: SlotSpace(2, 0.5)}, leaf_pages=2, entries=5,
                     time_slots=frozenset({1, 2}),
                     times=[np.array([[1, H, 2, 100], [1, H + 1, 1, 50], [2, UNTIMED, 1, 10]], dtype=float)])
    r1 = TreeSummary(slots={SHORT_KEY_SLOT: SlotSpace(1, 1.0)}, leaf_pages=1, entries=1, leaf_free_bytes=9)
    r2 = TreeSummary(slots={3: SlotSpace(4, 1.0)}, leaf_pages=1, entries=4, time_slots=frozenset({3}),
                     times=[np.array([[3, H, 4, 10]], dtype=float)])
    return PackedSummaries.pack([((10, 5), 1, r0), ((11, 6), 2, r1), ((12, 6), 3, r2)])


def _set(name, idx, value):
    def bad(p):
        a = getattr(p, name).copy()
        a[idx] = value
        setattr(p, name, a)
    return bad


BAD = {
    "duplicate key": (_set("keys", 1, [10, 5]), "same page"),
    "page 1": (_set("keys", (0, 0), 1), "page 0 or 1"),
    "negative txnid": (_set("keys", (2, 1), -1), "negative txnid"),
    "crc too big": (_set("crcs", 1, 2**32), "32 bits"),
    "crc negative": (_set("crcs", 1, -1), "32 bits"),
    "negative head": (_set("head", (1, 4), -1), "negative or impossible count"),
    "huge head": (_set("head", (1, 4), 1 << 60), "negative or impossible count"),
    "slot below": (_set("slot_ints", (2, 0), -2), "slot is out of range"),
    "slot above": (_set("slot_ints", (2, 0), MAX_SLOT + 1), "slot is out of range"),
    "slot twice": (_set("slot_ints", (1, 0), 1), "slot twice"),
    "records": (_set("slot_ints", (3, 1), 5), "add up"),
    "slot leaf": (_set("slot_leaf", 0, 1.75), "more leaf pages"),
    "nan leaf": (_set("slot_leaf", 2, np.nan), "impossible figure"),
    "slot offsets end": (_set("slot_at", 3, 3), "slot offsets"),
    "slot offsets decrease": (_set("slot_at", 2, 1), "slot offsets"),
    "time offsets": (_set("time_at", 1, 4), "time row offsets"),
    "time row of another slot": (_set("times", (0, 0), 3), "not walked for"),
    "hour 5": (_set("times", (0, 1), 5), "impossible hour"),
    "hour 2100": (_set("times", (0, 1), 4_102_444_800 // 3600), "impossible hour"),
    "no records": (_set("times", (1, 2), 0), "impossible count"),
    "more records than counted": (_set("times", (1, 2), 2), "more records"),
    "negative bytes": (_set("times", (2, 3), -1), "impossible count"),
    "fractional records": (_set("times", (3, 2), 1.5), "whole numbers"),
    "repeated time slots": (_set("tslots", 1, 1), "repeated"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_check_rejects(case):
    p = _good()
    p.check()
    spoil, message = BAD[case]
    spoil(p)
    with pytest.raises(ValueError, match=message) as e:
        p.check()
    assert "\n" not in str(e.value)


def test_usable_checks_crc_once_and_time_slots():
    ps = 4096
    buf = bytearray(random.Random(3).randbytes(ps * 8))
    crc = [zlib.crc32(buf[i * ps:(i + 1) * ps]) for i in range(8)]
    timed = TreeSummary(time_slots=frozenset({1}))
    p = PackedSummaries.pack([((2, 9), crc[2], timed), ((3, 9), crc[3], TreeSummary()),
                              ((4, 9), crc[4] ^ 1, TreeSummary()), ((5, 9), crc[5], TreeSummary())])
    asked: list[list[int]] = []

    def crc_of(pgnos):
        asked.append(pgnos.tolist())
        return np.array([zlib.crc32(buf[b * ps:(b + 1) * ps]) for b in pgnos.tolist()])

    assert p.usable(crc_of, [], frozenset()) == []
    assert p.time_match(frozenset({1})).tolist() == [True, False, False, False]
    assert p.time_match(frozenset({2})).tolist() == [False] * 4
    assert p.usable(crc_of, [0], frozenset({2})) == [False]
    assert p.usable(crc_of, [0, 1, 2], frozenset({1})) == [True, False, False]
    assert p.usable(crc_of, [0, 1, 2], frozenset()) == [False, True, False]  # row 2: a wrong CRC
    assert p.verified.tolist() == [True, True, False, False]
    buf[5 * ps + 100] ^= 0xFF  # a changed page
    assert p.usable(crc_of, [3], frozenset()) == [False]
    buf[5 * ps + 100] ^= 0xFF
    assert p.usable(crc_of, [3], frozenset()) == [True]  # a miss is not remembered
    # a written 1.0 page never changes: a row found good once is not read again
    buf[3 * ps:4 * ps] = bytes(ps)
    assert p.usable(crc_of, [1, 3], frozenset()) == [True, True]
    assert p.usable(crc_of, [1], frozenset({1})) == [False]  # ...but its time slots still must match
    # the pages read: rows of the asked time slots not yet found good, each once it was good
    assert asked == [[2], [3, 4], [5], [5]]


def _same_times(got, want) -> None:
    """Records exact; bytes (fractions of pages, added in another order) to rounding."""
    assert got[0] == want[0] and {s: {h: r for h, (r, _) in hs.items()} for s, hs in got[1].items()} == \
        {s: {h: r for h, (r, _) in hs.items()} for s, hs in want[1].items()}
    assert [b for hs in got[1].values() for _, b in hs.values()] == \
        pytest.approx([b for hs in want[1].values() for _, b in hs.values()], rel=1e-9)


def _walk(path: str, packed: PackedSummaries | None = None):
    with Inspector(path) as ins:
        ins.walker.time_slots = frozenset({2})
        if packed is not None:
            assert ins.adopt_summaries(packed) == len(packed)
        snap = ins.snapshot()
        return snap, ins._last.walk.cached_subtrees, ins.key_times()


@pytest.mark.parametrize(("n", "pad", "depth"), [(30000, 0, 3), (6000, 300, 4)])
def test_adopted_summaries_are_reused_only_with_their_crc(tmp_path, n, pad, depth):
    """Depth 3: bottom branch pages' rows merged as columns; depth 4: also rows read back one by one."""
    path = str(tmp_path / "db")
    put_random(path, n, seed=1, pad=pad)
    with Inspector(path) as ins:
        ins.walker.time_slots = frozenset({2})
        first = ins.snapshot()
        assert first.count_method == "pages" and first.lmdb.depth == depth
        packed = ins.export_summaries()
    packed.check()
    assert len(packed) >= 5 and all(packed.time_match(frozenset({2})))
    put_random(path, 1, seed=2, commits=3, pad=pad)  # a few branch pages change, most do not
    fresh, hits, times = _walk(path)
    assert hits == 0 and fresh.count_method == "pages"
    assert {t.slot: t.records for t in fresh.tables} != {t.slot: t.records for t in first.tables}

    reused, hits, got_times = _walk(path, packed)
    assert reused.count_method == "pages+cache" and hits == packed.verified.sum() >= 3
    assert {t.slot: t.records for t in reused.tables} == {t.slot: t.records for t in fresh.tables}
    assert space_key(reused) == space_key(fresh) and len(times[1][2]) > 50
    _same_times(got_times, times)

    wrong = PackedSummaries.from_columns({**packed.columns(), "crcs": (packed.crcs + 1) % 2**32})
    wrong.check()
    walked, hits, got_times = _walk(path, wrong)
    assert walked.count_method == "pages" and hits == 0 and not wrong.verified.any()
    assert space_key(walked) == space_key(fresh)
    _same_times(got_times, times)


def _keys(packed: PackedSummaries) -> set[tuple[int, int]]:
    return set(zip(packed.keys[:, 0].tolist(), packed.keys[:, 1].tolist()))


def test_positions_between_walks_keep_every_valid_summary(tmp_path):
    """rank() (a record's position) walks subtrees without knowing their parents: recording a wrong
    one made the next walk drop the summaries below a reused page. After rank() and a commit at the
    far right, the export still holds one row per branch page of the tree."""
    path = str(tmp_path / "db")
    put_random(path, 6000, seed=1, pad=300)
    with Inspector(path) as ins:
        first = ins.snapshot()
        assert first.lmdb.depth == 4
        ins.read(lambda txn, pf, meta: ins.walker.rank(pf, meta, struct.pack(">H", 2) + b"\x80"))
        code = ("import struct, sys; from zlmdb import lmdb; env = lmdb.open(sys.argv[1], map_size=256 << 20, "
                "lib_version=1); txn = env.begin(write=True); "
                "txn.put(struct.pack('>H', 3) + b'\\xff' * 12 + b'k' * 300, b'v' * 40); txn.commit(); env.close()")
        subprocess.run([sys.executable, "-c", code, path], check=True, timeout=60)  # the rightmost leaf
        ins.count_now()
        second = ins.snapshot()
        assert second.count_method == "pages+cache"
        assert len(ins.export_summaries()) == second.lmdb.branch_pages


def test_a_saved_row_used_replaces_a_cached_one_of_other_time_slots(tmp_path):
    """A summary cached for other time slots must not be what is written back when the saved row
    (walked for the slots asked now) was the one used."""
    path = str(tmp_path / "db")
    put_random(path, 30000, seed=1)
    with Inspector(path) as ins:
        ins.walker.time_slots = frozenset({2})
        ins.snapshot()
        packed = ins.export_summaries()
    with Inspector(path) as ins:
        ins.walker.time_slots = frozenset({1, 2})
        ins.snapshot()  # a cache of summaries walked for {1, 2}
        assert ins.adopt_summaries(packed) == len(packed)
        ins.walker.time_slots = frozenset({2})
        ins.count_now()
        ins.snapshot()
        out = ins.export_summaries()
        assert len(out) == len(packed) and out.time_match(frozenset({2})).all()
