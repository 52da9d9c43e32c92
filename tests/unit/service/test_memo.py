"""An unchanged database's next one-shot run (service/memo.py): the sample and the free runs are taken
from the state file, exactly what computing them gives; never across a commit, a restore, other
decoding options or application code; a hostile memo is refused with the rest of the file."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import struct
import uuid

import cbor2
import pytest
from conftest import drop_cache, raw_env, run_cli, sha, space_key
from statefiles import edit_state, grow_in_child, state_doc, state_file
from statefiles import one_shot as run
from time_tables import build, first_day, times

from zlmdb_inspect.service.memo import SAMPLED_FIELDS, Memo, SampleMemo, encode, parse
from zlmdb_inspect.service.state import StateError
from zlmdb_inspect.service.state import parse as parse_state

TARGET, INDEX, MIXED = 41, 42, 43


def _add_raw_tables(path: str, fmt: str, seed: int = 5) -> None:
    """An index whose entries point at two missing records (index drift), a CBOR table with three values
    no decoder reads (undecodable), and free pages from a delete (free runs)."""
    rnd = random.Random(seed)
    env = raw_env(path, fmt, map_size=256 * 1024 * 1024)
    with env.begin(write=True) as txn:
        for slot, name in ((TARGET, "Target"), (INDEX, "IdxTargetByName"), (MIXED, "Mixed")):
            txn.put(b"\0\0" + struct.pack(">H", slot),
                    cbor2.dumps({"oid": str(uuid.UUID(int=0xACE0 + slot)), "slot": slot, "name": name,
                                 "description": None, "creator": "test"}))
        for i in range(300):
            oid = uuid.UUID(int=rnd.getrandbits(128)).bytes
            if i >= 2:  # the first two index entries point at records that are not there
                txn.put(struct.pack(">H", TARGET) + oid, cbor2.dumps({"n": i, "pad": "x" * 60}))
            txn.put(struct.pack(">H", INDEX) + f"name-{i:04d}".encode(), oid)
        for i in range(400):
            value = b"\xff\xfe\x00garbage" if i in (7, 150, 390) else cbor2.dumps({"n": i, "pad": "y" * 80})
            txn.put(struct.pack(">HI", MIXED, i), value)
    with env.begin(write=True) as txn:  # free pages
        for i in range(0, 400, 3):
            if i not in (7, 150, 390):
                txn.delete(struct.pack(">HI", MIXED, i))
    env.close()


@pytest.fixture
def varied(tmp_path, fmt):
    """Value times (growth estimates from a sample), composite key times, index drift, undecodable
    records and free pages, in one database."""
    path = str(tmp_path / f"db-{fmt}")
    start = first_day(10)
    build(path, fmt, joins=times([60] * 10, seed=2, start=start), members=times([80] * 10, seed=3, start=start))
    _add_raw_tables(path, fmt)
    return path


def _times(ref) -> dict:
    return {t.slot: dataclasses.asdict(t.time) for t in ref.snapshot.tables if t.time is not None}


def _warnings(ref) -> list:
    return sorted((w.id, w.subject or "", w.message) for w in ref.warnings)


def test_an_unchanged_database_reuses_its_sample_and_free_runs_exactly(varied, fmt, tmp_path):
    st = str(tmp_path / "state")
    before = sha(varied)
    first = run(varied, st)
    again = run(varied, st)
    scratch = run(varied, None)
    assert first.state["reused"] == [] and first.state["note"] is None
    assert sorted(again.state["reused"]) == ["free_runs", "sample"] and again.state["note"] is None
    ids = {w.id for w in first.warnings}
    assert {"index-drift", "undecodable"} <= ids, ids  # the database gives the sample something to say
    assert first.snapshot.capacity.free_runs and first.snapshot.capacity.free_runs["runs"]
    estimated = [s for s, tt in _times(first).items() if not tt["exact"]]
    assert estimated, _times(first)  # a growth estimate from sampled value times
    # what was taken is what computing gives: the first run's, and (the sample is the same records) a
    # run without state's
    assert again.sampled == first.sampled == scratch.sampled
    assert again.snapshot.capacity.free_runs == first.snapshot.capacity.free_runs == \
        scratch.snapshot.capacity.free_runs
    assert _warnings(again) == _warnings(first)
    assert _times(again) == _times(first)  # the estimates from the same sampled times
    assert space_key(again.snapshot) == space_key(scratch.snapshot)
    third = run(varied, st)  # and again: a reused sample is kept for the next run too
    assert sorted(third.state["reused"]) == ["free_runs", "sample"] and third.sampled == first.sampled
    assert sha(varied) == before


def test_one_shot_processes_say_what_they_reused(varied, tmp_path):
    """--json and --check as cron runs them: the second process takes both, and says so."""
    st = str(tmp_path / "state")
    docs = []
    for _ in range(2):
        r = run_cli(varied, "--json", "--state-dir", st)
        assert r.returncode in (0, 1, 2), r.stderr
        docs.append(json.loads(r.stdout))
    assert docs[0]["state"]["reused"] == [] and sorted(docs[1]["state"]["reused"]) == ["free_runs", "sample"]
    assert docs[1]["sampled"] == docs[0]["sampled"]
    assert docs[1]["capacity"]["free_runs"] == docs[0]["capacity"]["free_runs"]
    check = [run_cli(varied, "--check", "--state-dir", st) for _ in range(2)]
    assert check[0].stdout.split("|")[0] == check[1].stdout.split("|")[0]  # the same verdict and findings


def test_a_commit_while_sampling_keeps_no_sample(varied, fmt, tmp_path, monkeypatch):
    """The sample's reads are transactions of their own: one that saw a later commit than the snapshot
    is not kept as the snapshot's."""
    from zlmdb_inspect.tables.catalog import TableCodecs

    st = str(tmp_path / "state")
    real = TableCodecs.sample

    def sample_then_commit(self, ins, snap, n):
        grow_in_child(varied, fmt, 1, 0)  # a writer commits while the sample is read
        return real(self, ins, snap, n)

    monkeypatch.setattr(TableCodecs, "sample", sample_then_commit)
    run(varied, st)
    assert state_doc(st)["memo"]["sample"] is None
    monkeypatch.setattr(TableCodecs, "sample", real)
    after = run(varied, st)
    assert "sample" not in after.state["reused"]


def test_the_kept_statistics_are_every_field_the_sample_gives(varied, tmp_path):
    st = str(tmp_path / "state")
    ref = run(varied, st)
    assert ref.sampled and all(set(d) == set(SAMPLED_FIELDS) for d in ref.sampled.values())
    doc = state_doc(st)["memo"]["sample"]
    assert doc["sampled"] == ref.sampled


def test_a_commit_recomputes_both(varied, fmt, tmp_path):
    st = str(tmp_path / "state")
    run(varied, st)
    env = raw_env(varied, fmt, map_size=256 * 1024 * 1024)
    with env.begin(write=True) as txn:
        txn.delete(struct.pack(">HI", MIXED, 1))
    env.close()
    after = run(varied, st)
    assert after.state["reused"] == []
    scratch = run(varied, None)
    assert after.sampled == scratch.sampled
    assert after.snapshot.capacity.free_runs == scratch.snapshot.capacity.free_runs


def test_other_decoding_options_resample(varied, tmp_path):
    st = str(tmp_path / "state")
    run(varied, st)
    fewer = run(varied, st, sample=50)
    assert fewer.state["reused"] == ["free_runs"]  # the free lists are the same; the sample is not
    assert all(d["sampled"] <= 50 for d in fewer.sampled.values())
    back = run(varied, st)  # the last run's sample was of 50 records: not the default's
    assert back.state["reused"] == ["free_runs"]
    assert max(d["sampled"] for d in back.sampled.values()) > 50


def test_application_code_is_never_trusted_to_be_unchanged(varied, tmp_path):
    st = str(tmp_path / "state")
    first = run(varied, st, imports=["time_tables"])
    assert state_doc(st)["memo"]["sample"] is None  # not kept with --import
    again = run(varied, st, imports=["time_tables"])
    assert again.state["reused"] == ["free_runs"] and again.sampled == first.sampled


def test_a_backup_restored_at_the_same_txnid_is_sampled_again(tmp_path, fmt):
    """Two databases with the same number of commits; the second's bytes copied over the first's file
    (same inode): the state's identity holds, the snapshot's does not."""
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    for path, seed in ((a, 5), (b, 6)):
        start = first_day(10)
        build(path, fmt, members=times([80] * 10, seed=seed, start=start))
        _add_raw_tables(path, fmt, seed=seed)
    st = str(tmp_path / "state")
    first = run(a, st)
    with open(os.path.join(b, "data.mdb"), "rb") as src, open(os.path.join(a, "data.mdb"), "r+b") as dst:
        shutil.copyfileobj(src, dst)  # in place: the inode stays
        dst.truncate()
    restored = run(a, st)
    assert restored.snapshot.lmdb.last_txnid == first.snapshot.lmdb.last_txnid
    assert restored.state["reused"] == []
    assert restored.sampled == run(b, None).sampled != first.sampled


def test_a_copy_told_apart_by_its_root_pages_bytes_alone(tmp_path, fmt):
    """Two one-page databases alike in every figure (txnid, pages, root, entries) but one value's bytes:
    the copy over the first's file is sampled again."""
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    good = cbor2.dumps({"v": "abcdefgh"})
    for path, odd in ((a, good), (b, b"\xff" * len(good))):
        env = raw_env(path, fmt)
        with env.begin(write=True) as txn:
            txn.put(b"\0\0\0\x05", cbor2.dumps({"oid": str(uuid.UUID(int=5)), "slot": 5, "name": "T"}))
            for i in range(6):
                txn.put(struct.pack(">HI", 5, i), odd if i == 3 else good)
        env.close()
    st = str(tmp_path / "state")
    first = run(a, st)
    again = run(a, st)  # (an empty free database: its root is P_INVALID, 2**64 - 1, in the identity)
    assert again.state["note"] is None and sorted(again.state["reused"]) == ["free_runs", "sample"]
    with open(os.path.join(b, "data.mdb"), "rb") as src, open(os.path.join(a, "data.mdb"), "r+b") as dst:
        shutil.copyfileobj(src, dst)
    restored = run(a, st)
    m0, m1 = first.snapshot.lmdb, restored.snapshot.lmdb
    assert (m0.last_txnid, m0.last_pgno, m0.entries) == (m1.last_txnid, m1.last_pgno, m1.entries)
    assert restored.state["note"] is None and "sample" not in restored.state["reused"]
    assert restored.sampled["T"]["undecodable"] == 1 and first.sampled["T"]["undecodable"] == 0


HOSTILE_MEMO = {
    "a statistic of the wrong type": lambda m: m["sample"]["sampled"][next(iter(m["sample"]["sampled"]))]
    .update(errors="many"),
    "a statistic missing": lambda m: m["sample"]["sampled"][next(iter(m["sample"]["sampled"]))].pop("notes"),
    "an unknown decoder": lambda m: m["sample"]["failed"][next(iter(m["sample"]["failed"]))][0].__setitem__(1, "x"),
    "a key that is not hex": lambda m: m["sample"]["failed"][next(iter(m["sample"]["failed"]))][0]
    .__setitem__(0, "zz"),
    "a short snapshot identity": lambda m: m["sample"]["key"].pop(0),
    "a free run bucket upside down": lambda m: m["runs"]["buckets"][0].__setitem__(0, 10 ** 9),
    "a sampled time not a number": lambda m: m["sample"]["times"][0][2].__setitem__(0, "noon"),
    "an extra field": lambda m: m.update(more=1),
    "not an object": lambda m: m.clear(),
}


@pytest.mark.parametrize("how", sorted(HOSTILE_MEMO))
def test_a_hostile_memo_is_refused_with_the_file(varied, tmp_path, how):
    st = str(tmp_path / "state")
    first = run(varied, st)

    def spoil(doc: dict) -> None:
        HOSTILE_MEMO[how](doc["memo"])

    edit_state(st, spoil)
    with open(state_file(st), "rb") as f, pytest.raises(StateError):
        parse_state(f.read())
    ref = run(varied, st)
    assert "ignored" in ref.state["note"] and ref.state["reused"] == []
    assert ref.sampled == first.sampled  # sampled again, the same records


def test_memo_round_trip_and_absent_memo():
    ident = (1, 2, 3, 4, 5, 6, 7, -1, 10**18, 10**18 + 1)
    sm = SampleMemo((*ident, "[200,false,[]]"),
                    {"T": {k: (0 if v == "int" else False if v == "bool" else "s" if v == "str" else None
                               if v == "str?" else ["n"]) for k, v in SAMPLED_FIELDS.items()}},
                    [("Idx", "2 of 300")], {"T": [(b"\x00\x2a", "codec")]}, [("T", "codec", "bad")],
                    {3: ("value:created", [1, None, 3])})
    memo = Memo((*ident, 9, 3), {"largest_pages": 4, "runs": [
        {"pages": [1, 1], "runs": 2, "total_pages": 2}, {"pages": [4, 7], "runs": 1, "total_pages": 4}]}, sm)
    back = parse(encode(memo))
    assert back == memo
    sm.times[3] = ("key:2", [2**64 - 1, -(2**70), 5])  # no plausible time beyond int64: kept as none
    assert parse(encode(memo)).sample.times[3] == ("key:2", [None, None, 5])
    assert parse(None) is None and encode(None) is None and encode(Memo()) is None


def test_an_unchanged_tree_on_a_cold_file_is_not_read_ahead(tmp_path, monkeypatch):
    """A cold file's saved branch pages are read ahead for a walk that needs them (a changed tree); under
    an unchanged root the walk needs none (they were read all the same: ~40 MiB at 10M records)."""
    from conftest import put_random
    from statefiles import state_doc

    from zlmdb_inspect.storage import prefetch

    path = str(tmp_path / "db")
    put_random(path, 60000, seed=3, commits=8)
    st = str(tmp_path / "state")
    run(path, st)
    run(path, st)
    assert state_doc(st)["summaries"]["rows"] > 100
    asked: list[int] = []
    real = prefetch.read_missing

    def counting(pf, pgnos):
        asked.append(len(pgnos))
        return real(pf, pgnos)

    monkeypatch.setattr(prefetch, "read_missing", counting)
    drop_cache(os.path.join(path, "data.mdb"))
    ref = run(path, st)
    assert sorted(ref.state["reused"]) == ["free_runs", "sample"] and ref.read_bytes <= 8 * 4096
    assert asked == []  # nothing read ahead
    put_random(path, 5, seed=4)  # a changed tree: its saved rows' pages are read ahead
    run(path, st)
    assert asked and asked[0] > 100


def test_times_beyond_int64_keep_the_state(tmp_path):
    """Key times are read as unsigned 64-bit numbers: a table whose time source holds for 95 % of its keys
    may sample 2**64 - 1 for the rest; the memo must not make its own state file unreadable."""
    import time

    path = str(tmp_path / "db")
    rnd = random.Random(1)
    now = time.time_ns()
    env = raw_env(path, "1.0", map_size=64 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"\0\0" + struct.pack(">H", 7), cbor2.dumps({"oid": str(uuid.UUID(int=7)), "slot": 7, "name": "Ev",
                                                             "description": None, "creator": "t"}))
        for i in range(3000):
            t = now - rnd.randrange(10**15) if rnd.random() > 0.05 else (1 << 64) - 1 - rnd.randrange(1000)
            txn.put(struct.pack(">HQQ", 7, i, t), cbor2.dumps({"n": i}))
    env.close()
    st = str(tmp_path / "state")
    first = run(path, st)
    assert any(t.time is not None and not t.time.exact for t in first.snapshot.tables)  # estimated from a sample
    again = run(path, st)
    assert again.state["note"] is None and "sample" in again.state["reused"]
    assert _times(again) == _times(first)


def test_a_diverged_copy_with_the_same_root_bytes_is_sampled_again(tmp_path, fmt):
    """Two copies of one database, each changed by one commit of a same-size value under one key: the
    root pages are byte for byte the same (allocation is deterministic). The copy written over the
    first file changes its times, and the next run samples again."""
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    env = raw_env(a, fmt, map_size=64 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"\0\0" + struct.pack(">H", 5), cbor2.dumps({"oid": str(uuid.UUID(int=5)), "slot": 5, "name": "T",
                                                             "description": None, "creator": "t"}))
        for i in range(2000):
            txn.put(struct.pack(">HI", 5, i), cbor2.dumps({"n": i, "pad": "p" * 40}))
    env.close()
    shutil.copytree(a, b)
    good = cbor2.dumps({"n": 0, "pad": "q" * 40})
    for path, val in ((a, good), (b, b"\xff" * len(good))):
        env = raw_env(path, fmt, map_size=64 << 20)
        with env.begin(write=True) as txn:
            txn.put(struct.pack(">HI", 5, 0), val)
        env.close()
    st = str(tmp_path / "state")
    first = run(a, st)
    assert sorted(run(a, st).state["reused"]) == ["free_runs", "sample"]
    with open(os.path.join(b, "data.mdb"), "rb") as src, open(os.path.join(a, "data.mdb"), "r+b") as dst:
        shutil.copyfileobj(src, dst)
        dst.truncate()
    again = run(a, st)
    scratch = run(b, None)
    assert again.state["reused"] == []
    assert again.sampled == scratch.sampled and again.sampled["T"]["undecodable"] == 1
    assert first.sampled["T"]["undecodable"] == 0
    assert _warnings(again) == _warnings(scratch)


def test_a_memo_of_another_version_is_not_used_and_the_rest_of_the_file_is(varied, tmp_path):
    st = str(tmp_path / "state")
    first = run(varied, st)

    def older(doc: dict) -> None:
        doc["memo"]["version"] = "0.0.1/0"
        doc["memo"]["sample"]["sampled"] = {"gone": {"a field": "of a format long gone"}}

    edit_state(st, older)
    again = run(varied, st)
    assert again.state["note"] is None and again.state["samples_used"] == 1
    assert again.state["reused"] == [] and again.sampled == first.sampled
