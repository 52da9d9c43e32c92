"""The demo tables decoded by the inspector equal what the application's objects marshal() to."""

from __future__ import annotations

import json
import os

import pytest
import zlmdb
from conftest import run_cli

from zlmdb_inspect.demo import app as demo_app
from zlmdb_inspect.tables.values import jsonable

BFBS = os.path.join(os.path.dirname(demo_app.__file__), "schema", "demo.bfbs")


def _app_records(path, klass, n):
    db = zlmdb.Database(dbpath=path, maxsize=0)
    try:
        t = db.attach_table(klass)
        with db.begin() as txn:
            out = []
            for key, obj in t.select(txn, limit=n):
                out.append((jsonable(key), jsonable(obj.marshal() if hasattr(obj, "marshal") else obj)))
            return out
    finally:
        db.__exit__(None, None, None)


def _dump(path, table, *extra, n=20):
    r = run_cli(path, "--dump", table, "--limit", str(n), *extra)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


@pytest.mark.parametrize("klass", [demo_app.Users, demo_app.Sessions, demo_app.Events,
                                   demo_app.AuditLog, demo_app.Settings, demo_app.IndexUsersByName,
                                   demo_app.Attachments])
def test_with_import_equals_marshal(demo_db, klass):
    expected = _app_records(demo_db, klass, 20)
    got = _dump(demo_db, klass.__name__, "--import", "zlmdb_inspect.demo.app")
    assert [(r["key"], r["value"]) for r in got] == expected
    assert all(r["error"] is None for r in got)


@pytest.mark.parametrize("klass", [demo_app.Users, demo_app.AuditLog, demo_app.Settings,
                                   demo_app.IndexUsersByName])
def test_without_import_cbor_json_index_equal(demo_db, klass):
    """CBOR/JSON tables store marshal() output, so built-in decoding gives the same values."""
    expected = _app_records(demo_db, klass, 20)
    got = _dump(demo_db, klass.__name__)
    assert [(r["key"], r["value"]) for r in got] == expected


def test_flatbuffers_with_schema_and_without(demo_db):
    expected = _app_records(demo_db, demo_app.Events, 10)
    typed = _dump(demo_db, "Events", "--fbs", BFBS, n=10)
    for (k, v), r in zip(expected, typed):
        assert r["key"] == k
        assert r["decoder"].endswith("flatbuffers:Event")
        assert r["value"] == v
    raw = _dump(demo_db, "Events", n=10)
    assert len(raw) == len(expected) == 10
    for (k, v), r in zip(expected, raw):
        assert r["key"] == k
        assert r["decoder"].endswith("|flatbuffers")
        assert r["value"]["field0"] == v["timestamp"] and r["value"]["field2"] == v["topic"]
    sessions = _dump(demo_db, "Sessions", "--fbs", BFBS, "--fbs-type", "Sessions=Session", n=5)
    exp = _app_records(demo_db, demo_app.Sessions, 5)
    assert len(sessions) == len(exp) == 5
    for (k, v), r in zip(exp, sessions):
        assert r["key"] == k
        assert r["value"]["realm"] == v["realm"] and r["value"]["session"] == v["session"]
