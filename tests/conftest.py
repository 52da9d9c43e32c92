"""Databases the tests build for themselves, with zlmdb's ORM and raw LMDB puts."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import uuid

import pytest
import txaio
import zlmdb
from zlmdb import lmdb

txaio.use_asyncio()

FORMATS = ["1.0", "0.9"]
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS_DIR)
# builders, the applications' modules (--import cfxdb_app), helper processes
SUPPORT = os.path.join(TESTS_DIR, "support")
sys.path.insert(0, SUPPORT)
# ROOT too: a CLI started in a child process (from any directory) runs the code under test, the working
# tree or mutmut's copy, never an installed copy
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SUPPORT, ROOT, os.environ.get("PYTHONPATH")) if p)
# the CLI keeps state between runs by default (service/state.py): never in the user's own state directory
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="zlmdb-inspect-tests-state-")
atexit.register(shutil.rmtree, os.environ["XDG_STATE_HOME"], True)  # this process's: gone with it

# the tables, from a module imported once per process (pytest re-imports conftest on each session)
from orm_tables import TIdxNames, TPairs, TPickles, TUsers  # noqa: E402

__all__ = ["TIdxNames", "TPairs", "TPickles", "TUsers"]


def open_db(path: str):
    """The service of one database, as the CLI builds it."""
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import open_service

    return open_service(Options(path=path))


def screen_text(app) -> str:
    """What the app's current screen shows, as plain lines."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@contextlib.contextmanager
def fixed_path(path: str):
    """Hold a fixed path (snapshot tests need one: it is drawn on screen) for one test module.

    Test runs of other checkouts on the same machine use the same path: they wait here
    instead of rebuilding the database under a running test.
    """
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield path


@contextlib.contextmanager
def fixed_demo(path: str, records: int = 300):
    """The demo database built afresh at a fixed path (held as :func:`fixed_path` holds it), removed after."""
    from zlmdb_inspect.demo import build_demo

    with fixed_path(path):
        shutil.rmtree(path, ignore_errors=True)
        build_demo(path, records=records)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


def space_key(snap) -> list[tuple]:
    """What a walk says of each table: records, pages, overflow pages and bytes, largest value."""
    return [(t.slot, t.records, round(t.pages, 6), t.overflow_pages, t.overflow_bytes, t.max_value)
            for t in snap.tables]


def sha(path: str) -> str:
    with open(os.path.join(path, "data.mdb"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def listing(path: str) -> list[str]:
    out = []
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            out.append(os.path.relpath(os.path.join(root, n), path))
    return sorted(out)


def build_orm_db(path: str, fmt: str, n: int = 300, map_size: int = 64 * 1024 * 1024) -> dict[str, int]:
    """A database with several tables; returns zlmdb's own count per table name."""
    db = zlmdb.Database(dbpath=path, maxsize=map_size, lib_version=fmt)
    users = db.attach_table(TUsers)
    idx = db.attach_table(TIdxNames)
    users.attach_index("idx", idx, lambda u: u["name"])
    pairs = db.attach_table(TPairs)
    with db.begin(write=True) as txn:
        for i in range(n):
            oid = uuid.UUID(int=i + 1)
            users[txn, oid] = {"oid": str(oid), "name": f"u{i:05d}", "pad": "x" * (i % 50)}
            pairs[txn, (oid, uuid.UUID(int=10_000 + i))] = {"i": i}
        txn._txn.put(struct.pack(">H", 77) + b"orphan-1", b"v1")  # a slot without metadata
        txn._txn.put(struct.pack(">H", 77) + b"orphan-2", b"v2")
    counts = {}
    with db.begin() as txn:
        for name, t in (("TUsers", users), ("TIdxNames", idx), ("TPairs", pairs)):
            counts[name] = t.count(txn)
        counts["slot77"] = zlmdb.PersistentMap(77).count(txn)
    db.__exit__(None, None, None)
    return counts


@pytest.fixture(params=FORMATS)
def fmt(request) -> str:
    return request.param


@pytest.fixture
def orm_db(tmp_path, fmt):
    path = str(tmp_path / f"db-{fmt}")
    counts = build_orm_db(path, fmt)
    return path, counts


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> str:
    from zlmdb_inspect.demo import build_demo

    path = str(tmp_path_factory.mktemp("demo") / "demo")
    build_demo(path, records=400)
    return path


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zlmdb_inspect", *args], capture_output=True,
                          text=True, timeout=timeout)


def cli_json(*args: str) -> dict:
    r = run_cli(*args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def drop_cache(data: str) -> None:
    """This file's pages out of the page cache (those no mapping holds): a cold file."""
    fd = os.open(data, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def raw_env(path: str, fmt: str, map_size: int = 16 * 1024 * 1024, **kw):
    return lmdb.open(path, map_size=map_size, lib_version=0 if fmt == "0.9" else 1, **kw)


def put_random(path: str, n: int, seed: int, commits: int = 1, pad: int = 0) -> None:
    """``commits`` write transactions of ``n`` records each (LMDB 1.0) under random 14-byte keys of slots
    1-3 (``pad`` bytes more), 40-byte values: the walk's incremental and state tests' shape."""
    import random

    rnd = random.Random(seed)
    env = raw_env(path, "1.0", map_size=256 * 1024 * 1024)
    for _ in range(commits):
        with env.begin(write=True) as txn:
            for _ in range(n):
                txn.put(struct.pack(">H", rnd.choice((1, 2, 3))) + rnd.randbytes(12) + b"k" * pad, b"v" * 40)
    env.close()


async def open_table(app, pilot, name: str):
    """From the overview, open the table whose (bare class) name is ``name``; the records screen, settled."""
    from textual.widgets import DataTable

    from zlmdb_inspect.tui.screens.records import TableScreen
    from zlmdb_inspect.tui.settle import settle

    await settle(pilot)
    t = app.screen.query_one("#tables-table", DataTable)
    names = [str(t.get_row_at(i)[1]) for i in range(t.row_count)]
    t.move_cursor(row=next(i for i, n in enumerate(names) if n.rsplit(".", 1)[-1] == name))
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, TableScreen)
    return app.screen
