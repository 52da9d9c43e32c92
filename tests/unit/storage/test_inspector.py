"""The core contract: counts, capacity, catalog, readers, JSON form (issue: inspector core)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys

import pytest
import zlmdb
from conftest import build_orm_db, cli_json, raw_env, run_cli, sha
from zlmdb import lmdb


def test_json_counts_match_zlmdb(orm_db, fmt):
    path, counts = orm_db
    before = sha(path)
    doc = cli_json(path)
    tables = {t["name"] or f"slot{t['slot']}": t for t in doc["tables"]}
    for name, n in counts.items():
        assert tables[name]["records"] == n, name
        assert isinstance(tables[name]["slot"], int)
    assert tables["slot77"]["metadata"] is False
    assert tables["TUsers"]["metadata"] is True
    assert doc["lmdb"]["format"] == fmt
    required = {"format", "library", "page_size", "depth", "branch_pages", "leaf_pages", "overflow_pages",
                "entries", "last_pgno", "last_txnid", "max_readers", "num_readers"}
    assert required <= set(doc["lmdb"])
    cap = doc["capacity"]
    assert cap["map_size"] == 64 * 1024 * 1024
    assert cap["used_bytes"] == (doc["lmdb"]["last_pgno"] + 1) * doc["lmdb"]["page_size"]
    assert cap["headroom_bytes"] == cap["map_size"] - cap["used_bytes"]
    assert abs(cap["headroom_pct"] - 100.0 * cap["headroom_bytes"] / cap["map_size"]) < 0.01
    assert doc["readers"] == []
    # slot 77 has records and no metadata; a 0.9 file is also told its format (info)
    expected = [("orphan-slot", "warning", "slot 77", 2)]
    if fmt == "0.9":
        expected.append(("format-09", "info", None, "0.9"))
    assert [(w["id"], w["severity"], w["subject"], w["figure"]) for w in doc["warnings"]] == expected
    assert sha(path) == before


def test_map_size_is_the_writers_not_ours(tmp_path, fmt):
    path = str(tmp_path / "db")
    env = raw_env(path, fmt, map_size=4 * 1024 ** 3)
    with env.begin(write=True) as txn:
        txn.put(b"\0\x01a", b"b")
    env.close()
    doc = cli_json(path)
    assert doc["capacity"]["map_size"] == 4 * 1024 ** 3


def test_map_full_reports_headroom_below_one_percent(tmp_path, fmt):
    path = str(tmp_path / "full")
    env = raw_env(path, fmt, map_size=2 * 1024 * 1024)
    committed = 0  # records of the transactions that committed: the one MapFullError stopped wrote none
    with pytest.raises(lmdb.MapFullError):
        while True:
            with env.begin(write=True) as txn:
                for j in range(50):
                    txn.put(struct.pack(">HQ", 1, committed + j), os.urandom(200))
            committed += 50
    env.close()
    before = sha(path)
    doc = cli_json(path)
    assert doc["capacity"]["headroom_pct"] < 1
    assert committed > 0 and [(t["slot"], t["records"]) for t in doc["tables"]] == [(1, committed)]
    assert sha(path) == before


def _mdb_stat():
    return shutil.which("mdb_stat")


@pytest.mark.skipif(not _mdb_stat(), reason="mdb_stat (Debian lmdb-utils) not installed")
def test_free_pages_equal_mdb_stat(tmp_path):
    path = str(tmp_path / "free")
    env = raw_env(path, "0.9")
    for _ in range(5):
        with env.begin(write=True) as txn:
            for i in range(2000):
                txn.put(struct.pack(">HI", 1, i), os.urandom(100))
        with env.begin(write=True) as txn:
            for i in range(0, 2000, 2):
                txn.delete(struct.pack(">HI", 1, i))
    env.close()
    out = subprocess.run(["mdb_stat", "-f", path], capture_output=True, text=True, check=True).stdout
    free = int([line for line in out.splitlines() if "Free pages" in line][0].split(":")[1])
    doc = cli_json(path)
    assert free > 0
    assert doc["capacity"]["free_pages"] == free


def _freelist_db(path: str, fmt: str) -> None:
    """Freelist records small and large: one transaction frees thousands of pages at once (its
    page list lies on overflow pages), many others free a few each."""
    env = raw_env(path, fmt, map_size=256 * 1024 * 1024)
    with env.begin(write=True) as txn:
        for i in range(40000):
            txn.put(struct.pack(">HI", 1, i), os.urandom(180))
    for round_ in range(30):
        with env.begin(write=True) as txn:
            for i in range(round_, 40000, 997):
                txn.put(struct.pack(">HI", 1, i), os.urandom(180))
    with env.begin(write=True) as txn:
        for i in range(0, 40000, 2):
            txn.delete(struct.pack(">HI", 1, i))
    env.close()


def _deep_freelist_db(path: str, fmt: str) -> None:
    """A free database with branch pages: a reader held open while 600 commits each free a
    few pages keeps every one of their freelist records."""
    env = raw_env(path, fmt, map_size=256 * 1024 * 1024)
    with env.begin(write=True) as txn:
        for i in range(20000):
            txn.put(struct.pack(">HI", 1, i), os.urandom(180))
    pin = env.begin()
    for round_ in range(600):
        with env.begin(write=True) as txn:
            for i in range(round_, 20000, 4999):
                txn.put(struct.pack(">HI", 1, i), os.urandom(180))
    pin.abort()
    env.close()


@pytest.mark.parametrize("deep", [False, True], ids=["one-leaf", "branches"])
def test_freelist_vectorised_read_equals_node_by_node(tmp_path, fmt, deep):
    from zlmdb_inspect.storage.pageformat import PageFile
    from zlmdb_inspect.storage.walk import TreeWalker, _Walk

    path = str(tmp_path / "free")
    (_deep_freelist_db if deep else _freelist_db)(path, fmt)
    before = sha(path)
    pf = PageFile(os.path.join(path, "data.mdb"))
    try:
        meta = pf.current_meta()
        assert (meta.free.depth >= 2) == deep
        w = _Walk(TreeWalker(), pf, meta)
        free, pages, records = w.free_db(meta)
        leaves, tree_pages = [], 0
        stack = [meta.free.root]
        while stack:  # the free database's pages, for the node-by-node reader
            pgno = stack.pop()
            tree_pages += 1
            flags, lower, upper, _ = pf.header(pgno, meta.last_pgno, "test")
            n = pf.numkeys(pgno, lower, upper)
            if flags & 1:  # a branch page
                stack += [pf.child_pgno(pf.node(pgno, i)) for i in range(n)]
            else:
                leaves.append(pgno)
        expect_free, overflow_pages, expect_records = w._free_leaves_nodes(leaves, 0)
        assert sorted(map(tuple, records.tolist())) == sorted(expect_records) and len(records) > 1
        assert free == expect_free > 0
        assert overflow_pages > 0 or deep  # a record's page list lies on overflow pages
        assert pages == tree_pages + overflow_pages
    finally:
        pf.close()
    assert sha(path) == before


def test_bad_metadata_is_reported_not_fatal(tmp_path, fmt):
    path = str(tmp_path / "badmeta")
    env = raw_env(path, fmt)
    with env.begin(write=True) as txn:
        txn.put(b"\0\0\0\x03", b"\xff\xfe not cbor")
        txn.put(b"\0\0\0\x04", b"\xa1aa\x01")  # CBOR map without oid
        txn.put(b"\0\x03k", b"v")
        txn.put(b"\0\x04k", b"v")
    env.close()
    doc = cli_json(path)
    kinds = [p["kind"] for p in doc["problems"]]
    assert kinds.count("bad-metadata") == 2
    assert {t["slot"] for t in doc["tables"]} >= {3, 4}
    assert "bad-metadata" in {w["id"] for w in doc["warnings"]}


def test_plain_lmdb_with_named_databases(tmp_path, fmt):
    path = str(tmp_path / "named")
    env = raw_env(path, fmt, max_dbs=4)
    a = env.open_db(b"alpha")
    b = env.open_db(b"beta")
    with env.begin(write=True) as txn:
        for i in range(100):
            txn.put(b"k%03d" % i, b"v", db=a)
        txn.put(b"x", b"y", db=b)
    env.close()
    doc = cli_json(path)
    dbs = {d["name"]: d["entries"] for d in doc["databases"]}
    assert dbs == {"alpha": 100, "beta": 1}
    assert doc["zlmdb"] is False


def test_reader_table_and_alive(tmp_path, fmt):
    path = str(tmp_path / "readers")
    build_orm_db(path, fmt, n=20)
    code = ("import sys,time; from zlmdb import lmdb; e=lmdb.open(sys.argv[1], readonly=True, map_size=0);"
            "t=e.begin(); print('ready', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code, path], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        doc = cli_json(path)
        mine = [r for r in doc["readers"] if r["pid"] == child.pid]
        assert mine and mine[0]["alive"] is True and mine[0]["txnid"] == doc["lmdb"]["last_txnid"]
        assert {"pid", "thread", "txnid", "name", "lag", "held_s", "alive", "own"} <= set(mine[0])
        assert any(r["own"] for r in doc["readers"])  # the inspector's own snapshot
    finally:
        child.kill()
        child.wait()


def test_demo_json_and_counts(tmp_path):
    path = str(tmp_path / "demo")
    r = run_cli("--demo", path, "--demo-records", "200", "--json")
    assert r.returncode == 0, r.stderr
    import json

    doc = json.loads(r.stdout)
    names = {t["name"]: t for t in doc["tables"]}
    assert names["Users"]["records"] == 200
    assert names["Attachments"]["overflow_pages"] > 0
    assert any(not t["metadata"] for t in doc["tables"])
    db = zlmdb.Database(dbpath=path, maxsize=0)
    from zlmdb_inspect.demo import app as demo_app

    with db.begin() as txn:
        for klass in (demo_app.Users, demo_app.Events, demo_app.Sessions, demo_app.Attachments):
            assert names[klass.__name__]["records"] == db.attach_table(klass).count(txn)
    db.__exit__(None, None, None)


def test_symlink_and_unicode_path(tmp_path, fmt):
    real = tmp_path / "dir with spaces ü"
    build_orm_db(str(real), fmt, n=10)
    link = tmp_path / "link"
    link.symlink_to(real)
    doc = cli_json(str(link))
    assert {t["name"] for t in doc["tables"]} >= {"TUsers"}
