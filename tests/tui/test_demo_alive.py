"""--demo keeps a writer running in a child process while the TUI is open, and stops it."""

from __future__ import annotations

import time

import pytest

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


def test_the_demo_writer_stops_when_the_tui_is_gone_without_stopping_it(tmp_path):
    """A TUI killed with its terminal (SIGHUP: no ``finally`` runs) leaves its writer behind in its own
    session; the writer sees it has been reparented and stops, rather than growing the demo's map for
    a day."""
    import os
    import subprocess
    import sys

    path = str(tmp_path / "demo")
    build_demo(path, records=200)
    code = ("import sys; from zlmdb_inspect import cli; "
            "print(cli._start_demo_writer(sys.argv[1]).pid, flush=True); import os; os._exit(0)")
    parent = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, timeout=60)
    pid = int(parent.stdout.split()[0])

    def alive() -> bool:
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split(") ")[1][0] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 30
    while alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    gone = not alive()
    if not gone:
        os.kill(pid, 9)
    assert gone, "the demo writer outlived the process that started it"
    assert os.path.exists(os.path.join(path, "data.mdb"))  # a --demo DIR of the user's is never removed


def _orphan_writer(env: dict, own: bool) -> tuple[int, str]:
    """A parent that makes a temporary demo the way ``--demo`` without DIR does, starts its writer
    (naming the directory as its own when ``own``) and dies without a ``finally`` (SIGKILL, or SIGHUP
    when its terminal closes)."""
    import subprocess
    import sys

    code = ("import os, sys, types; from zlmdb_inspect import cli; "
            "path, tmp = cli._prepare_demo(types.SimpleNamespace(demo='', demo_records=200)); "
            f"print(cli._start_demo_writer(path, tmp if {own} else None).pid, path, flush=True); os._exit(0)")
    parent = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    pid, path = parent.stdout.split()
    return int(pid), path


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("own", [True, False], ids=["the-tuis-own", "named-by-the-user"])
def test_a_temporary_demo_goes_with_its_writer_when_the_tui_is_killed(tmp_path, own):
    """``--demo`` without DIR builds its database in a temporary directory that the TUI's ``finally``
    removes; killed with its terminal, the TUI leaves it, so the writer removes it when it stops: only
    a directory its TUI said it made (a ``--demo DIR`` of the same look, given by the user, stays)."""
    import os

    env = {**os.environ, "TMPDIR": str(tmp_path)}
    pid, path = _orphan_writer(env, own)
    tmp = os.path.dirname(path)
    assert os.path.basename(tmp).startswith(cli.DEMO_TMP_PREFIX) and os.path.dirname(tmp) == str(tmp_path)
    deadline = time.monotonic() + 30
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        assert _gone(pid), "the demo writer outlived the process that started it"
        if own:
            assert not os.path.exists(tmp), "the temporary demo outlived the TUI and its writer"
        else:
            assert os.path.exists(os.path.join(path, "data.mdb"))
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
