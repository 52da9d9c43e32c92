"""State between runs (service/state.py): counts stay exact, bad state files are ignored and said,
one-shot runs get a history, nothing is written beside the database."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from conftest import listing, raw_env, run_cli, sha, space_key
from procs import Holder
from statefiles import edit_free_crcs, edit_state, free_key, state_doc
from statefiles import one_shot as run

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.health.history import Sample
from zlmdb_inspect.service import open_service
from zlmdb_inspect.service.state import MAX_AGE_S, StateError, StateStore, parse


def put_many(path: str, fmt: str, n: int, seed: int, slots=(1, 2, 3), value=b"v" * 40, delete: int = 0) -> None:
    """``n`` records under random keys spread over ``slots`` (and ``delete`` random existing ones removed)."""
    rnd = random.Random(seed)
    env = raw_env(path, fmt, map_size=256 * 1024 * 1024)
    with env.begin(write=True) as txn:
        for _ in range(n):
            key = struct.pack(">H", rnd.choice(slots)) + rnd.randbytes(12)
            txn.put(key, value)
        if delete:
            keys = [k for k, _ in txn.cursor()]
            for k in rnd.sample(keys, min(delete, len(keys))):
                txn.delete(k)
    env.close()


def small_commits(path: str, fmt: str, commits: int, seed: int) -> None:
    rnd = random.Random(seed)
    env = raw_env(path, fmt, map_size=256 * 1024 * 1024)
    for _ in range(commits):
        with env.begin(write=True) as txn:
            txn.put(struct.pack(">H", rnd.choice((1, 2, 3))) + rnd.randbytes(12), b"w" * 30)
    env.close()


def scratch(path: str):
    return space_key(run(path, None).snapshot)


def free_scratch(path: str) -> tuple:
    return free_key(run(path, None).snapshot)


@pytest.fixture
def big(tmp_path, fmt):
    """A tree of depth 3 or more (1.0: subtrees below the root are summarised on their own)."""
    path = str(tmp_path / f"db-{fmt}")
    put_many(path, fmt, 30000, seed=1)
    return path


def test_repeat_runs_exact_through_changes(big, fmt, tmp_path):
    st = str(tmp_path / "state")
    first = run(big, st)
    assert space_key(first.snapshot) == scratch(big)
    again = run(big, st)  # unchanged: reused whole (0.9: the same snapshot; 1.0: the root's summary)
    assert again.snapshot.count_method == "pages+cache"
    assert again.read_bytes <= 4 * again.snapshot.lmdb.page_size + first.read_bytes // 20
    if fmt == "1.0":  # an unchanged run keeps the summaries below the root for the next one
        small_commits(big, fmt, 1, seed=31)
        one = run(big, st)
        assert one.snapshot.count_method == "pages+cache" and one.read_bytes < first.read_bytes // 2
    changes = [
        lambda: small_commits(big, fmt, 50, seed=2),  # small commits: a few leaves change
        lambda: put_many(big, fmt, 5000, seed=3),  # page splits
        lambda: put_many(big, fmt, 0, seed=4, delete=20000),  # page merges; freed pages are reused next
        lambda: put_many(big, fmt, 3000, seed=5, value=os.urandom(9000)),  # overflow values on reused pages
        lambda: put_many(big, fmt, 0, seed=6, delete=2000),
        lambda: small_commits(big, fmt, 3, seed=8),
    ]
    for change in changes:
        change()
        ref = run(big, st)
        assert space_key(ref.snapshot) == scratch(big)
        assert free_key(ref.snapshot) == free_scratch(big)
        assert ref.snapshot.lmdb.entries == sum(t.records for t in ref.snapshot.tables)
    if fmt == "1.0":  # the last change touched part of the tree: the rest came from the state
        assert ref.snapshot.count_method == "pages+cache"


def test_an_unchanged_0_9_run_reads_its_free_database_without_readahead(tmp_path, monkeypatch):
    """0.9: the same snapshot's counts come from the state and only the free database is read (~1,700 pages
    scattered over a 10M-record file). With the kernel's read-around of each fault (8 MiB with this
    machine's disk) a cold run read ~1 GB of that file and spent 0.27 s of CPU; page by page it reads
    ~22 MB and spends 0.08 s (state_bench.py's 0.9 "cold same"). The free figures stay a walk's."""
    from zlmdb_inspect.storage.pageformat import PageFile

    path, st = str(tmp_path / "db"), str(tmp_path / "state")
    put_many(path, "0.9", 30000, seed=1)
    put_many(path, "0.9", 5000, seed=2, delete=10000)  # a free database of several pages
    asked: list[int] = []
    real = PageFile.random_access

    def counting(self: PageFile) -> None:
        asked.append(1)
        real(self)

    monkeypatch.setattr(PageFile, "random_access", counting)
    first = run(path, st)
    assert first.snapshot.count_method == "pages" and asked == []  # a walk of a warm file keeps readahead
    again = run(path, st)
    assert again.snapshot.count_method == "pages+cache" and asked  # the same snapshot: the free database alone
    assert first.snapshot.capacity.free_db_pages > 1
    assert free_key(again.snapshot) == free_key(first.snapshot) == free_scratch(path)


def test_small_commits_read_little_on_1_0(tmp_path):
    path, st = str(tmp_path / "db"), str(tmp_path / "state")
    put_many(path, "1.0", 60000, seed=1)
    first = run(path, st)
    small_commits(path, "1.0", 2, seed=7)  # two of ~14 bottom branch pages change
    ref = run(path, st)
    assert space_key(ref.snapshot) == scratch(path)
    assert ref.snapshot.count_method == "pages+cache"
    assert ref.read_bytes < 0.35 * first.read_bytes, (ref.read_bytes, first.read_bytes)


def test_replaced_by_a_copy_at_the_same_path(big, fmt, tmp_path):
    st = str(tmp_path / "state")
    run(big, st)
    copy = str(tmp_path / "copy")
    shutil.copytree(big, copy)
    put_many(copy, fmt, 4000, seed=9)
    os.replace(os.path.join(copy, "data.mdb"), os.path.join(big, "data.mdb"))  # a new inode at the path
    ref = run(big, st)
    assert "another file" in ref.state["note"]
    assert ref.state["samples_used"] == 0
    assert space_key(ref.snapshot) == scratch(big)


def test_restored_from_an_older_backup_in_place(big, fmt, tmp_path):
    """The same inode gets an older copy's bytes: first the txnid went back; then, once that history
    has passed the state's txnid, the same page numbers and txnids hold other pages (the CRC tells)."""
    st = str(tmp_path / "state")
    backup = str(tmp_path / "backup")
    shutil.copytree(big, backup)
    for seed in (11, 12):
        put_many(big, fmt, 4000, seed=seed)
    run(big, st)
    with open(os.path.join(backup, "data.mdb"), "rb") as f, open(os.path.join(big, "data.mdb"), "r+b") as g:
        data = f.read()
        g.truncate(0)
        g.write(data)  # the same inode
    ref = run(big, st)
    assert "ahead of the database" in ref.state["note"]
    assert space_key(ref.snapshot) == scratch(big)
    restored = str(tmp_path / "restored-history")
    run(big, restored)  # a state of the restored file, then a divergent history past the old txnid
    st2 = str(tmp_path / "state2")
    shutil.copytree(st, st2)  # the old lineage's state, with summaries
    for seed in (21, 22, 23):
        put_many(big, fmt, 4000, seed=seed, slots=(1, 5))
    ref = run(big, st2)
    assert space_key(ref.snapshot) == scratch(big)
    assert free_key(ref.snapshot) == free_scratch(big)


def _crcs_of_saved_rows(monkeypatch) -> list[int]:
    """Counts the saved rows whose page's CRC a walk computes (one entry per check)."""
    from zlmdb_inspect.storage.summaries import PackedSummaries

    counts: list[int] = []
    real = PackedSummaries.usable

    def spy(self, crc_of, rows, time_slots):
        def counted(pgnos):
            counts.append(len(pgnos))
            return crc_of(pgnos)
        return real(self, counted, rows, time_slots)

    monkeypatch.setattr(PackedSummaries, "usable", spy)
    return counts


def test_the_last_walks_root_vouches_for_the_saved_rows(tmp_path, monkeypatch):
    """A state file names the root page of the walk its summaries come from; where the file still
    holds that page (freed since, not reused: older free pages go first), the rows found under their
    page number and txnid are used without reading their pages whole for a CRC; where it does not
    (here: another CRC), each row is checked. Exact either way."""
    path, st = str(tmp_path / "db"), str(tmp_path / "state")
    put_many(path, "1.0", 60000, seed=1)
    put_many(path, "1.0", 0, seed=2, delete=20000)  # a freelist the next commits eat first (not the root they free)
    crcs = _crcs_of_saved_rows(monkeypatch)
    run(path, st)
    witness = state_doc(st)["summaries"]["witness"]
    assert witness is not None and len(witness) == 3
    small_commits(path, "1.0", 3, seed=7)
    ref = run(path, st)
    assert ref.snapshot.count_method == "pages+cache" and sum(crcs) == 0
    assert space_key(ref.snapshot) == scratch(path)
    small_commits(path, "1.0", 3, seed=8)
    edit_state(st, lambda d: d["summaries"].update(witness=[d["summaries"]["witness"][0],
                                                            d["summaries"]["witness"][1],
                                                            (d["summaries"]["witness"][2] + 1) % (1 << 32)]))
    ref = run(path, st)
    assert ref.snapshot.count_method == "pages+cache" and sum(crcs) > 0
    assert space_key(ref.snapshot) == scratch(path)


def test_damage_under_a_vouched_for_tree_is_named(tmp_path):
    """Rows vouched for by the witness are read as headers only; a branch page pointing at a page that
    is not a branch (here: the root's first child replaced by a leaf under its second) is damage the
    walk names, never an exception out of the refresh."""
    from zlmdb_inspect.storage.pageformat import PageFile

    path, st = str(tmp_path / "db"), str(tmp_path / "state")
    put_many(path, "1.0", 60000, seed=1)
    put_many(path, "1.0", 0, seed=2, delete=20000)
    run(path, st)
    small_commits(path, "1.0", 3, seed=7)
    data = os.path.join(path, "data.mdb")
    pf = PageFile(data)
    try:
        root = pf.current_meta().main.root
        leaf = pf.child_pgno(pf.node(pf.child_pgno(pf.node(root, 1)), 0))
        at = pf.node(root, 0)
    finally:
        pf.close()
    with open(data, "r+b") as f:  # the child page number: the node's low 48 bits
        f.seek(at)
        word = int.from_bytes(f.read(8), "little")
        f.seek(at)
        f.write(((word & ~0xFFFF_FFFF_FFFF) | leaf).to_bytes(8, "little"))
    ref = run(path, st)
    assert any(p.kind.value == "damaged" and "reachable twice" in p.message for p in ref.snapshot.problems), \
        ref.snapshot.problems


@pytest.fixture
def busy_free(tmp_path):
    """A 1.0 file whose free database spans several leaves under a branch page: a large delete's
    record, then many small commits, each adding a record and eating the large one (its rest
    rewritten under its own key every time); a second large record (its list on overflow pages)
    stays untouched on a leaf of its own."""
    path = str(tmp_path / "db-busy")
    put_many(path, "1.0", 30000, seed=1, value=b"v" * 400)
    put_many(path, "1.0", 0, seed=2, delete=25000)  # ~2,800 pages in one record: 400 commits eat a part
    small_commits(path, "1.0", 150, seed=3)
    put_many(path, "1.0", 0, seed=4, delete=3000)  # ~1,900 pages, on overflow pages of a leaf left alone
    small_commits(path, "1.0", 300, seed=5)
    return path


def _leaves_read(monkeypatch) -> list[int]:
    """Counts the free database leaves each walk parses (one entry per walk)."""
    from zlmdb_inspect.storage.walk import _Walk

    counts: list[int] = []
    real = _Walk._free_leaves

    def spy(self, leaves, *rest):
        counts.append(len(leaves))
        return real(self, leaves, *rest)

    monkeypatch.setattr(_Walk, "_free_leaves", spy)
    return counts


def test_free_database_reused_from_the_state_and_exact(busy_free, tmp_path, monkeypatch):
    """A repeat run reads only the free database's changed leaves (the oldest record's, rewritten,
    and the newest); its pages, records and free runs equal a run from scratch; pages whose CRC
    differs from the state's are read again."""
    st = str(tmp_path / "state")
    read = _leaves_read(monkeypatch)
    first = run(busy_free, st)
    assert state_doc(st)["free"]["records"] > 200 and first.snapshot.capacity.free_db_pages > 8
    full = sum(read)
    for seed in (4, 5, 6):
        with contextlib.ExitStack() as held:
            # seed 5: a snapshot held, so the records freed since are not reusable (the lists cut there)
            pin = held.enter_context(Holder(busy_free, "pin")) if seed == 5 else None
            small_commits(busy_free, "1.0", 20, seed=seed)
            read.clear()
            ref = run(busy_free, st)
            assert 0 < sum(read) <= full // 3, (read, full)
            assert free_key(ref.snapshot) == free_scratch(busy_free)
            assert space_key(ref.snapshot) == scratch(busy_free)
            if pin is not None:
                c = ref.snapshot.capacity
                assert pin.info["txnid"] < ref.snapshot.lmdb.last_txnid and c.reusable_pages < c.free_pages
    # a restored backup: the same page numbers and txnids, other bytes (the state's CRCs say so here)
    edit_free_crcs(st)
    small_commits(busy_free, "1.0", 1, seed=7)
    read.clear()
    ref = run(busy_free, st)
    assert sum(read) >= full - 2, (read, full)  # (the commit's changed leaves may be fewer than before)
    assert free_key(ref.snapshot) == free_scratch(busy_free)


def test_free_database_reused_within_a_process(busy_free, monkeypatch):
    """A live process (the TUI, --watch) reuses its last walk of the free database the same way:
    the walker's own table, each page already verified, and the rows under a reused page kept."""
    from zlmdb_inspect.storage.pageformat import PageFile
    from zlmdb_inspect.storage.walk import TreeWalker

    def walk(walker):
        pf = PageFile(os.path.join(busy_free, "data.mdb"))
        try:
            return walker.walk(pf, pf.current_meta())
        finally:
            pf.close()

    read = _leaves_read(monkeypatch)
    walker = TreeWalker()
    walk(walker)
    before, full = walker.free, sum(read)
    assert before is not None and len(before) > 8 and before.verified.all()
    for seed in (9, 10):
        small_commits(busy_free, "1.0", 20, seed=seed)
        read.clear()
        got = walk(walker)
        assert 0 < sum(read) <= full // 3, (read, full)
        fresh = walk(TreeWalker())
        assert got.free_records.tolist() == fresh.free_records.tolist()
        assert got.free_lists.tolist() == fresh.free_lists.tolist()
        assert (got.free_pages, got.free_db_pages) == (fresh.free_pages, fresh.free_db_pages)
    after = walker.free
    assert after is not None and len(after) == len(fresh_tree := _tree_of(busy_free))
    assert sorted(map(tuple, after.keys.tolist())) == sorted(map(tuple, fresh_tree.keys.tolist()))
    assert after.txnids.tolist() == fresh_tree.txnids.tolist()


def _tree_of(path: str):
    """The free database's table as a walk from scratch builds it."""
    from zlmdb_inspect.storage.pageformat import PageFile
    from zlmdb_inspect.storage.walk import TreeWalker

    walker = TreeWalker()
    pf = PageFile(os.path.join(path, "data.mdb"))
    try:
        walker.walk(pf, pf.current_meta())
    finally:
        pf.close()
    return walker.free


HOSTILE = {
    "truncated": lambda good: good[: len(good) // 2],
    "garbage": lambda good: os.urandom(4000),
    "empty": lambda good: b"",
    "nan": lambda good: good.replace(b'"written_at":', b'"written_at":NaN,"x":', 1),
    "foreign version": lambda good: re.sub(rb'"version":\d+', b'"version":99', good, count=1),
    "old version": lambda good: re.sub(rb'"version":\d+', b'"version":1', good, count=1),
    "summary column length not a number": lambda good: re.sub(rb'"head":\d+', b'"head":"%%%"', good, count=1),
    "summary column length off by a row": lambda good: re.sub(
        rb'"crcs":(\d+)', lambda m: b'"crcs":%d' % (int(m[1]) - 8), good, count=1),
    "summary bytes cut": lambda good: good[:-8],
    "summary bytes added": lambda good: good + bytes(8),
    "no summary bytes": lambda good: good[:good.index(b"\n")],
    "summary rows miscounted": lambda good: re.sub(rb'"rows":(\d+)', lambda m: b'"rows":%d' % (int(m[1]) + 1),
                                                   good, count=1),
    "summary column missing": lambda good: re.sub(rb',"times":\d+', b"", good, count=1),
    "witness not three numbers": lambda good: re.sub(rb'"witness":(null|\[[^\]]*\])', b'"witness":[1,2]', good,
                                                     count=1),
    "wrong type": lambda good: good.replace(b'"samples":[', b'"samples":[7,', 1),
    "huge number": lambda good: good.replace(b'"last_txnid":', b'"last_txnid":1' + b"0" * 40 + b',"y":', 1),
    "deep nesting": lambda good: b"[" * 100000,
    "not utf-8": lambda good: b"\xff\xfe" + good,
}


def _spoil_state(path: str, st: str, spoil, changed: bool = False) -> str:
    """Run once with state ``st``, then put ``spoil(the file's bytes)`` in its place, which the
    parser must refuse (and which must differ from the good bytes where ``changed``); the file."""
    run(path, st)
    f = StateStore(st).file_for(os.path.join(path, "data.mdb"))
    with open(f, "rb") as fh:
        good = fh.read()
    bad = spoil(good)
    assert not changed or bad != good
    with pytest.raises(StateError):
        parse(bad)
    with open(f, "wb") as fh:
        fh.write(bad)
    return f


@pytest.mark.parametrize("how", sorted(HOSTILE))
def test_hostile_state_files_are_ignored_and_said(big, fmt, tmp_path, how):
    st = str(tmp_path / "state")
    f = _spoil_state(big, st, HOSTILE[how])
    ref = run(big, st)
    assert "ignored" in ref.state["note"] and "\n" not in ref.state["note"]
    assert ref.state["samples_used"] == 0
    assert ref.eta is not None and ref.eta.state == "measuring"
    assert space_key(ref.snapshot) == scratch(big)
    assert parse(open(f, "rb").read()).samples  # replaced by a good one


FREE_HOSTILE = {
    "lists of an unknown width": lambda good: good.replace(b'"lists_dtype":"<i4"', b'"lists_dtype":"<i2"', 1),
    "a record short": lambda good: re.sub(rb'"counts":(\d+)', lambda m: b'"counts":%d' % (int(m[1]) - 8), good,
                                          count=1),
    "records miscounted": lambda good: re.sub(rb'"records":(\d+)', lambda m: b'"records":%d' % (int(m[1]) + 1),
                                              good, count=1),
    "lists cut": lambda good: good[:-4],
    "lists added to": lambda good: good + bytes(4),
    "free columns missing": lambda good: re.sub(rb',"spans":\d+', b"", good, count=1),
    "free database not columns": lambda good: re.sub(rb'"free":\{', b'"free":[{', good, count=1),
}


@pytest.mark.parametrize("how", sorted(FREE_HOSTILE))
def test_hostile_free_database_columns_are_ignored_and_said(busy_free, tmp_path, how):
    st = str(tmp_path / "state")
    _spoil_state(busy_free, st, FREE_HOSTILE[how], changed=True)
    ref = run(busy_free, st)
    assert "ignored" in ref.state["note"] and "\n" not in ref.state["note"]
    assert free_key(ref.snapshot) == free_scratch(busy_free)


def test_future_time_and_txnid_ahead_start_again(big, tmp_path):
    st = str(tmp_path / "state")
    run(big, st)
    edit_state(st, lambda d: d["samples"][0].update(t=time.time() + 3600))
    ref = run(big, st)
    assert "future" in ref.state["note"] and ref.state["samples_used"] == 0
    edit_state(st, lambda d: d["samples"][-1].update(last_txnid=d["samples"][-1]["last_txnid"] + 10))
    ref = run(big, st)
    assert "ahead of the database" in ref.state["note"] and ref.state["samples_used"] == 0
    edit_state(st, lambda d: d["database"].update(page_size=8192))
    ref = run(big, st)
    assert "page size" in ref.state["note"]
    assert space_key(ref.snapshot) == scratch(big)


def _history(path: str, st: str, ages: list[float], grow: int) -> None:
    """Samples ``ages`` seconds old, bytes in use growing by ``grow`` and one commit each."""
    svc = open_service(Options(path=path, state=True, state_dir=st))
    try:
        ref = svc.refresh()
        base = svc._monitor.samples[-1]
        now = time.time()
        samples = [replace(base, t=now - age, last_txnid=base.last_txnid - len(ages) + i,
                           in_use_bytes=base.in_use_bytes - grow * (len(ages) - i),
                           available_bytes=base.available_bytes + grow * (len(ages) - i),
                           tables=dict(base.tables))
                   for i, age in enumerate(ages)]
        assert svc._store is not None and svc._ident is not None and ref.snapshot
        os.unlink(svc._store.file_for(svc._inspector.data_path))
        svc._store.save(svc._ident, samples, svc._store.load(svc._ident).summaries)
        svc._state_loaded = False  # close() must not write this process's sample
    finally:
        svc.close()


def test_one_shot_runs_get_rates_and_time_to_full(big, fmt, tmp_path):
    st = str(tmp_path / "state")
    small_commits(big, fmt, 10, seed=99)  # txnids for the earlier samples
    _history(big, st, [150, 120, 90, 60, 30], grow=1 << 16)
    r = run_cli(big, "--check", "--state-dir", st)
    assert "map full in" in r.stdout.splitlines()[0], r.stdout
    perf = r.stdout.splitlines()[0].split(" | ")[1]
    assert "txns_per_s=U" not in perf and "time_to_full_s=U" not in perf
    doc = json.loads(run_cli(big, "--json", "--state-dir", st).stdout)
    assert doc["eta"]["state"] == "growing" and doc["eta"]["window_s"] > 0
    assert doc["rates"]["window_s"] > 0 and doc["state"]["samples_used"] >= 5
    r = run_cli(big, "--prometheus", "--state-dir", st)
    line = [x for x in r.stdout.splitlines() if x.startswith("zlmdb_time_to_full_seconds")]
    assert line and float(line[0].rsplit(" ", 1)[1]) > 0


def test_without_state_a_check_is_measuring(big, tmp_path):
    r = run_cli(big, "--check", "--no-state")
    assert "time to full: measuring" in r.stdout and "txns_per_s=U growth_bytes_per_s=U" in r.stdout


def test_samples_older_than_an_hour_are_dropped(big, fmt, tmp_path):
    st = str(tmp_path / "state")
    small_commits(big, fmt, 10, seed=99)
    _history(big, st, [MAX_AGE_S + 400, MAX_AGE_S + 300, MAX_AGE_S + 200], grow=1 << 20)
    ref = run(big, st)
    assert ref.state["samples_used"] == 0 and ref.eta is not None and ref.eta.state == "measuring"
    assert ref.rates.window_s == 0.0


def test_no_state_creates_nothing_and_the_database_is_untouched(big, tmp_path):
    xdg = tmp_path / "xdg"
    env = {**os.environ, "XDG_STATE_HOME": str(xdg)}
    before_sha, before = sha(big), listing(big)
    for mode in ("--json", "--check", "--prometheus"):
        subprocess.run([sys.executable, "-m", "zlmdb_inspect", big, mode, "--no-state"], env=env,
                       capture_output=True, timeout=60)
    assert not xdg.exists()
    subprocess.run([sys.executable, "-m", "zlmdb_inspect", big, "--json"], env=env, capture_output=True, timeout=60)
    files = sorted(os.listdir(xdg / "zlmdb-inspect"))
    assert len(files) == 2 and files[0].endswith(".json") and files[1].endswith(".lock")
    assert oct(os.stat(xdg / "zlmdb-inspect" / files[0]).st_mode & 0o777) == "0o600"
    assert oct(os.stat(xdg / "zlmdb-inspect").st_mode & 0o777) == "0o700"
    assert sha(big) == before_sha and listing(big) == before


def test_overlapping_runs_merge_their_samples(big, tmp_path):
    st = str(tmp_path / "state")
    procs = [subprocess.Popen([sys.executable, "-m", "zlmdb_inspect", big, "--json", "--state-dir", st],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(4)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read() if p.stderr else ""
    state = parse(open(StateStore(st).file_for(os.path.join(big, "data.mdb")), "rb").read())
    assert len(state.samples) == 4  # none lost to another run's rename
    assert [f for f in os.listdir(st) if f.startswith(".state-")] == []


def test_state_is_bounded(big, tmp_path):
    st = str(tmp_path / "state")
    store = StateStore(st, max_bytes=20000)
    svc = open_service(Options(path=big, state=True, state_dir=st))
    svc._store = store
    try:
        svc.refresh()
        base = svc._monitor.samples[-1]
        now = time.time()
        assert svc._ident is not None
        many = [replace(base, t=now - 1000 + i, tables=dict(base.tables)) for i in range(400)]
        store.save(svc._ident, many, svc._store.load(svc._ident).summaries)
        data = open(store.file_for(svc._inspector.data_path), "rb").read()
        assert len(data) <= 20000
        kept = parse(data).samples
        times = {s.t for s in kept}
        assert many[-1].t in times and many[0].t not in times  # the oldest went first
    finally:
        svc._state_loaded = False
        svc.close()


def test_sample_round_trip():
    s = Sample(t=1.5, last_txnid=3, entries=4, used_bytes=5, map_size=6, free_pages=None, readers=0,
               file_size=7, tables={1: 2, 65535: 9}, writer=True)
    from zlmdb_inspect.service.state import Identity, State, encode

    back = parse(encode(State(Identity(1, 2, "/x", 4096, "1.0"), 2.0, [s])))
    assert back.samples == [s]


def test_free_database_columns_round_trip_and_go_first_when_over_the_bound():
    """The free database's columns come back as written (both list widths), and are what a state
    over its bound drops first (the samples stay)."""
    import numpy as np

    from zlmdb_inspect.service.state import Identity, State, encode
    from zlmdb_inspect.storage.freetree import FreeTree

    s = Sample(t=1.5, last_txnid=3, entries=4, used_bytes=5, map_size=6, free_pages=None, readers=0,
               file_size=7, tables={1: 2}, writer=True)
    for dtype in (np.int32, np.int64):
        tree = FreeTree(keys=np.array([[5, 3], [6, 2]]), crcs=np.array([7, 8]), parents=np.array([-1, 0]),
                        spans=np.array([[0, 2, 2], [0, 2, 1]]), txnids=np.array([1, 2]), counts=np.array([3, 20000]),
                        lists=np.arange(20003, dtype=dtype) + 2)
        state = State(Identity(1, 2, "/x", 4096, "1.0"), 2.0, [s], free=tree)
        back = parse(encode(state)).free
        assert back is not None and back.lists.dtype == dtype
        for name, col in tree.columns().items():
            assert getattr(back, name).tolist() == col.tolist(), name
        small = parse(encode(state, max_bytes=len(encode(state)) - 1))
        assert small.free is None and small.samples == [s]


@pytest.mark.parametrize("fmt", ["1.0", "0.9"])
def test_keys_without_a_slot_keep_the_state_usable(fmt, tmp_path):
    """The walk tallies keys shorter than 2 bytes under SHORT_KEY_SLOT (-1); a summary holding that slot
    must read back, or every later run would discard its state (samples and summaries) as invalid."""
    path, state = str(tmp_path / "db"), str(tmp_path / "state")
    env = raw_env(path, fmt)
    with env.begin(write=True) as txn:
        for i in range(300):
            txn.put(struct.pack(">HQ", 1, i), b"v" * 40)
        txn.put(b"x", b"short key")  # no slot
    env.close()
    docs = []
    for _ in range(2):
        r = run_cli(path, "--json", "--state-dir", state)
        assert r.returncode in (0, 1), r.stderr
        docs.append(json.loads(r.stdout))
    second = docs[1]["state"]
    assert second["note"] is None and second["samples_used"] >= 1, second


def test_a_live_save_does_not_parse_the_file_it_wrote(tmp_path, monkeypatch):
    """A live process saves every minute: the file it wrote last is not parsed again to merge (it
    was, with every summary, at each save); a file another run wrote in its place is."""
    from zlmdb_inspect.service import state as statemod
    from zlmdb_inspect.service.state import Identity

    st = str(tmp_path / "state")
    ident = Identity(1, 2, str(tmp_path / "db" / "data.mdb"), 4096, "1.0")
    now = time.time()

    def sample(t: float) -> Sample:
        return Sample(t=t, last_txnid=int(t), entries=4, used_bytes=5, map_size=6, free_pages=None, readers=0,
                      file_size=7, tables={1: 2}, writer=True)

    parsed = []
    real_parse = statemod.parse
    monkeypatch.setattr(statemod, "parse", lambda data: parsed.append(1) or real_parse(data))
    mine, other = StateStore(st), StateStore(st)
    mine.save(ident, [sample(now - 30)], StateStore(st).load(ident).summaries, now=now - 30)
    mine.save(ident, [sample(now - 20)], StateStore(st).load(ident).summaries, now=now - 20)
    assert len(parsed) == 1  # the second load by a fresh store, not the second save
    other.save(ident, [sample(now - 10)], other.load(ident).summaries, now=now - 10)  # another run
    mine.save(ident, [sample(now)], mine.load(ident).summaries, now=now)
    path = mine.file_for(ident.path)
    assert [s.t for s in real_parse(open(path, "rb").read()).samples] == [now - 30, now - 20, now - 10, now]


def test_a_save_that_waited_for_the_lock_keeps_the_samples_saved_meanwhile(tmp_path, monkeypatch):
    """Overlapping runs: one run holds the state's lock (a disk stalled by another writer's dirty pages)
    while another waits to save; samples the first saved are later than the moment the second began
    to save, but not in the future (it lost one in the full suite: 3 samples of 4)."""
    import threading

    from zlmdb_inspect.service import state as statemod
    from zlmdb_inspect.service.state import Identity
    from zlmdb_inspect.storage.summaries import PackedSummaries

    monkeypatch.setattr(statemod, "FUTURE_SLACK_S", 0.2)  # the child below holds the lock for 0.6 s
    st = str(tmp_path / "state")
    path = str(tmp_path / "db" / "data.mdb")
    holder = ("import sys, time, os\n"
              "from zlmdb_inspect.service.state import Identity, State, StateStore, encode\n"
              "from zlmdb_inspect.health.history import Sample\n"
              "store, ident = StateStore(sys.argv[1]), Identity(1, 2, sys.argv[2], 4096, '1.0')\n"
              "with store.locked(ident.path):\n"
              "    print('locked', flush=True); sys.stdin.readline(); time.sleep(0.6)\n"
              "    t = time.time()  # a run that took its sample and saved while the other waited\n"
              "    s = Sample(t=t, last_txnid=1, entries=4, used_bytes=5, map_size=6, free_pages=None, readers=0,\n"
              "               file_size=7, tables={1: 2})\n"
              "    tmp = store.file_for(ident.path) + '.tmp'\n"
              "    open(tmp, 'wb').write(encode(State(ident, t, [s])))\n"
              "    os.replace(tmp, store.file_for(ident.path))\n"
              "    print(repr(t), flush=True)\n")
    child = subprocess.Popen([sys.executable, "-c", holder, st, path], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "locked"
    ident = Identity(1, 2, path, 4096, "1.0")
    mine = Sample(t=time.time(), last_txnid=1, entries=4, used_bytes=5, map_size=6, free_pages=None, readers=0,
                  file_size=7, tables={1: 2})
    saving = threading.Thread(target=StateStore(st).save, args=(ident, [mine], PackedSummaries()))
    saving.start()
    child.stdin.write("go\n")
    child.stdin.flush()
    theirs = float(child.stdout.readline())
    assert child.wait(timeout=30) == 0
    saving.join(timeout=30)
    assert theirs > mine.t + 0.2  # taken after the waiting save began
    got = [s.t for s in parse(open(StateStore(st).file_for(path), "rb").read()).samples]
    assert got == [mine.t, theirs]


def test_a_state_that_cannot_be_saved_is_said_by_check(big, tmp_path):
    """Every run would say "measuring" and no rate or time to full would ever warn: --check says why in
    its status line (the status itself stays what the database's figures give), the note last."""
    blocker = tmp_path / "a file"
    blocker.write_text("not a directory")
    bad = str(blocker / "state")
    r = run_cli(big, "--check", "--state-dir", bad)
    assert r.returncode in (0, 1, 2), r.stderr  # (whatever the figures say; never UNKNOWN for the state)
    head, *rest = r.stdout.splitlines()
    assert "(state not saved: no history for the next run)" in head.split("|")[0]
    assert rest[-1].startswith("NOTE: ") and "state not saved in" in rest[-1]
    assert json.loads(run_cli(big, "--json", "--state-dir", bad).stdout)["state"]["saved"] is False
    good = str(tmp_path / "state")
    for _ in range(2):
        r = run_cli(big, "--check", "--state-dir", good)
        assert "state not saved" not in r.stdout and "NOTE:" not in r.stdout, r.stdout
    assert json.loads(run_cli(big, "--json", "--state-dir", good).stdout)["state"]["saved"] is True
    # and --prometheus (zlmdb_state_saved; the rule ZlmdbStateNotSaved alerts on 0)
    for args, want in (([bad], "0.0"), ([good], "1.0")):
        text = run_cli(big, "--prometheus", "--state-dir", *args).stdout
        (line,) = [x for x in text.splitlines() if x.startswith("zlmdb_state_saved{")]
        assert line.endswith(" " + want), line
    assert "zlmdb_state_saved{" not in run_cli(big, "--prometheus", "--no-state").stdout
