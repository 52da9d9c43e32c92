"""The inspector against a real Crossbar.io node (``crossbar edge start``, a cfxdb realm store).

Needs Crossbar.io (``pip install '.[crossbar]'`` or ``ZLMDB_INSPECT_CROSSBAR=/venv/bin``); skips without
it, fails without it under ``CI=true``. Deselect with ``-m 'not e2e'``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT as ROOT_DIR
from conftest import cli_json, listing, sha
from crossbar_node import MIB, CrossbarNode
from textual.widgets import DataTable

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import Service
from zlmdb_inspect.tui.app import create_app
from zlmdb_inspect.tui.settle import settle

pytestmark = pytest.mark.e2e

ROOT = Path(ROOT_DIR)
PUBLICATIONS = "cfxdb.realmstore._publication.Publications"
EVENTS = "cfxdb.realmstore._event.Events"
SESSIONS = "cfxdb.realmstore._session.Sessions"
STALL_DEADLINE_S = 40.0  # the issue: writes-stalled within 40 s of the last stored commit
FILL_MAXSIZE = 4 * MIB


@pytest.fixture(scope="module")
def module_node(tmp_path_factory) -> Iterator[CrossbarNode]:
    node = CrossbarNode(tmp_path_factory.mktemp("crossbar"))
    node.start()
    yield node
    node.stop()


@pytest.fixture
def node(module_node: CrossbarNode) -> Iterator[CrossbarNode]:
    """The module's node; the part of its log written during the test is printed (shown on failure)."""
    start = module_node.log.stat().st_size
    yield module_node
    with open(module_node.log, "rb") as f:
        f.seek(start)
        print(f"--- {module_node.log} during this test:\n{f.read()[-6000:].decode(errors='replace')}")


class Watch:
    """``--watch --interval 1`` as a child process; its JSON lines collected by a thread."""

    def __init__(self, path: str, interval: float = 1.0):
        self.proc = subprocess.Popen([sys.executable, "-m", "zlmdb_inspect", path, "--watch", "--interval",
                                      str(interval)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=ROOT)
        self.lines: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))

    def stop(self) -> str:
        """End the watch; its stderr."""
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self._reader.join(timeout=5)
        return err


def test_counts_equal_cfxdb_and_publisher(node: CrossbarNode) -> None:
    base = node.cfxdb_counts()
    tally = node.publish("--count", "2000", "--rate", "500", "--seconds", "40", "--subscribe")
    assert tally["acknowledged"] == 2000 and tally["failed"] == 0 and tally["received"] == 2000, tally
    node.wait_idle()  # the store's buffer flushed, the publisher's sessions stored
    counts = node.cfxdb_counts()
    assert counts["publications"] - base["publications"] == tally["acknowledged"]
    assert counts["events"] - base["events"] == tally["received"]  # one subscriber: one Event per publication

    before = (sha(node.db), listing(node.db), os.stat(os.path.join(node.db, "data.mdb")).st_mtime_ns)
    doc = cli_json(node.db)
    after = (sha(node.db), listing(node.db), os.stat(os.path.join(node.db, "data.mdb")).st_mtime_ns)
    assert after == before  # the node idle and live: nothing but the inspector could have changed it

    records = {t["name"]: t["records"] for t in doc["tables"]}
    assert records[PUBLICATIONS] == counts["publications"]
    assert records[EVENTS] == counts["events"]
    assert records[SESSIONS] == counts["sessions"]
    assert doc["capacity"]["map_size"] == node.maxsize and doc["capacity"]["map_source"] == "writer"
    assert [m["pid"] for m in doc["capacity"]["maps"] if m["writable"]]  # the router worker, found as the writer


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> Iterator[tuple[CrossbarNode, dict, list[dict], float]]:
    """A node whose 4 MiB store was filled to MapFullError while ``--watch`` ran; the publisher's tally,
    the watch lines, and when the watch first saw the last stored commit (``taken_at``).

    The watch runs on until it has seen both ``writes-stalled`` and ``eta.state == "full"`` or until
    STALL_DEADLINE_S after that commit."""
    node = CrossbarNode(tmp_path_factory.mktemp("crossbar-fill"), maxsize=FILL_MAXSIZE)
    node.start()
    watch = Watch(node.db)
    tally: dict = {}
    try:
        tally = node.publish("--fill", node.db, "--payload", "1024", "--rate", "300", "--count", "100000",
                             "--seconds", "60", "--stalled-acks", "600", timeout=120)
        # the last commit: the first line showing the final transaction id (the node stores nothing more)
        while True:
            txnids = [ln["lmdb"]["last_txnid"] for ln in watch.lines]
            last = next(ln for ln in watch.lines if ln["lmdb"]["last_txnid"] == txnids[-1])
            seen = {"stalled": any(_stalled(ln) for ln in watch.lines),
                    "full": any((ln.get("eta") or {}).get("state") == "full" for ln in watch.lines)}
            if all(seen.values()) or watch.lines[-1]["taken_at"] >= last["taken_at"] + STALL_DEADLINE_S + 1:
                break
            if watch.proc.poll() is not None:
                raise RuntimeError(f"--watch ended: {watch.stop()}")
            time.sleep(0.5)
        yield node, tally, list(watch.lines), last["taken_at"]
    finally:
        err = watch.stop()
        if watch.lines:
            ln = watch.lines[-1]
            print(f"tally {tally}; last line: txnid {ln['lmdb']['last_txnid']} capacity {ln['capacity']['used_pct']} % "
                  f"of {ln['capacity']['map_size']}, eta {ln.get('eta')}, warnings {[w['id'] for w in ln['warnings']]}")
        print(f"--watch stderr: {err[-3000:]}\n--- node log:\n{node.log_tail()}")
        node.stop()


def _stalled(line: dict) -> bool:
    return any(w["id"] == "writes-stalled" for w in line["warnings"])


def test_fill_reports_map_full(filled) -> None:
    node, tally, lines, _ = filled
    assert tally["stop"] == "stalled", tally  # acknowledged on and on, nothing committed
    log = node.log.read_text(errors="replace")
    assert "MapFullError" in log  # the store really hit its map
    last = lines[-1]
    cap = last["capacity"]
    assert cap["map_size"] == FILL_MAXSIZE and cap["map_source"] == "writer", cap
    # full: the high-water mark at the map (LMDB failed to extend it). Pages in use were 92.8-96.3 % in
    # runs here: the freed pages LMDB could not reuse for the failing commit still count as available.
    assert cap["used_bytes"] + cap["headroom_bytes"] == FILL_MAXSIZE, cap
    assert cap["headroom_bytes"] <= FILL_MAXSIZE // 20, cap
    assert cap["used_pct"] >= 80 and "map-headroom" in [w["id"] for w in last["warnings"]], (cap, last["warnings"])


def test_fill_writes_stalled_and_full(filled) -> None:
    _, _, lines, last_commit = filled
    stalled = [ln["taken_at"] for ln in lines if _stalled(ln)]
    assert stalled and stalled[0] <= last_commit + STALL_DEADLINE_S, (stalled[:1], last_commit)
    assert lines[-1]["eta"]["state"] == "full", lines[-1]["eta"]


def _screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_descriptions_as_prose(node: CrossbarNode, size) -> None:
    app = create_app(Service(Options(path=node.db)), clock_fn=lambda t: "12:00:00")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        t = app.screen.query_one("#tables-table", DataTable)
        rows = [str(t.get_row_at(i)[1]) for i in range(t.row_count)]
        t.move_cursor(row=rows.index("Publications"))  # its description, wherever the screen shows more of it
        await settle(pilot)
        text = _screen_text(app)
        await pilot.press("q")
    assert "Sessions" in text and "Events" in text, text  # cfxdb's tables are listed
    assert "\\x0a" not in text and "\\x09" not in text and "\\n" not in text, text
    # the docstring's first paragraph (the line under the list wraps it at 80 columns)
    assert "Persisted publications archive." in " ".join(text.split()), text


def _locks(inode: int, pid: int) -> list[tuple[str, str, str]]:
    """(type, start, end) of the POSIX locks ``pid`` holds on the file with this inode."""
    out = []
    with open("/proc/locks") as f:
        for line in f:
            parts = line.split()
            if "->" in parts:  # a waiter: "1: -> POSIX ..."
                continue
            if parts[1] == "POSIX" and int(parts[4]) == pid and parts[5].rsplit(":", 1)[1] == str(inode):
                out.append((parts[3], parts[6], parts[7]))
    return out


def test_watch_holds_lmdb_locks(node: CrossbarNode) -> None:
    inode = os.stat(os.path.join(node.db, "lock.mdb")).st_ino
    watch = Watch(node.db)
    try:
        deadline = time.monotonic() + 15
        held: list[tuple[str, str, str]] = []
        while time.monotonic() < deadline and len(watch.lines) < 3:
            time.sleep(0.2)
        held = _locks(inode, watch.proc.pid)
    finally:
        watch.stop()
    assert len(watch.lines) >= 3  # the watch was running while /proc/locks was read
    writers = [m["pid"] for m in watch.lines[-1]["capacity"]["maps"] if m["writable"]]
    node_locks = _locks(inode, writers[0]) if writers else []
    assert {("READ", "0", "0"), ("WRITE", str(writers[0]), str(writers[0]))} <= set(node_locks)  # parsed right
    pid = str(watch.proc.pid)
    assert ("READ", "0", "0") in held, held  # the shared lock every LMDB process holds on byte 0
    assert ("WRITE", pid, pid) in held, held  # its reader-table lock on the byte at its pid
