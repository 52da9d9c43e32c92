"""--demo keeps a writer running in a child process while the TUI is open, and stops it."""

from __future__ import annotations

import time

from zlmdb_inspect import cli
from zlmdb_inspect.demo import build_demo
from zlmdb_inspect.storage.inspector import Inspector


def test_the_demo_writer_runs_beside_the_tui_and_stops(tmp_path):
    path = str(tmp_path / "demo")
    build_demo(path, records=200)
    with Inspector(path) as ins:
        before = ins.snapshot().lmdb.last_txnid
    child = cli._start_demo_writer(path)
    try:
        deadline = time.monotonic() + 30
        with Inspector(path) as ins:
            while ins.snapshot().lmdb.last_txnid <= before + 5 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert ins.snapshot().lmdb.last_txnid > before + 5  # it writes
    finally:
        cli._stop(child)
    assert child.poll() is not None  # and it is gone when the TUI ends
