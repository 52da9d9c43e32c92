"""Each table decoded with one codec, learnt from a sample; records unlike the rest flagged.

On the cfxdb-like database (tests/cfxdb_like.py) in both LMDB formats, with and
without the application's schema (``--import cfxdb_app``).
"""

from __future__ import annotations

import json
import os
import struct
import sys
import uuid

import cbor2
import pytest
import zlmdb
from conftest import FORMATS, ROOT, SUPPORT, raw_env, run_cli, sha
from hypothesis import given, settings
from hypothesis import strategies as st

from zlmdb_inspect.core import times
from zlmdb_inspect.tables import decode, inference

HERE = SUPPORT
sys.path.insert(0, HERE)
import cfxdb_like  # noqa: E402

IMPORT = ["--import", "cfxdb_app"]


@pytest.fixture(scope="module", params=FORMATS)
def cfx(request, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("cfx") / f"cfx-{request.param}")
    facts = cfxdb_like.build(path, request.param)
    facts["sha"] = sha(path)
    return facts


@pytest.fixture(autouse=True)
def _pythonpath(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([ROOT, HERE]))


def _dump(path, table, *extra):
    r = run_cli(path, "--dump", table, *extra)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def _json(path, *extra):
    r = run_cli(path, "--json", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _undecodable(doc):
    return {(w["subject"], w["severity"]): w for w in doc["warnings"] if w["id"] == "undecodable"}


def test_oid_timestamp_keys_inferred_without_import(cfx):
    recs = _dump(cfx["path"], "Events", "--limit", "3")
    oid, ns = cfx["event_keys"][0]
    assert recs[0]["key"] == [oid, times.ts_iso(ns)]  # not a UUID
    assert all(r["decoder"] == "oid+timestamp-le|cbor" and r["error"] is None for r in recs)
    assert recs[0]["value"]["timestamp"] == ns  # the JSON value stays raw
    sess = _dump(cfx["path"], "EventSessions", "--limit", "1")
    assert sess[0]["key"] == [oid, times.ts_iso(ns)] and sess[0]["value"] == oid


def test_declared_decoder_when_the_applications_raises(cfx):
    """zlmdb's own OID+timestamp key decoder raises on every key: said once, keys by the declared type."""
    plain = _dump(cfx["path"], "Events", "--limit", "5")
    recs = _dump(cfx["path"], "Events", "--limit", "5", *IMPORT)
    assert [r["key"] for r in recs] == [r["key"] for r in plain]
    assert all(r["error"] is None and r["decoder"] == "built-in:oid+timestamp-le|app" for r in recs)
    doc = _json(cfx["path"], *IMPORT)
    note = doc["sampled"]["Events"]
    assert note["key_codec"] == "oid+timestamp-le" and note["app_key_failed"] == note["sampled"] > 100
    assert any("raises on all" in n and "bad char in struct format" in n for n in note["notes"])
    w = _undecodable(doc)
    assert ("Events", "warning") not in w
    info = w[("Events", "info")]
    assert "application's own decoder raises" in info["message"] and "bad char in struct format" in info["message"]


def test_email_keys_are_text_and_uuid_values_are_uuids(cfx):
    recs = _dump(cfx["path"], "IndexUsersByEmail")
    good = [r for r in recs if r["error"] is None]
    assert [r["key"] for r in good] == cfx["emails"]
    assert all(r["decoder"] == "string|uuid" for r in good)
    assert good[0]["value"] == cfx["tag8_uuid"]  # bytes c8 4e... also parse as CBOR tag 8


@pytest.mark.parametrize("imported", [False, True])
def test_deviants_flagged_in_dump_records_and_json(cfx, imported):
    extra = IMPORT if imported else []
    nodes = _dump(cfx["path"], "nodes", *extra)  # lower case: matched when unique
    bad = {r["key"]: r for r in nodes if r["error"]}
    expect = {str(uuid.UUID(hex=h)) for h in cfx["deviants"]["Nodes"]}
    assert set(bad) == expect and len(nodes) == cfx["counts"]["Nodes"]
    for r in bad.values():
        assert "value is not CBOR like the rest of this table" in r["error"]
        assert r["value"].startswith("hex:") or r.get("fallback", "").startswith("hex:")
    idx = _dump(cfx["path"], "IndexUsersByEmail", *extra)
    bad_keys = [r for r in idx if r["error"]]
    assert len(bad_keys) == 1 and "key is not UTF-8 text like the rest of this table" in bad_keys[0]["error"]
    doc = _json(cfx["path"], *extra)
    w = _undecodable(doc)
    assert "2 of 10 sampled records" in w[("Nodes", "warning")]["message"]
    assert "1 of 41 sampled records" in w[("IndexUsersByEmail", "warning")]["message"]
    assert doc["sampled"]["Nodes"]["value_codec"] == "cbor" and doc["sampled"]["Nodes"]["value_misfits"] == 2
    assert {s for s, sev in w if sev == "warning"} == {"Nodes", "IndexUsersByEmail"}
    assert sha(cfx["path"]) == cfx["sha"]


def test_records_api_marks_rows_and_gives_times(cfx):
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service

    svc = Service(Options(path=cfx["path"]))
    try:
        snap = svc.snapshot()
        t = svc.resolve_table(snap, "Nodes")
        page = svc.read_window(t, None, "first", 50)
        bad = [r for r in page.records if r.error]
        assert len(bad) == 2 and all(r.error_kind == "codec" for r in bad)
        good = next(r for r in page.records if not r.error)
        hints = good.time_hints()
        assert hints["created_at"] == times.ts_iso(good.value["created_at"])
        assert "last_seen_at" in hints and "config" not in hints
        assert good.size >= 3 * 1024  # cfxdb's normal record sizes
        notes = svc.sampling_notes(t)  # the first line names the codecs and the sample
        assert notes and "values cbor (" in notes[0] and f"from {cfx['counts']['Nodes']} sampled records" in notes[0]
        assert any("2 of 10 sampled values are not CBOR" in n for n in notes)
        ref = svc.refresh()
        assert ref.sampled["Events"]["key_codec"] == "oid+timestamp-le"
        assert ref.sampled["Events"]["sampled"] <= svc.opts.sample
        assert ref.sampled["Events"]["where"].startswith("first 50, last 50")
    finally:
        svc.close()


def test_table_names_case_insensitive_and_ambiguous(tmp_path, fmt):
    path = str(tmp_path / "names")
    env = raw_env(path, fmt)
    with env.begin(write=True) as txn:
        for slot, name in ((1, "app.Nodes"), (2, "other.NODES"), (3, "app.Users")):
            meta = {"oid": str(uuid.UUID(int=slot)), "name": name, "slot": slot}
            txn.put(b"\0\0" + struct.pack(">H", slot), cbor2.dumps(meta))
            txn.put(struct.pack(">H", slot) + uuid.UUID(int=100 + slot).bytes, cbor2.dumps({"slot": slot}))
    env.close()
    assert _dump(path, "users")[0]["value"] == {"slot": 3}
    assert _dump(path, "app.nodes")[0]["value"] == {"slot": 1}
    assert _dump(path, "Nodes")[0]["value"] == {"slot": 1}  # exact bare name wins over case-folding
    r = run_cli(path, "--dump", "nodes")
    assert r.returncode == 3 and len(r.stderr.strip().splitlines()) == 1
    assert "app.Nodes (slot 1)" in r.stderr and "other.NODES (slot 2)" in r.stderr


def test_mixed_table_said_once_not_per_record(tmp_path, fmt):
    path = str(tmp_path / "mixed")
    env = raw_env(path, fmt)
    with env.begin(write=True) as txn:
        for i in range(40):
            v = cbor2.dumps({"i": i}) if i % 2 else f"plain text value {i}".encode()
            txn.put(struct.pack(">HQ", 1, i), v)
    env.close()
    recs = _dump(path, "1")
    assert all(r["error"] is None for r in recs)
    assert {r["decoder"] for r in recs} == {"oid|cbor", "oid|string"}
    doc = _json(path)
    s = doc["sampled"]["slot 1"]
    assert s["value_codec"] is None and "values mix codecs" in s["mixed"] and s["mixed"] in s["notes"]
    assert "cbor 20" in s["mixed"] and "string 20" in s["mixed"]
    assert not _undecodable(doc)


def test_app_decoder_failure_is_info_no_decoder_is_warning(tmp_path):
    """Issue 17: marshal() raising is the application's (info); bytes no decoder reads are a warning."""
    import app_tables as app

    path = str(tmp_path / "app")
    db = zlmdb.Database(dbpath=path, maxsize=32 * 1024 * 1024)
    frag, strings = db.attach_table(app.FragileTable), db.attach_table(app.Strings)
    with db.begin(write=True) as txn:
        for i in range(30):
            frag[txn, i] = app.Fragile({"n": i, "boom": i == 7})
            strings[txn, f"key{i:02d}"] = {"i": i}
        txn._txn.put(struct.pack(">H", strings._slot) + b"key99", b"\x82\x01")  # truncated CBOR array
    db.__exit__(None, None, None)
    w = _undecodable(_json(path, "--import", "app_tables"))
    assert set(w) == {("FragileTable", "info"), ("Strings", "warning")}
    assert "marshal() cannot handle boom" in w[("FragileTable", "info")]["message"]
    assert "1 of 31 sampled records" in w[("Strings", "warning")]["message"]
    r = run_cli(path, "--check", "--import", "app_tables")
    assert r.returncode == 1 and "Strings" in r.stdout


def test_declared_codecs_of_zlmdb_classes():
    assert inference.declared(zlmdb.MapOidTimestampOid) == ("oid+timestamp-le", "oid")
    assert inference.declared(zlmdb.MapUuidCbor) == ("uuid", "cbor")
    assert inference.declared(zlmdb.MapStringUuid) == ("string", "uuid")
    assert inference.declared(zlmdb.MapTimestampUuidFlatBuffers) == ("timestamp+uuid", "flatbuffers")
    assert inference.declared(zlmdb.MapUuidStringOid) == ("uuid+string", "oid")
    assert inference.declared(zlmdb.MapOidOidSet)[1] is None  # sets: inferred from what is stored


def test_time_hint():
    ns = 1_767_225_600_123_456_789
    assert times.time_hint("created", ns) == "2026-01-01T00:00:00.123456789Z"
    assert times.time_hint("last_seen_at", 1_767_225_600) == "2026-01-01T00:00:00.000000000Z"
    assert times.time_hint("timestamp_ms", 1_767_225_600_123) == "2026-01-01T00:00:00.123000000Z"
    assert times.time_hint("published", ns) == "2026-01-01T00:00:00.123456789Z"  # by range (ns)
    assert times.time_hint("createdAt", 1_767_225_600_000) == "2026-01-01T00:00:00.000000000Z"
    assert times.time_hint("count", 1_767_225_600) is None  # seconds only by name
    assert times.time_hint("format", 1_767_225_600) is None and times.time_hint("stats", 1_767_225_600) is None
    assert times.time_hint("oid", 2**52) is None and times.time_hint("created", True) is None
    assert times.time_hints({"a": {"expires_at": 1_767_225_600}, "n": 3}) == {
        "a.expires_at": "2026-01-01T00:00:00.000000000Z"}


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80), st.sampled_from(["uuid", "oid+timestamp-le", "string", "uuid+string",
                                                 "timestamp+uuid", "bytes20", "empty"]),
       st.sampled_from(["cbor", "json", "string", "uuid", "flatbuffers", "zlib+cbor", "numpy", "pickle"]))
def test_codecs_raise_only_mismatch(b, kc, vc):
    for fn, c in ((decode.key_as, kc), (decode.value_as, vc)):
        try:
            json.dumps(fn(c, b))
        except decode.Mismatch:
            pass
    for inf in (inference.infer_values([b, b, b]), inference.infer_keys([b, b, b])):
        assert inf.codec is not None and inf.misfits == 0


def test_sample_reaches_the_middle_of_a_big_table(tmp_path, fmt):
    """First and last pages are clean; damage in the middle is found by the random runs."""
    path = str(tmp_path / "middle")
    env = raw_env(path, fmt, map_size=64 * 1024 * 1024)
    with env.begin(write=True) as txn:
        for i in range(3000):
            v = b"\xff not cbor" if 1200 <= i < 1800 else cbor2.dumps({"i": i, "created": 1_767_225_600 + i})
            txn.put(struct.pack(">HQ", 1, i), v)
    env.close()
    doc = _json(path)
    s = doc["sampled"]["slot 1"]
    assert s["sampled"] <= 200 and "random keys" in s["where"]
    assert s["value_codec"] == "cbor" and 0 < s["value_misfits"] == s["undecodable"]
    w = _undecodable(doc)[("slot 1", "warning")]
    assert f"{s['undecodable']} of {s['sampled']} sampled records" in w["message"]


def test_inspection_reads_printable_utf8_as_text():
    """Record by record too (tables that mix codecs): an e-mail of 20 characters is text, not bytes20."""
    assert decode.decode_key(b"user0000@example.org").decoder == "string"
    assert decode.decode_key(b"name0001").value == "name0001"  # not a little-endian timestamp
    assert decode.decode_value(b"sixteen chars ok").decoder == "string"
    u = uuid.UUID("c84e3ac7-a953-4322-9f70-d5dc2e675fc7")
    assert inference.infer_values([u.bytes, uuid.uuid4().bytes]).codec == "uuid"
