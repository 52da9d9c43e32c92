"""Odd and hostile inputs: a report or one error line, never a crash, a hang or a write."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import time
import uuid

import pytest
import zlmdb
from conftest import SUPPORT, build_orm_db, listing, raw_env, run_cli, sha
from textual.widgets import Static

from zlmdb_inspect.tui.settle import settle

LIMIT_S = 10


def _timed(*args):
    t0 = time.monotonic()
    r = run_cli(*args, timeout=LIMIT_S + 20)
    took = time.monotonic() - t0
    assert took < LIMIT_S, f"{args} took {took:.1f} s"
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode >= 0, f"killed by signal {-r.returncode}"
    if r.returncode == 3:
        assert len(r.stderr.strip().splitlines()) == 1
    return r


def _all_modes(path, table="1"):
    before_sha = sha(path) if os.path.exists(os.path.join(path, "data.mdb")) else None
    before = listing(path)
    out = {}
    for mode in (["--json"], ["--check"], ["--dump", table], ["--prometheus"], ["--check", "--verify"]):
        out[mode[0] + (mode[1] if len(mode) > 1 and mode[1].startswith("--") else "")] = _timed(path, *mode)
    assert listing(path) == before
    if before_sha:
        assert sha(path) == before_sha
    return out


def test_lock_file_of_garbage(tmp_path):
    path = str(tmp_path / "db")
    build_orm_db(path, "1.0", n=50)
    with open(os.path.join(path, "lock.mdb"), "wb") as f:
        f.write(os.urandom(8192))
    lock_before = open(os.path.join(path, "lock.mdb"), "rb").read()
    res = _all_modes(path)
    assert res["--json"].returncode == 0  # nobody holds it: not used at all
    assert open(os.path.join(path, "lock.mdb"), "rb").read() == lock_before


def test_no_lock_file_is_not_created(tmp_path):
    path = str(tmp_path / "db")
    build_orm_db(path, "0.9", n=50)
    os.remove(os.path.join(path, "lock.mdb"))
    res = _all_modes(path)
    assert res["--json"].returncode == 0
    assert not os.path.exists(os.path.join(path, "lock.mdb"))


def test_bad_content(tmp_path, fmt):
    path = str(tmp_path / "bad")
    env = raw_env(path, fmt)
    with env.begin(write=True) as txn:
        txn.put(b"\0", b"slot-0 key too short to carry a slot")
        txn.put(b"\0\0\0", b"three-byte metadata key")
        txn.put(b"\0\0\0\x01", b"\xa3coidx$not-a-uuid-at-all-really-no!!dnameaTdslot\x01")
        txn.put(b"\0\0\0\x02", b"\x9f\x01\x02")  # truncated indefinite CBOR array
        txn.put(b"\0\x01\xff\xfe\xfd", b"\xa1")  # key not UTF-8, truncated CBOR value
        txn.put(b"\0\x02" + bytes(16), b"\x01\x02\x03\x04\x05")  # uuid key, 5-byte value
    env.close()
    res = _all_modes(path)
    doc = json.loads(res["--json"].stdout)
    assert sum(1 for p in doc["problems"] if p["kind"] == "bad-metadata") == 3
    assert doc["short_key_records"] == 1
    for table in ("1", "2"):
        r = _timed(path, "--dump", table)
        assert r.returncode == 0
        recs = [json.loads(line) for line in r.stdout.splitlines()]
        assert len(recs) == 1 and recs[0]["decoder"]


def test_wrong_length_values_under_import(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", SUPPORT)
    sys.path.insert(0, SUPPORT)
    import app_tables as app

    path = str(tmp_path / "wrong")
    db = zlmdb.Database(dbpath=path, maxsize=16 * 1024 * 1024)
    byname = db.attach_table(app.ByName)
    with db.begin(write=True) as txn:
        byname[txn, "good"] = uuid.uuid4()
        txn._txn.put(struct.pack(">H", byname._slot) + b"short", b"\x01\x02\x03")
    db.__exit__(None, None, None)
    r = _timed(path, "--dump", "ByName", "--import", "app_tables")
    recs = {json.loads(line)["key"]: json.loads(line) for line in r.stdout.splitlines()}
    assert recs["good"]["error"] is None
    assert recs["short"]["error"].startswith("value:") and recs["short"]["fallback"] is not None


def test_huge_value_preview_is_bounded(tmp_path):
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service
    from zlmdb_inspect.tables.records import PREVIEW_BYTES

    path = str(tmp_path / "huge")
    env = raw_env(path, "1.0", map_size=128 * 1024 * 1024)
    blob = os.urandom(40 * 1024 * 1024)
    with env.begin(write=True) as txn:
        txn.put(b"\0\x01" + struct.pack(">Q", 1), blob)
    env.close()
    svc = Service(Options(path=path))
    try:
        snap = svc.snapshot()
        t = svc.resolve_table(snap, "1")
        page = svc.read_window(t, None, "first", 10)
        rec = page.records[0]
        assert rec.truncated and rec.size == len(blob) and len(rec.raw_value) == PREVIEW_BYTES
        full = svc.read_record(t, rec.raw_key, preview=None)
        assert full.size == len(blob) and not full.truncated
    finally:
        svc.close()
    r = _timed(path, "--dump", "1")
    assert len(json.loads(r.stdout)["value"]) == 4 + 2 * len(blob)  # "hex:" + every byte

    from zlmdb_inspect.tui.app import create_app
    from zlmdb_inspect.tui.screens.records import TableScreen

    app = create_app(Service(Options(path=path)), clock_fn=lambda t: "12:00:00")
    async def drive():
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await app.workers.wait_for_complete()
            await pilot.press("enter")
            await settle(pilot)
            # over 16 MiB: a preview until m asks for all of it (smaller values are decoded at once)
            assert isinstance(app.screen, TableScreen) and app.screen.detail.truncated
            t0 = time.monotonic()
            await pilot.press("m")
            await settle(pilot)
            assert time.monotonic() - t0 < 5
            assert len(app.screen.detail.raw_value) == len(blob) and not app.screen.detail.truncated

    import asyncio

    asyncio.run(drive())


def _can_unshare() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="no private mount namespace here (needs root and unshare)")
def test_read_only_file_system(tmp_path, fmt):
    src = str(tmp_path / "src")
    build_orm_db(src, fmt, n=40)
    mnt = tmp_path / "ro"
    mnt.mkdir()
    script = (f"set -e; mount -t tmpfs tmpfs {mnt}; cp -a {src} {mnt}/db; mount -o remount,ro {mnt}; "
              f"{sys.executable} -m zlmdb_inspect {mnt}/db --json")
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert {t["name"] for t in doc["tables"]} >= {"TUsers"}


def _as_nobody() -> list[str] | None:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return None
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", "import zlmdb_inspect"]
    ok = subprocess.run(cmd, capture_output=True).returncode == 0
    return cmd[:4] if ok else None


def test_no_permission(tmp_path):
    prefix = _as_nobody()
    if prefix is None:
        pytest.skip("cannot run as an unprivileged user here")
    import pathlib
    import tempfile

    top = pathlib.Path(tempfile.mkdtemp(dir="/tmp", prefix="zlmdb-inspect-perm-"))
    try:
        os.chmod(top, 0o755)
        path = top / "perm"
        build_orm_db(str(path), "1.0", n=10)
        os.chmod(path, 0o755)
        os.chmod(path / "data.mdb", 0o600)
        r = subprocess.run(prefix + [sys.executable, "-m", "zlmdb_inspect", str(path), "--json"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 3 and r.stderr == f"zlmdb-inspect: error: {path}/data.mdb: permission denied\n"
        os.chmod(path, 0o700)
        r = subprocess.run(prefix + [sys.executable, "-m", "zlmdb_inspect", str(path), "--check"],
                           capture_output=True, text=True, timeout=30)
        why = f"{path}: permission denied (the directory cannot be searched)"
        assert r.returncode == 3 and r.stderr == f"zlmdb-inspect: error: {why}\n", r.stderr
        assert r.stdout == f"ZLMDB UNKNOWN - {why}\n", r.stdout
    finally:
        shutil.rmtree(top, ignore_errors=True)


async def test_tui_says_damaged_before_browsing(tmp_path):
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service
    from zlmdb_inspect.tui.app import create_app

    path = str(tmp_path / "dmg")
    build_orm_db(path, "1.0", n=2000)
    data = os.path.join(path, "data.mdb")
    raw = bytearray(open(data, "rb").read())
    for pg in range(2, len(raw) // 4096):  # scribble over every branch page header
        if struct.unpack_from("<H", raw, pg * 4096 + 18)[0] & 1:
            raw[pg * 4096:pg * 4096 + 8] = b"\xff" * 8
    open(data, "wb").write(bytes(raw))
    app = create_app(Service(Options(path=path)), clock_fn=lambda t: "12:00:00")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.damaged
        assert "DAMAGED" in str(app.screen.query_one("#title", Static).render())
        await pilot.press("enter")
        await settle(pilot)
        from zlmdb_inspect.tui.screens.overview import Overview

        assert isinstance(app.screen, Overview)  # no browsing of a damaged tree


def _corpus(tmp_path) -> dict[str, str]:
    """Odd but openable databases, for the TUI."""
    out = {}
    p = str(tmp_path / "bad-content")
    env = raw_env(p, "1.0")
    with env.begin(write=True) as txn:
        txn.put(b"\0", b"short")
        txn.put(b"\0\0\0\x01", b"\xff not cbor")
        txn.put(b"\0\x01\xff\xfe", b"\xa1")
    env.close()
    out["bad-content"] = p
    p = str(tmp_path / "named")
    env = raw_env(p, "0.9", max_dbs=2)
    db = env.open_db(b"sub")
    with env.begin(write=True) as txn:
        txn.put(b"k", b"v", db=db)
    env.close()
    out["named-0.9"] = p
    p = str(tmp_path / "no-lock")
    build_orm_db(p, "1.0", n=30)
    os.remove(os.path.join(p, "lock.mdb"))
    out["no-lock"] = p
    p = str(tmp_path / "empty-env")
    env = raw_env(p, "1.0")
    env.close()
    out["empty-env"] = p
    return out


async def test_tui_on_odd_databases(tmp_path):
    from textual.widgets import DataTable

    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service
    from zlmdb_inspect.tui.app import create_app
    from zlmdb_inspect.tui.screens.overview import Overview

    for name, path in _corpus(tmp_path).items():
        before, files = sha(path), listing(path)
        app = create_app(Service(Options(path=path)), clock_fn=lambda t: "12:00:00")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            ov = app.screen
            assert isinstance(ov, Overview) and ov.failures == [], name
            assert ov.refresh_data is not None, name
            rows = ov.query_one("#tables-table", DataTable).row_count
            if rows:
                await pilot.press("enter")
                await settle(pilot)
                await pilot.press("G", "x", "escape")
                await settle(pilot)
            for tab in "12345":
                await pilot.press(tab)
            await pilot.press("q")
        assert sha(path) == before and listing(path) == files, name
