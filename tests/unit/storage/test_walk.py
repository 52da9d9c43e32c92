"""The page walker: exact counts at any depth, incremental refresh, damage never crashes."""

from __future__ import annotations

import contextlib
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from conftest import put_random, raw_env, run_cli, sha, space_key

from zlmdb_inspect.storage.cursor_count import cursor_counts
from zlmdb_inspect.storage.inspector import Inspector


def _deep_db(path, fmt, n=12000, big=True):
    env = raw_env(path, fmt, map_size=256 * 1024 * 1024)
    with env.begin(write=True) as txn:
        for i in range(n):
            slot = 1 + (i * 7) % 5
            txn.put(struct.pack(">HI", slot, i) + b"k" * 380, b"v" * (50 if i % 97 or not big else 5000))
        for i in range(50):
            txn.put(b"\0\x09" + struct.pack(">I", i), b"w")
        txn.put(b"\x07", b"short key")
    env.close()


def test_counts_equal_cursor_counts_at_depth_4(tmp_path, fmt):
    path = str(tmp_path / "deep")
    _deep_db(path, fmt)
    with Inspector(path) as ins:
        snap = ins.snapshot()
        assert snap.lmdb.depth >= 4
        walked = {t.slot: t.records for t in snap.tables}
        expected = ins.read(lambda txn, pf, meta: cursor_counts(txn))
        assert snap.short_key_records == expected.pop(-1) == 1
        assert walked == expected
        assert sum(t.overflow_pages for t in snap.tables) == snap.lmdb.overflow_pages
        assert snap.count_method == "pages"
        hdr = 24 if fmt == "1.0" else 16
        per_page = (hdr - 1 + 5000) // 4096 + 1
        big = {}
        for i in range(0, 12000, 97):
            slot = 1 + (i * 7) % 5
            big[slot] = big.get(slot, 0) + 1
        for t in snap.tables:
            assert t.overflow_pages == big.get(t.slot, 0) * per_page, t.slot
            assert t.overflow_bytes == big.get(t.slot, 0) * 5000
            if t.slot in big:
                assert t.max_value == 5000


@pytest.mark.parametrize("big", [True, False], ids=["overflow", "no-overflow"])
@pytest.mark.parametrize("fmt", ["1.0", "0.9"])
def test_portable_walk_matches_the_vectorised_one(tmp_path, monkeypatch, fmt, big):
    """The per-node walk (used where fields are not little-endian) counts the same as the
    vectorised one, whatever the size of its batches of leaves."""
    from zlmdb_inspect.storage import walk as pages

    path = str(tmp_path / "deep")
    _deep_db(path, fmt, n=6000, big=big)
    key = space_key
    with Inspector(path) as ins:
        fast = ins.snapshot()
        assert fast.lmdb.depth >= 3 and (fast.lmdb.overflow_pages > 0) == big
        expected = ins.read(lambda txn, pf, meta: cursor_counts(txn))
        assert fast.short_key_records == expected.pop(-1)
        assert {t.slot: t.records for t in fast.tables} == expected
    for batch, sort_above in ((1, 0), (7, 0), (7, 10**9)):  # a batch per bottom branch page, or a few
        monkeypatch.setattr(pages.TreeWalker, "batch_leaves", batch)
        monkeypatch.setattr(pages.TreeWalker, "batch_leaves_nodes", batch)
        monkeypatch.setattr(pages.TreeWalker, "batch_leaves_deferred", batch)
        monkeypatch.setattr(pages.PageFile, "sort_above", sort_above)  # leaf headers in file order, or not
        with Inspector(path) as ins:
            assert key(ins.snapshot()) == key(fast), batch
    monkeypatch.setattr(pages, "LITTLE_ENDIAN_HOST", False)
    with Inspector(path) as ins:
        slow = ins.snapshot()
    assert key(fast) == key(slow)


def test_incremental_refresh_reads_only_what_changed(tmp_path):
    path = str(tmp_path / "inc")
    env = raw_env(path, "1.0", map_size=256 * 1024 * 1024)
    with env.begin(write=True) as txn:
        for i in range(200_000):
            txn.put(struct.pack(">HQ", 1 + i % 3, i), b"v" * 40)
    env.close()
    with Inspector(path) as ins:
        first = ins.snapshot()
        code = ("import sys,struct; from zlmdb import lmdb; e=lmdb.open(sys.argv[1], map_size=0)\n"
                "with e.begin(write=True) as t:\n"
                "    [t.put(struct.pack('>HQ', 2, 10_000_000 + i), b'n' * 40) for i in range(300)]")
        subprocess.run([sys.executable, "-c", code, path], check=True)
        second = ins.snapshot()
        assert second.count_method == "pages+cache"
        assert second.page_reads * 10 < first.page_reads, (first.page_reads, second.page_reads)
        assert second.table_by_slot(2).records == first.table_by_slot(2).records + 300
        expected = ins.read(lambda txn, pf, meta: cursor_counts(txn))
        assert {t.slot: t.records for t in second.tables} == expected


CHANGE_SCATTERED = """
import random, struct, sys
from zlmdb import lmdb
env = lmdb.open(sys.argv[1], map_size=0)
rng = random.Random(int(sys.argv[2]))
for _ in range(4):  # a few commits, each touching leaves all over the tree
    with env.begin(write=True) as txn:
        for _ in range(150):
            slot = rng.randrange(1, 6)
            txn.put(struct.pack(">HI", slot, rng.randrange(20000, 10**6)) + b"k" * 380,
                    b"n" * (5000 if rng.random() < 0.05 else 60))
        for _ in range(100):
            i = rng.randrange(12000)
            txn.delete(struct.pack(">HI", 1 + (i * 7) % 5, i) + b"k" * 380)
"""


def _walk_key(w) -> tuple:
    s = w.summary
    slots = sorted((slot, sp.records, round(sp.leaf_pages, 6), sp.overflow_pages, sp.overflow_bytes, sp.max_value)
                   for slot, sp in s.slots.items())
    free = sorted(map(tuple, w.free_records.tolist()))
    return slots, s.branch_pages, s.leaf_pages, s.overflow_pages, s.entries, w.free_pages, w.free_db_pages, free


def test_incremental_walk_after_scattered_changes_equals_a_full_walk(tmp_path):
    """A 1.0 walk that reuses the summaries of unchanged subtrees (depth 4, changes in leaves all
    over the tree, values on overflow pages added and removed) says what a walk from scratch says."""
    from zlmdb_inspect.storage.walk import TreeWalker

    path = str(tmp_path / "scatter")
    _deep_db(path, "1.0")
    with Inspector(path) as ins:
        inc = TreeWalker()
        first = ins.read(lambda txn, pf, meta: inc.walk(pf, meta))
        assert first.cached_subtrees == 0  # nothing to reuse yet: the reuse below is the changes'
        assert ins.snapshot().lmdb.depth >= 4
        for seed in range(3):
            subprocess.run([sys.executable, "-c", CHANGE_SCATTERED, path, str(seed)], check=True)
            again = ins.read(lambda txn, pf, meta: inc.walk(pf, meta))
            full = ins.read(lambda txn, pf, meta: TreeWalker().walk(pf, meta))
            assert again.cached_subtrees > 10 and full.cached_subtrees == 0
            assert again.page_reads < full.page_reads
            assert _walk_key(again) == _walk_key(full)
            ins.count_now()  # a walk that took over DEFER_ABOVE_S (a busy machine) would defer this one
            snap = ins.snapshot()  # the inspector's own walker, incremental too
            assert snap.count_method == "pages+cache"
            expected = ins.read(lambda txn, pf, meta: cursor_counts(txn))
            assert snap.short_key_records == expected.pop(-1)
            assert {t.slot: t.records for t in snap.tables} == expected


@pytest.mark.parametrize("where", ["branch", "leaf"])
def test_damaged_pages_are_reported_not_crashed(tmp_path, where):
    path = str(tmp_path / "dmg")
    _deep_db(path, "1.0", n=3000)
    data = os.path.join(path, "data.mdb")
    raw = bytearray(open(data, "rb").read())
    psize = 4096
    target = None
    for pg in range(2, len(raw) // psize):
        flags = struct.unpack_from("<H", raw, pg * psize + 18)[0]
        if (where == "branch" and flags & 1) or (where == "leaf" and flags & 2 and pg > 10):
            target = pg
    raw[target * psize:target * psize + 24] = os.urandom(24)
    open(data, "wb").write(bytes(raw))
    before = sha(path)
    for mode in (["--json"], ["--check"], ["--dump", "1"]):
        r = run_cli(path, *mode, timeout=30)
        assert r.returncode in (0, 2, 3), r.stderr
        assert "Traceback" not in r.stderr
    r = run_cli(path, "--check", "--verify", timeout=60)
    assert r.returncode == 2 and "damaged" in r.stdout
    assert sha(path) == before


def test_rank_equals_cursor_positions(tmp_path, fmt):
    path = str(tmp_path / "rank")
    _deep_db(path, fmt, n=8000)
    with Inspector(path) as ins:
        snap = ins.snapshot()
        assert snap.lmdb.depth >= 4

        def keys(txn, pf, meta):
            return list(txn.cursor().iternext(values=False))

        all_keys = ins.read(keys)
        probes = all_keys[::397] + [all_keys[-1], b"\0", b"\x00\x03", b"\x00\x03\xff", b"\xff\xff"]
        for k in probes:
            expected = sum(1 for x in all_keys if x < k)
            got = ins.read(lambda txn, pf, meta, k=k: ins.walker.rank(pf, meta, k))
            assert got == expected, k


def test_key_at_inverts_rank(tmp_path, fmt):
    path = str(tmp_path / "keyat")
    _deep_db(path, fmt, n=8000)
    with Inspector(path) as ins:
        ins.snapshot()
        all_keys = ins.read(lambda txn, pf, meta: list(txn.cursor().iternext(values=False)))
        for i in list(range(0, len(all_keys), 311)) + [len(all_keys) - 1]:
            got = ins.read(lambda txn, pf, meta, i=i: ins.walker.key_at(pf, meta, i))
            assert got == all_keys[i], i
        assert ins.read(lambda txn, pf, meta: ins.walker.key_at(pf, meta, len(all_keys))) is None


def test_headers_in_file_order_and_in_threads_equal_a_plain_gather(tmp_path, monkeypatch):
    """The large-batch path of ``PageFile.headers`` (counting-sort order, parallel gather) reads
    exactly what plain indexing reads, for distinct, repeated and unsorted page numbers."""
    import numpy as np

    from zlmdb_inspect.storage.pageformat import PageFile

    path = str(tmp_path / "h")
    env = raw_env(path, "0.9")
    with env.begin(write=True) as txn:
        for i in range(20000):
            txn.put(struct.pack(">HI", 1, i), b"v" * 100)
    env.close()
    pf = PageFile(os.path.join(path, "data.mdb"))
    try:
        rng = np.random.default_rng(7)
        pages = pf.pages_in_file
        distinct = rng.permutation(np.arange(2, pages))
        repeated = rng.integers(2, pages, size=3 * pages)
        sparse = rng.choice(np.arange(2, pages), size=max(1, pages // 20), replace=False)
        for pgnos in (distinct, repeated, sparse):
            plain = pf.np_headers[pgnos]
            expect = (plain[:, 0].astype(np.int64), ((plain[:, -1] >> 16) & 0xFFFF).astype(np.int64))
            monkeypatch.setattr(pf, "sort_above", 1)
            monkeypatch.setattr(pf, "gather_threads", 3)
            stored, flags, _, _ = pf.headers(pgnos)
            assert (stored == expect[0]).all() and (flags == expect[1]).all()
            order = pf._file_order(pgnos)
            assert (np.diff(pgnos[order]) >= 0).all()
    finally:
        pf.close()


def test_scattered_reads_equal_the_mapping_and_stop_at_a_shrunk_file(tmp_path, monkeypatch):
    """``header_words``/``fresh_pages`` by pread read exactly what the mapping holds, each page by pread
    once per PageFile (then through the mapping); a file cut short under them is a PageError."""
    from zlmdb_inspect.storage.pageformat import PageError, PageFile

    path = str(tmp_path / "db")
    _deep_db(path, "1.0", n=3000, big=False)
    data = os.path.join(path, "data.mdb")
    pf = PageFile(data)
    try:
        rng = np.random.default_rng(5)
        pgnos = rng.choice(np.arange(2, pf.pages_in_file), size=40, replace=False)
        calls: list[int] = []
        real = os.pread

        def counting(fd, n, off):
            calls.append(off // pf.page_size)
            return real(fd, n, off)

        with monkeypatch.context() as m:
            m.setattr(os, "pread", counting)
            mask = np.arange(40) % 3 != 0  # a third go through the mapping
            got = pf.header_words(pgnos, mask)
            assert (got == pf.np_headers[pgnos]).all()
            assert sorted(calls) == sorted(pgnos[mask].tolist())
            assert (pf.header_words(pgnos, True) == got).all() and len(calls) == mask.sum()  # read once
        more = rng.choice(np.setdiff1d(np.arange(2, pf.pages_in_file), pgnos), size=10, replace=False)
        block = pf.fresh_pages(np.concatenate([more, pgnos[:3]]))  # most are new: pread, the rest copied
        assert block is not None
        want = np.stack([pf.np[p * pf.page_size:(p + 1) * pf.page_size] for p in np.concatenate([more, pgnos[:3]])])
        assert (block == want).all()
        assert (pf.words_of(block) == pf.np_headers[np.concatenate([more, pgnos[:3]])]).all()
        assert pf.fresh_pages(more) is None  # read already: through the mapping
        last = np.array([pf.pages_in_file - 1])
        os.truncate(data, (pf.pages_in_file - 1) * pf.page_size)
        with pytest.raises(PageError, match="shrank"):
            pf.header_words(last, True)
    finally:
        pf.close()


def test_a_walk_from_saved_summaries_preads_what_it_reads_once(tmp_path, monkeypatch):
    """A walk from a state file's summaries reads the pages it wants once by pread (not through the
    mapping), counts what a walk from scratch counts, and a later walk in the same process reads those
    pages through the mapping; a walk of the whole tree preads nothing."""
    path = str(tmp_path / "db")
    put_random(path, 30000, seed=4)

    def commit(seed: int) -> None:  # another process: this one may have the environment open
        code = ("import random, struct, sys; from zlmdb import lmdb; r = random.Random(int(sys.argv[2]))\n"
                "env = lmdb.open(sys.argv[1], map_size=256 << 20, lib_version=1)\n"
                "for _ in range(5):\n"
                "    with env.begin(write=True) as t:\n"
                "        t.put(struct.pack('>H', r.choice((1, 2, 3))) + r.randbytes(12), b'w' * 40)\n"
                "env.close()\n")
        subprocess.run([sys.executable, "-c", code, path, str(seed)], check=True)

    offsets: list[int] = []
    real_pread, real_preadv = os.pread, os.preadv
    from zlmdb_inspect.storage.pageformat import PageFile

    fds: set[int] = set()  # PageFiles' own descriptors (read-ahead of a cold cache has others)
    real_init = PageFile.__init__

    def init(self, path):
        real_init(self, path)
        fds.add(self._fd)

    monkeypatch.setattr(PageFile, "__init__", init)
    monkeypatch.setattr(os, "pread", lambda fd, n, off: (fd in fds and offsets.append(off)) or real_pread(fd, n, off))
    monkeypatch.setattr(os, "preadv",
                        lambda fd, bufs, off: (fd in fds and offsets.append(off)) or real_preadv(fd, bufs, off))
    with Inspector(path) as ins:
        ins.walker.time_slots = frozenset({2})
        ins.snapshot()
        packed = ins.export_summaries()
        assert ins._pf.mapped_tree and not offsets  # a whole walk: through the mapping only
    commit(1)
    with Inspector(path) as ins:
        ins.walker.time_slots = frozenset({2})
        fresh = ins.snapshot()
    assert not offsets
    with Inspector(path) as ins:
        ins.walker.time_slots = frozenset({2})
        ins.adopt_summaries(packed)
        reused = ins.snapshot()
        assert reused.count_method == "pages+cache" and not ins._pf.mapped_tree
        assert space_key(reused) == space_key(fresh)
        assert {t.slot: t.records for t in reused.tables} == {t.slot: t.records for t in fresh.tables}
        first = set(offsets)
        assert len(first) == len(offsets) > 50  # each page once
        pf = ins._pf
        commit(2)
        offsets.clear()
        again = ins.snapshot()
        assert ins._pf is pf  # the same mapping (the file did not grow)
        assert not first & set(offsets)  # read before: through the mapping now
    with Inspector(path) as ins:
        scratch = ins.snapshot()
    assert space_key(again) == space_key(scratch)


def test_a_file_that_is_not_lmdb_leaves_no_descriptor_open(tmp_path):
    """PageFile keeps a descriptor for scattered reads: a damaged or foreign file must not leak one
    (the TUI opens it again at every refresh)."""
    from zlmdb_inspect.storage.pageformat import PageError, PageFile

    bad = tmp_path / "data.mdb"
    bad.write_bytes(os.urandom(8192))
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        with pytest.raises(PageError):
            PageFile(str(bad))
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_page_file_dropped_without_close_leaves_no_descriptor(tmp_path):
    """An opener that fails after opening the PageFile (LMDB refusing the environment) drops it without
    close(): its descriptor goes with it (a fleet retries such a database at every refresh)."""
    import gc

    from zlmdb_inspect.storage.pageformat import PageFile

    path = str(tmp_path / "db")
    _deep_db(path, "1.0", n=200, big=False)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(10):
        PageFile(os.path.join(path, "data.mdb"))
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before
    pf = PageFile(os.path.join(path, "data.mdb"))
    pf.close()
    pf.close()  # twice: harmless
    assert len(os.listdir("/proc/self/fd")) == before


def _walked(walker, data: str):
    """``walker``'s walk of the file ``data`` now, and the snapshot's txnid."""
    from zlmdb_inspect.storage.pageformat import PageFile

    with contextlib.closing(PageFile(data)) as pf:
        meta = pf.current_meta()
        return walker.walk(pf, meta), meta.txnid


def _levels(pf, since: int) -> tuple[list[int], list[int]]:
    """The parents of bottom branch pages, and the bottom branch pages written after txnid ``since``."""
    meta = pf.current_meta()
    depth = _depths(pf)
    parents = [p for p, d in depth.items() if d == meta.main.depth - 2]
    bottom = np.array([p for p, d in depth.items() if d == meta.main.depth - 1], dtype=np.int64)
    return parents, bottom[pf.txnids(bottom) > np.uint64(since)].tolist()


def _depths(pf) -> dict[int, int]:
    """The main tree's pages by depth (the root: 1), read page by page."""
    meta = pf.current_meta()
    depth = {meta.main.root: 1}
    frontier = [meta.main.root]
    while frontier:
        nxt = []
        for p in frontier:
            flags, lower, upper, _ = pf.header(p, meta.last_pgno, "a page")
            if flags & 0x01:
                for i in range(pf.numkeys(p, lower, upper)):
                    child = pf.child_pgno(pf.node(p, i))
                    depth[child] = depth[p] + 1
                    nxt.append(child)
        frontier = nxt
    return depth


@pytest.mark.parametrize("how", ["cache", "saved"])
def test_damage_on_a_changed_bottom_branch_page_stops_an_incremental_walk(tmp_path, how):
    """A 1.0 walk that reuses summaries (this process's, or a state file's rows) reads the bottom branch
    pages that changed in one pass at its end: a damaged one is said (its page number), and nothing of the
    stopped walk is cached for the next."""
    from zlmdb_inspect.storage.pageformat import PageError, PageFile
    from zlmdb_inspect.storage.walk import TreeWalker

    path = str(tmp_path / "db")
    _deep_db(path, "1.0")
    data = os.path.join(path, "data.mdb")
    walker = TreeWalker()
    _, before = _walked(walker, data)
    with Inspector(path) as ins:  # a state file's rows of the tree before the changes
        ins.snapshot()
        packed = ins.export_summaries()
    subprocess.run([sys.executable, "-c", CHANGE_SCATTERED, path, "5"], check=True)
    with contextlib.closing(PageFile(data)) as pf:
        meta = pf.current_meta()
        assert meta.main.depth >= 4
        changed = _levels(pf, before)[1]
        victim, at = changed[len(changed) // 2], pf.hdrsz - 6
    if how == "saved":
        walker = TreeWalker()
        walker.saved = packed
    control = TreeWalker()  # undamaged, the same walk reuses summaries
    control.cache, control.saved = dict(walker.cache), walker.saved
    assert _walked(control, data)[0].cached_subtrees > 10
    kept, kept_parents = dict(walker.cache), dict(walker.parents)
    with open(data, "r+b") as f:  # the changed bottom branch page's flags: neither branch nor leaf
        f.seek(victim * meta.page_size + at)
        f.write(b"\x10\x00")
    with pytest.raises(PageError, match=f"page {victim} "):
        _walked(walker, data)
    assert walker.cache == kept
    assert walker.parents.keys() - kept_parents.keys() <= walker.cache.keys()  # no parent of an uncached one


def test_first_and_last_leaves_take_their_slot_from_the_parents_separators(tmp_path, monkeypatch):
    """The first and last leaf of a bottom branch page are bounded by its parent's separators: an
    incremental walk reads keys only of leaves where one slot ends and the next begins (before, of the
    first and last leaf under every changed bottom branch page), and counts what a walk from scratch does."""
    from zlmdb_inspect.storage.pageformat import PageFile
    from zlmdb_inspect.storage.walk import TreeWalker, _Walk

    path = str(tmp_path / "db")
    _deep_db(path, "1.0", big=False)
    data = os.path.join(path, "data.mdb")
    walker = TreeWalker()
    walker.want_space = False  # headers only: the leaves' nodes are read where a slot is not known
    _, first = _walked(walker, data)
    subprocess.run([sys.executable, "-c", CHANGE_SCATTERED.replace('b"n" * (5000 if rng.random() < 0.05 else 60)',
                                                                    'b"n" * 60'), path, "3"], check=True)
    probed: list[int] = []
    real = _Walk.leaf_key_slots

    def count(self, bases, i, kids, which):
        probed.extend(kids[which].tolist())
        return real(self, bases, i, kids, which)

    monkeypatch.setattr(_Walk, "leaf_key_slots", count)
    again, _ = _walked(walker, data)
    probed_again = set(probed)  # (not the walk from scratch below)
    full = TreeWalker()
    full.want_space = False
    assert _walk_key(again) == _walk_key(_walked(full, data)[0])
    with contextlib.closing(PageFile(data)) as pf:
        parents, changed = _levels(pf, first)  # the changed ones' leaves are read again
    assert again.cached_subtrees > 10 and len(parents) > 5
    # a leaf's keys are read where one slot ends (the 7 slots' first and last leaves), and at the first and
    # last leaf under each parent page (its own bounds are not handed down from the root); not at the first
    # and last leaf of each of the bottom branch pages read again
    assert len(probed_again) <= 2 * 7 + 2 * len(parents) < 2 * len(changed), (len(probed_again), len(changed))


@pytest.mark.parametrize("fmt", ["1.0", "0.9"])
def test_parent_bounds_count_what_the_portable_walk_and_a_cursor_count(tmp_path, monkeypatch, fmt):
    """Many small slots (slot boundaries fall on the first and last leaves of bottom branch pages): the
    walk that bounds those leaves by the separators in the page above counts records and leaf pages per
    slot as the per-node walk (which never does) and records as an LMDB cursor does, first and
    incremental (1.0)."""
    import random

    from zlmdb_inspect.storage import walk as pages

    path = str(tmp_path / "db")
    rnd = random.Random(8)
    env = raw_env(path, fmt, map_size=256 * 1024 * 1024)
    with env.begin(write=True) as txn:
        for i in range(9000):
            slot = rnd.choice([1 + (i % 90), rnd.randrange(1, 91)])
            txn.put(struct.pack(">HI", slot, rnd.randrange(10**8)) + b"k" * 300, b"v" * rnd.choice([20, 60]))
    env.close()
    with Inspector(path) as ins:
        first = ins.snapshot()
        assert first.lmdb.depth >= 4
        expected = ins.read(lambda txn, pf, meta: cursor_counts(txn))
        expected.pop(-1, None)
        assert {t.slot: t.records for t in first.tables} == expected
        subprocess.run([sys.executable, "-c", CHANGE_SCATTERED.replace(
            "slot = rng.randrange(1, 6)", "slot = rng.randrange(1, 91)").replace(
            'b"n" * (5000 if rng.random() < 0.05 else 60)', 'b"n" * 60').replace(
            "for _ in range(100):\n            i = rng.randrange(12000)\n", "for _ in range(0):\n            i = 0\n"),
            path, "4"], check=True)
        ins.count_now()
        again = ins.snapshot()
        if fmt == "1.0":
            assert again.count_method == "pages+cache"
        expected = ins.read(lambda txn, pf, meta: cursor_counts(txn))
        expected.pop(-1, None)
        assert {t.slot: t.records for t in again.tables} == expected
    monkeypatch.setattr(pages, "LITTLE_ENDIAN_HOST", False)
    with Inspector(path) as ins:
        slow = ins.snapshot()
    assert space_key(again) == space_key(slow)
