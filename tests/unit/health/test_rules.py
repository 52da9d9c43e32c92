"""Rules, exit codes and the Prometheus exposition format."""

from __future__ import annotations

import os
import re
import struct

import pytest
from conftest import SUPPORT, build_orm_db, cli_json, raw_env, run_cli, sha
from zlmdb import lmdb


def _ids(doc):
    return {w["id"]: w for w in doc["warnings"]}


def test_map_full_is_critical(tmp_path):
    path = str(tmp_path / "full")
    env = raw_env(path, "1.0", map_size=2 * 1024 * 1024, sync=False)  # thousands of commits: no fsync each
    i = 0
    with pytest.raises(lmdb.MapFullError):
        while True:
            with env.begin(write=True) as txn:
                txn.put(struct.pack(">HQ", 1, i), os.urandom(300))
                i += 1
    env.close()
    w = _ids(cli_json(path))["map-headroom"]
    assert w["severity"] == "critical" and "Database sizing (map_size)" in w["practice"]
    r = run_cli(path, "--check")
    assert r.returncode == 2 and r.stdout.startswith("ZLMDB CRITICAL")
    # full is a level of its own (less available than one commit needs): critical whatever the percentages
    r = run_cli(path, "--check", "--threshold", "map_used_critical_pct=100", "--threshold", "map_used_warning_pct=100")
    assert r.returncode == 2 and "CRITICAL: [map-headroom]" in r.stdout and "The map is full" in r.stdout, r.stdout


def test_large_value_orphan_and_format09(tmp_path):
    path = str(tmp_path / "big")
    build_orm_db(path, "0.9", n=10)
    env = lmdb.open(path, map_size=128 * 1024 * 1024)
    with env.begin(write=True) as txn:
        txn.put(b"\0\x01" + bytes(16), os.urandom(40 * 1024 * 1024))
    env.close()
    before = sha(path)
    doc = cli_json(path)
    ids = _ids(doc)
    assert ids["large-values"]["subject"] == "TUsers"
    assert "Don't store large blobs directly" in ids["large-values"]["practice"]
    assert ids["orphan-slot"]["subject"] == "slot 77" and ids["orphan-slot"]["figure"] == 2
    assert ids["format-09"]["severity"] == "info"
    users = [t for t in doc["tables"] if t["name"] == "TUsers"][0]
    assert users["overflow_pages"] >= 40 * 1024 * 1024 // 4096
    r = run_cli(path, "--check")
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[1].startswith("WARNING") and lines[-1].startswith("INFO")
    assert sha(path) == before


def test_free_pages_rule_and_config_file(tmp_path):
    path = str(tmp_path / "free")
    env = raw_env(path, "1.0", map_size=64 * 1024 * 1024)
    with env.begin(write=True) as txn:
        for i in range(20000):
            txn.put(struct.pack(">HI", 1, i), b"x" * 100)
    with env.begin(write=True) as txn:
        for i in range(20000):
            txn.delete(struct.pack(">HI", 1, i))
    with env.begin(write=True) as txn:
        txn.put(b"\0\x01a", b"b")
    env.close()
    doc = cli_json(path)
    # a few MiB of free pages are no finding by default (floor free_pages_warning_bytes = 64 MiB)
    assert "free-pages" not in _ids(doc) and doc["capacity"]["free_pages"] > 400
    doc = cli_json(path, "--threshold", "free_pages_warning_bytes=1048576")
    w = _ids(doc)["free-pages"]
    assert "zlmdb._lmdb_vendor copy --compact -e" in w["message"] and "Backup strategies" in w["practice"]
    assert w["threshold_text"] == "30% and at least 1.0 MiB" and "% of used pages free" in w["figure_text"]
    cfg = tmp_path / "t.toml"
    cfg.write_text("[thresholds]\nfree_pages_warning_pct = 99.9\nfree_pages_warning_bytes = 0\n")
    assert "free-pages" not in _ids(cli_json(path, "--config", str(cfg)))


def test_prometheus_exposition(tmp_path):
    path = str(tmp_path / "prom")
    build_orm_db(path, "1.0", n=50)
    r = run_cli(path, "--prometheus")
    assert r.returncode == 0
    text = r.stdout
    # the official client writes labels in name order and values as floats
    assert re.search(r'^zlmdb_table_records\{path="[^"]+",slot="\d+",table="TUsers"\} 50\.0$', text, re.M)
    assert re.search(r'^zlmdb_warnings\{path="[^"]+",severity="warning"\} \d+\.0$', text, re.M)
    for line in text.splitlines():
        assert line.startswith("#") or re.match(r'^[a-z_]+\{[^}]*\} [-0-9.e+NaInf]+$', line), line
    helps = [line.split()[2] for line in text.splitlines() if line.startswith("# HELP")]
    assert len(helps) == len(set(helps))


def test_missing_database_check_is_unknown(tmp_path):
    r = run_cli(str(tmp_path / "nope"), "--check")
    assert r.returncode == 3
    r = run_cli(str(tmp_path / "nope"), "--prometheus")
    assert r.returncode == 3 and "zlmdb_up" in r.stdout and r.stdout.strip().endswith(" 0.0")


def test_index_drift_json_table_and_reader_slots(tmp_path):
    import subprocess
    import sys
    import uuid

    import zlmdb

    sys.path.insert(0, SUPPORT)
    from conftest import TIdxNames, TUsers

    path = str(tmp_path / "drift")
    db = zlmdb.Database(dbpath=path, maxsize=32 * 1024 * 1024)
    users, idx = db.attach_table(TUsers), db.attach_table(TIdxNames)
    users.attach_index("idx", idx, lambda u: u["name"])
    with db.begin(write=True) as txn:
        for i in range(50):
            users[txn, uuid.UUID(int=i + 1)] = {"name": f"n{i:03d}"}
        for i in range(5):  # records deleted behind the index's back
            txn._txn.delete(struct.pack(">H", users._slot) + uuid.UUID(int=i + 1).bytes)
    db.__exit__(None, None, None)
    doc = cli_json(path)
    drift = _ids(doc)["index-drift"]
    assert drift["subject"] == "TIdxNames" and "5 of 50" in drift["message"]
    assert "Index Usage" in drift["practice"]

    env = raw_env(str(tmp_path / "json"), "1.0")
    with env.begin(write=True) as txn:
        for i in range(100):
            txn.put(b"\0\x01" + struct.pack(">Q", i), b'{"json": "value %d"}' % i)
    env.close()
    doc = cli_json(str(tmp_path / "json"), "--threshold", "json_table_warning_bytes=1000")
    assert _ids(doc)["json-table"]["practice"] == "Serialization Choices: JSON for debugging only"
    assert "json-table" not in _ids(cli_json(str(tmp_path / "json")))

    path = str(tmp_path / "slots")
    env = raw_env(path, "1.0", max_readers=5)  # the first opener sizes the reader table
    with env.begin(write=True) as txn:
        txn.put(b"\0\x01a", b"b")
    env.close()
    code = ("import sys,time; from zlmdb import lmdb; e=lmdb.open(sys.argv[1], readonly=True, map_size=0, "
            "max_readers=5); t=[e.begin() for _ in range(4)]; print('ready', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, path], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        w = _ids(cli_json(path))["reader-slots"]
        assert w["figure"] == 80.0 and "Multi-process access" in w["practice"]
    finally:
        holder.kill()
        holder.wait()
