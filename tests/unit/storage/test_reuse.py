"""What a refresh may skip: an unchanged snapshot is reused, an expensive count is deferred
(and said so), a cold tree is read ahead; counts stay exact on random-key trees."""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys

import pytest
from conftest import raw_env, sha, space_key

from zlmdb_inspect.core.errors import InspectError
from zlmdb_inspect.storage import prefetch
from zlmdb_inspect.storage import walk as pages
from zlmdb_inspect.storage.cursor_count import cursor_counts
from zlmdb_inspect.storage.inspector import Inspector

WRITE = ("import sys,struct; from zlmdb import lmdb; e=lmdb.open(sys.argv[1], map_size=0)\n"
         "with e.begin(write=True) as t:\n"
         "    [t.put(struct.pack('>HQ', 2, 10**12 + i) + b'k' * 300, b'n' * 40) for i in range(int(sys.argv[2]))]")


def _write(path: str, n: int = 50) -> None:
    subprocess.run([sys.executable, "-c", WRITE, path, str(n)], check=True)


def _random_db(path: str, fmt: str, n: int = 9000, big: bool = False) -> None:
    """Random 16-byte keys (padded so the tree is deep), in random order: half-full leaves."""
    rng = random.Random(n)
    env = raw_env(path, fmt, map_size=256 * 1024 * 1024)
    with env.begin(write=True) as txn:
        for slot in range(1, 5):
            txn.put(b"\0\0" + struct.pack(">H", slot), b"\xa0")
        for i in range(n):
            key = struct.pack(">H", 1 + rng.randrange(4)) + rng.randbytes(16) + b"k" * 300
            txn.put(key, b"v" * (5000 if big and i % 89 == 0 else rng.randint(60, 210)))
    env.close()


def _counts(snap) -> dict[int, int]:
    return {t.slot: t.records for t in snap.tables}


def test_unchanged_snapshot_is_reused_and_readers_are_read_again(tmp_path, fmt, monkeypatch):
    path = str(tmp_path / "db")
    _random_db(path, fmt, n=3000)
    with Inspector(path) as ins:
        first = ins.snapshot()
        assert first.page_reads > 0
        walks = []
        real_walk = ins.walker.walk
        monkeypatch.setattr(ins.walker, "walk", lambda *a, **k: walks.append(1) or real_walk(*a, **k))
        catalogs = []
        real_catalog = ins._catalog
        monkeypatch.setattr(ins, "_catalog", lambda txn: catalogs.append(1) or real_catalog(txn))
        readers = []
        real_take = ins._take

        def take(txn, pf, meta, remember=True):
            env = ins._env
            readers.append(env.readers() if ins.locking else None)
            return real_take(txn, pf, meta, remember)
        monkeypatch.setattr(ins, "_take", take)

        again = ins.snapshot()
        assert walks == [] and catalogs == []  # nothing read that cannot have changed
        assert _counts(again) == _counts(first)
        assert again.tables is not first.tables and again.problems == first.problems
        assert again.counts_txnid == again.lmdb.last_txnid == first.lmdb.last_txnid
        assert again.counts_at == first.counts_at and again.counts_next_at is None
        assert len(readers) == 1

        _write(path)  # a new transaction: walked again (a walk this small is never deferred)
        third = ins.snapshot()
        assert walks == [1] and catalogs == [1]
        assert third.page_reads > 0
        assert third.table_by_slot(2).records == first.table_by_slot(2).records + 50
        assert third.counts_txnid == third.lmdb.last_txnid > first.lmdb.last_txnid
        expected = ins.read(lambda txn, pf, meta: cursor_counts(txn))
        expected.pop(-1, None)
        assert _counts(third) == expected


def test_reused_snapshot_sees_live_readers(tmp_path):
    """The reader table is read at every refresh, even when the data is reused."""
    path = str(tmp_path / "db")
    _random_db(path, "1.0", n=500)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time; from zlmdb import lmdb\n"
         "e=lmdb.open(sys.argv[1], map_size=0, readonly=True); t=e.begin(); print('ok', flush=True)\n"
         "sys.stdin.readline()", path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        with Inspector(path) as ins:
            first = ins.snapshot()
            assert any(r.pid == holder.pid for r in first.readers)
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(10)
            again = ins.snapshot()
            assert again.counts_at == first.counts_at  # reused...
            assert not any(r.pid == holder.pid and r.alive for r in again.readers)  # ...but not the readers
    finally:
        holder.kill()
        holder.wait()


def test_changed_bytes_without_a_commit_are_read_again(tmp_path):
    """A file rewritten under the same txnid (a restore, damage) is not served from the last walk."""
    path = str(tmp_path / "db")
    _random_db(path, "0.9", n=3000)
    with Inspector(path) as ins:
        ok = ins.snapshot()
        assert not any(p.kind == "damaged" for p in ok.problems)
        root = ins.read(lambda txn, pf, meta: meta.main.root)
        psize = ok.lmdb.page_size
        with open(os.path.join(path, "data.mdb"), "r+b") as f:
            f.seek(root * psize)
            f.write(struct.pack("<Q", 999_999))  # the root no longer stores its own number
        bad = ins.snapshot()
        assert any(p.kind == "damaged" for p in bad.problems)


def test_expensive_counts_are_deferred_and_said_so(tmp_path, monkeypatch):
    """0.9-format walks are full walks: when they are expensive they run less often."""
    path = str(tmp_path / "db")
    _random_db(path, "0.9", n=3000)
    monkeypatch.setattr(Inspector, "DEFER_ABOVE_S", 0.0)  # every walk counts as expensive
    monkeypatch.setattr(Inspector, "WALK_SHARE", 1e-6)  # and the next is due in a long time
    monkeypatch.setattr(Inspector, "DEFER_MAX_S", 3600.0)
    with Inspector(path) as ins:
        first = ins.snapshot()
        assert first.counts_next_at is None
        _write(path)
        stale = ins.snapshot()
        assert stale.lmdb.last_txnid > first.lmdb.last_txnid  # cheap figures are current
        assert stale.lmdb.entries == first.lmdb.entries + 50
        assert stale.counts_txnid == first.lmdb.last_txnid  # counts are not, and say since when
        assert stale.counts_at == first.counts_at
        assert stale.counts_next_at is not None and stale.counts_next_at > stale.taken_at
        assert _counts(stale) == _counts(first)
        monkeypatch.setattr(Inspector, "DEFER_MAX_S", 0.0)  # the cap: due again at once
        _write(path)
        ins.count_now()
        ins.snapshot()
        _write(path)
        capped = ins.snapshot()
        assert capped.counts_txnid == capped.lmdb.last_txnid
        monkeypatch.setattr(Inspector, "DEFER_MAX_S", 3600.0)
        ins.count_now()  # the TUI's `r`
        fresh = ins.snapshot()
        assert fresh.counts_txnid == fresh.lmdb.last_txnid
        assert fresh.table_by_slot(2).records == first.table_by_slot(2).records + 50  # same 50 keys rewritten
        _write(path)
        assert ins.snapshot().counts_txnid == fresh.lmdb.last_txnid  # deferred again
        monkeypatch.setattr(Inspector, "DEFER_ABOVE_S", 1e9)  # walks cheap again: due at once after the next
        ins.count_now()
        ins.snapshot()
        _write(path)
        now = ins.snapshot()
        assert now.counts_txnid == now.lmdb.last_txnid and now.counts_next_at is None


def test_first_full_walk_does_not_delay_incremental_ones(tmp_path, monkeypatch):
    """1.0-format walks read only what changed: the first (full) walk's cost does not delay the next;
    an incremental walk as expensive as a full one would (heavy churn) delays the one after."""
    path = str(tmp_path / "db")
    _random_db(path, "1.0", n=3000)
    monkeypatch.setattr(Inspector, "DEFER_ABOVE_S", 0.0)
    monkeypatch.setattr(Inspector, "WALK_SHARE", 1e-6)
    monkeypatch.setattr(Inspector, "DEFER_MAX_S", 3600.0)
    with Inspector(path) as ins:
        first = ins.snapshot()
        _write(path)
        now = ins.snapshot()
        assert now.counts_txnid == now.lmdb.last_txnid > first.lmdb.last_txnid
        assert now.table_by_slot(2).records == first.table_by_slot(2).records + 50
        assert now.count_method == "pages+cache"
        _write(path)
        later = ins.snapshot()  # the incremental walk above counted as expensive here
        assert later.counts_txnid == now.lmdb.last_txnid < later.lmdb.last_txnid


@pytest.mark.parametrize("big", [False, True], ids=["no-overflow", "overflow"])
@pytest.mark.parametrize("fmt", ["1.0", "0.9"])
def test_random_keys_deep_tree_counts_exact(tmp_path, monkeypatch, fmt, big):
    """Random-key trees of depth >= 4: the whole-tree batches, in file order or not, and
    the read-ahead of every tree page count what LMDB's cursor counts."""
    path = str(tmp_path / "db")
    _random_db(path, fmt, n=9000, big=big)
    key = space_key
    with Inspector(path) as ins:
        snap = ins.snapshot()
        assert snap.lmdb.depth >= 4 and (snap.lmdb.overflow_pages > 0) == big
        expected = ins.read(lambda txn, pf, meta: cursor_counts(txn))
        expected.pop(-1, None)
        assert _counts(snap) == expected
    for batch, sort_above in ((50, 0), (100_000, 0), (100_000, 10**9)):
        monkeypatch.setattr(pages.TreeWalker, "batch_leaves_deferred", batch)
        monkeypatch.setattr(pages.TreeWalker, "batch_leaves_nodes", batch)
        monkeypatch.setattr(pages.PageFile, "sort_above", sort_above)
        with Inspector(path) as ins:
            assert key(ins.snapshot()) == key(snap)
    # as if nothing were in memory: every tree page, and no other, is read ahead
    monkeypatch.setattr(prefetch, "_in_memory", lambda pf, first, last: __import__("numpy").zeros(
        last - first + 1, dtype=bool))
    with Inspector(path) as ins:
        again = ins.snapshot()
        assert key(again) == key(snap)
        walk = ins.read(lambda txn, pf, meta: pages.TreeWalker().walk(pf, meta))  # a first walk
        tree_pages = again.lmdb.branch_pages + again.lmdb.leaf_pages
        assert walk.prefetched_pages == tree_pages
        assert walk.prefetched_bytes >= tree_pages * again.lmdb.page_size


def test_read_ahead_stops_quietly_on_a_damaged_branch(tmp_path, monkeypatch):
    path = str(tmp_path / "db")
    _random_db(path, "0.9", n=9000)
    with Inspector(path) as ins:
        root = ins.read(lambda txn, pf, meta: meta.main.root)
        psize = ins.snapshot().lmdb.page_size
    with open(os.path.join(path, "data.mdb"), "r+b") as f:
        f.seek(root * psize + 8)  # flags of the root branch page: no longer a branch
        f.write(b"\0\0\x02\0")
    monkeypatch.setattr(prefetch, "_in_memory", lambda pf, first, last: __import__("numpy").zeros(
        last - first + 1, dtype=bool))
    with Inspector(path) as ins:
        snap = ins.snapshot()
        assert any(p.kind == "damaged" for p in snap.problems)


def test_resident_pages_are_not_read_again(tmp_path):
    """On a warm cache (the file was just written and read) nothing is read ahead."""
    path = str(tmp_path / "db")
    _random_db(path, "0.9", n=3000)
    with Inspector(path) as ins:
        ins.snapshot()
        walk = ins.read(lambda txn, pf, meta: pages.TreeWalker().walk(pf, meta))
        assert walk.prefetched_pages == 0


def test_first_refresh_started_ahead_is_the_first_one_returned(tmp_path, fmt):
    """The TUI starts the first walk before it imports Textual; its first worker gets that result."""
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service

    path = str(tmp_path / "db")
    _random_db(path, fmt, n=3000)
    before = sha(path)
    with Inspector(path) as ins:
        expected = _counts(ins.snapshot())
    svc = Service(Options(path=path))
    try:
        svc.refresh_ahead()
        svc.refresh_ahead()  # a second call does not start a second walk
        first = svc.refresh(live=True)
        assert _counts(first.snapshot) == expected
        assert svc._ahead is None
        second = svc.refresh(live=True)  # the next refresh is a new one (the snapshot is reused)
        assert second is not first and _counts(second.snapshot) == expected
    finally:
        svc.close()
    assert sha(path) == before


def test_first_refresh_started_ahead_hands_over_its_error(tmp_path):
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service

    path = str(tmp_path / "db")
    _random_db(path, "0.9", n=2000)
    svc = Service(Options(path=path))
    try:
        def boom(remember=True):
            raise InspectError("the data file went away")
        svc._inspector.snapshot = boom  # type: ignore[method-assign]
        svc.refresh_ahead()
        with pytest.raises(InspectError, match="went away"):
            svc.refresh(live=True)
    finally:
        svc.close()


def test_a_first_walk_that_stops_at_damage_caches_nothing(tmp_path):
    """A 1.0 first walk puts its summaries together after its whole-tree batches: when a leaf in
    them is damaged, no summary of the unfinished walk may be kept for the next one."""
    from zlmdb_inspect.storage.pageformat import PageError, PageFile

    path = str(tmp_path / "db")
    _random_db(path, "1.0", n=9000)
    data = os.path.join(path, "data.mdb")
    pf = PageFile(data)
    try:
        meta = pf.current_meta()
        leaves = []
        for pgno in range(2, pf.pages_in_file):
            if pgno != meta.main.root and int(pf.np_headers[pgno, -1] >> 16) & 0xFFFF == 0x02:
                leaves.append(pgno)
        victim, psize = leaves[len(leaves) // 2], pf.page_size
        hdrsz = pf.hdrsz
    finally:
        pf.close()
    walker = pages.TreeWalker()
    pf = PageFile(data)
    try:
        good = walker.walk(pf, pf.current_meta())
        assert good.summary.entries == 9004 and walker.cache
    finally:
        pf.close()
    with open(data, "r+b") as f:  # the leaf's flags: no longer a leaf
        f.seek(victim * psize + hdrsz - 6)
        f.write(b"\x10\x00")
    walker = pages.TreeWalker()
    pf = PageFile(data)
    try:
        with pytest.raises(PageError, match=f"page {victim}"):
            walker.walk(pf, pf.current_meta())
        assert walker.cache == {}
    finally:
        pf.close()


def test_slot_codes_by_counting_equal_numpy_unique():
    import numpy as np

    rng = np.random.default_rng(3)
    for values in (rng.integers(-1, 65536, 5000), rng.integers(-1, 3, 100_000), np.array([65535, -1, 7, 7])):
        slots, inv = pages._codes(values.astype(np.int64))
        want_slots, want_inv = np.unique(values, return_inverse=True)
        assert (slots == want_slots).all() and (inv == want_inv).all()


def test_a_large_mapping_is_unmapped_by_threads(tmp_path, monkeypatch):
    """Closing drops the mapping's pages from several threads first; counts and file unchanged."""
    from zlmdb_inspect.storage.pageformat import PageFile

    path = str(tmp_path / "db")
    _random_db(path, "0.9", n=3000)
    data = os.path.join(path, "data.mdb")
    before = sha(path)
    monkeypatch.setattr(PageFile, "unmap_parallel_above", 0)
    monkeypatch.setattr(PageFile, "gather_threads", 3)
    calls = []
    from zlmdb_inspect.storage import pageformat

    monkeypatch.setattr(pageformat, "_unmap_in_parallel",
                        lambda addr, length, threads, real=pageformat._unmap_in_parallel:
                        calls.append((length, threads)) or real(addr, length, threads))
    for _ in range(2):
        pf = PageFile(data)
        walk = pages.TreeWalker().walk(pf, pf.current_meta())
        assert walk.summary.entries == 3004
        pf.close()
    assert calls == [(os.path.getsize(data), 3)] * 2
    assert sha(path) == before


@pytest.mark.parametrize("fmt", ["1.0", "0.9"])
def test_a_one_shot_walk_counts_the_same_and_keeps_nothing(tmp_path, fmt):
    from zlmdb_inspect.storage.pageformat import PageFile

    path = str(tmp_path / "db")
    _random_db(path, fmt, n=9000)
    pf = PageFile(os.path.join(path, "data.mdb"))
    try:
        meta = pf.current_meta()
        kept, once = pages.TreeWalker(), pages.TreeWalker()
        a = kept.walk(pf, meta)
        b = once.walk(pf, meta, remember=False)
        assert a.summary.slots == b.summary.slots and a.summary.entries == b.summary.entries == 9004
        assert (a.summary.branch_pages, a.summary.leaf_pages) == (b.summary.branch_pages, b.summary.leaf_pages)
        assert (len(kept.cache) > 0) == (fmt == "1.0") and once.cache == {}
    finally:
        pf.close()
    with Inspector(path) as ins:  # what report modes do: a snapshot that remembers nothing
        snap = ins.snapshot(remember=False)
        assert _counts(snap) == {s: sp.records for s, sp in a.summary.slots.items()}
        assert ins.walker.cache == {}
