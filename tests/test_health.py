"""Rules, exit codes and the Prometheus exposition format."""

from __future__ import annotations

import os
import re
import struct

import pytest
from zlmdb import lmdb

from conftest import build_orm_db, cli_json, raw_env, run_cli, sha


def _ids(doc):
    return {w["id"]: w for w in doc["warnings"]}


def test_map_full_is_critical(tmp_path):
    path = str(tmp_path / "full")
    env = raw_env(path, "1.0", map_size=2 * 1024 * 1024)
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
    r = run_cli(path, "--check", "--threshold", "map_used_critical_pct=100", "--threshold", "map_used_warning_pct=100")
    assert "map-headroom" not in r.stdout


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
    w = _ids(doc)["free-pages"]
    assert "mdb_copy -c" in w["message"] and "Backup strategies" in w["practice"]
    cfg = tmp_path / "t.toml"
    cfg.write_text("[thresholds]\nfree_pages_warning_pct = 99.9\n")
    assert "free-pages" not in _ids(cli_json(path, "--config", str(cfg)))


def test_prometheus_exposition(tmp_path):
    path = str(tmp_path / "prom")
    build_orm_db(path, "1.0", n=50)
    r = run_cli(path, "--prometheus")
    assert r.returncode == 0
    text = r.stdout
    assert re.search(r'^zlmdb_table_records\{path="[^"]+",table="TUsers",slot="\d+"\} 50$', text, re.M)
    assert re.search(r'^zlmdb_warnings\{path="[^"]+",severity="warning"\} \d+$', text, re.M)
    for line in text.splitlines():
        assert line.startswith("#") or re.match(r'^[a-z_]+\{[^}]*\} [-0-9.e+NaInf]+$', line), line
    helps = [l.split()[2] for l in text.splitlines() if l.startswith("# HELP")]
    assert len(helps) == len(set(helps))


def test_missing_database_check_is_unknown(tmp_path):
    r = run_cli(str(tmp_path / "nope"), "--check")
    assert r.returncode == 3
    r = run_cli(str(tmp_path / "nope"), "--prometheus")
    assert r.returncode == 3 and "zlmdb_up" in r.stdout and r.stdout.strip().endswith(" 0")
