"""Records decoded with and without the application's code; failures stay visible."""

from __future__ import annotations

import json
import pickle
import struct
import sys
import uuid

import pytest
import zlmdb
from conftest import SUPPORT, run_cli, sha
from hypothesis import given, settings
from hypothesis import strategies as st

from zlmdb_inspect.tables import decode

sys.path.insert(0, SUPPORT)
import app_tables as app


class Evil:
    """Unpickled, it creates ``marker`` (the test's own tmp_path/pwned: nothing is left in /tmp)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def app_db(tmp_path, fmt):
    path = str(tmp_path / f"app-{fmt}")
    db = zlmdb.Database(dbpath=path, maxsize=32 * 1024 * 1024, lib_version=fmt)
    frag, strings, pairs, pick, byname = (db.attach_table(t) for t in
                                          (app.FragileTable, app.Strings, app.Pairs, app.Pickles, app.ByName))
    with db.begin(write=True) as txn:
        for i in range(30):
            frag[txn, i] = app.Fragile({"n": i, "boom": i == 7})
            strings[txn, f"key{i:02d}"] = {"i": i}
            pairs[txn, (uuid.UUID(int=i + 1), uuid.UUID(int=i + 100))] = {"pair": i}
            pick[txn, i] = {"plain": i}
            byname[txn, f"name{i:02d}"] = uuid.UUID(int=i + 1)
        txn._txn.put(struct.pack(">H", strings._slot) + b"\xff\xfebad-utf8", __import__("cbor2").dumps({"bad": 1}))
        evil = pickle.dumps(Evil(str(tmp_path / "pwned")), protocol=2)
        txn._txn.put(struct.pack(">H", pick._slot) + struct.pack(">Q", 999), evil)
    db.__exit__(None, None, None)
    return path


def _dump(path, table, *extra):
    r = run_cli(path, "--dump", table, *extra)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_with_import_values_equal_marshal(app_db, monkeypatch):
    before = sha(app_db)
    imp = ["--import", "app_tables"]
    monkeypatch.setenv("PYTHONPATH", SUPPORT)
    recs = _dump(app_db, "FragileTable", *imp)
    assert len(recs) == 30
    doc = json.loads(run_cli(app_db, "--json", *imp).stdout)
    undecodable = [w for w in doc["warnings"] if w["id"] == "undecodable"]
    assert {w["subject"] for w in undecodable} == {"FragileTable", "Strings"}
    assert recs[3]["value"] == {"n": 3, "doubled": 6} and recs[3]["error"] is None
    assert recs[7]["error"] and "marshal() cannot handle boom" in recs[7]["error"]
    assert recs[7]["fallback"] == {"n": 7, "boom": True}
    pairs = _dump(app_db, "Pairs", *imp)
    assert pairs[0]["key"] == [str(uuid.UUID(int=1)), str(uuid.UUID(int=100))]
    assert pairs[0]["value"] == {"pair": 0}
    strings = _dump(app_db, "Strings", *imp)
    bad = [r for r in strings if r["error"]]
    assert len(bad) == 1 and bad[0]["error"].startswith("key:") and bad[0]["value"] == {"bad": 1}
    assert sha(app_db) == before


def test_without_import_builtin_decoders(app_db, monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)
    pairs = _dump(app_db, "Pairs")
    assert pairs[0]["key"] == [str(uuid.UUID(int=1)), str(uuid.UUID(int=100))]
    assert pairs[0]["value"] == {"pair": 0} and pairs[0]["decoder"] == "uuid+uuid|cbor"
    idx = _dump(app_db, "ByName", "--limit", "2")
    assert idx[0] == {"key": "name00", "value": str(uuid.UUID(int=1)), "decoder": "string|uuid", "error": None}
    frag = _dump(app_db, "FragileTable")
    assert frag[7]["value"] == {"n": 7, "boom": True}


def test_hostile_pickle_is_never_loaded_without_flag(app_db, tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    for extra in ([], ["--import", "app_tables"]):
        monkeypatch.setenv("PYTHONPATH", SUPPORT)
        recs = _dump(app_db, "Pickles", *extra)
        assert all(r["value"] == "pickle (not loaded)" for r in recs)
        r = run_cli(app_db, "--json", *extra)
        assert "pickle-table" in {w["id"] for w in json.loads(r.stdout)["warnings"]}
    assert not marker.exists()
    recs = _dump(app_db, "Pickles", "--allow-pickle", "--limit", "1")
    assert recs[0]["value"] == {"plain": 0}


def test_dump_limit_from_and_slot_number(app_db):
    recs = _dump(app_db, "ByName", "--from", "name10", "--limit", "3")
    assert [r["key"] for r in recs] == ["name10", "name11", "name12"]
    doc = json.loads(run_cli(app_db, "--json").stdout)
    slot = [t for t in doc["tables"] if t["name"] == "ByName"][0]["slot"]
    assert _dump(app_db, str(slot), "--limit", "1")[0]["key"] == "name00"
    r = run_cli(app_db, "--dump", "NoSuchTable")
    assert r.returncode == 3 and len(r.stderr.strip().splitlines()) == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_decoders_never_raise(b):
    k = decode.decode_key(b)
    v = decode.decode_value(b)
    json.dumps([k.value, v.value])
    assert isinstance(k.decoder, str) and isinstance(v.decoder, str)


def test_paging_by_key(demo_db):
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service

    svc = Service(Options(path=demo_db))
    try:
        snap = svc.snapshot()
        t = svc.resolve_table(snap, "Events")
        first = svc.read_window(t, None, "first", 50)
        assert first.at_start and not first.at_end and len(first.records) == 50
        nxt = svc.read_window(t, first.records[-1].raw_key[2:], "after", 50)
        assert nxt.records[0].raw_key > first.records[-1].raw_key
        back = svc.read_window(t, nxt.records[0].raw_key[2:], "before", 50)
        assert [r.raw_key for r in back.records] == [r.raw_key for r in first.records]
        last = svc.read_window(t, None, "last", 50)
        assert last.at_end and len(last.records) == 50
        total = sum(1 for _ in svc.iter_records(t, None, None))
        assert total == t.records
    finally:
        svc.close()


def test_timestamps_in_both_byte_orders():
    ns = 1_767_225_600_123_456_789
    be = decode.decode_key(struct.pack(">q", ns))
    le = decode.decode_key(struct.pack("<q", ns))
    assert be.value == le.value == "2026-01-01T00:00:00.123456789Z"
    assert (be.decoder, le.decoder) == ("timestamp", "timestamp-le")
    assert decode.decode_key(struct.pack(">Q", 14)).value == 14
