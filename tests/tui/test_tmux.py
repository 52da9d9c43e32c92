"""The TUI in a real terminal (tmux) at 80x24 and 160x48: what an operator in an incident must see
is on screen, not cut off (issue 30)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
from conftest import ROOT, sha

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

HOLD_WRITER = ("import sys, time; from zlmdb import lmdb; e = lmdb.open(sys.argv[1], map_size=int(sys.argv[2])); "
               "print('ready', flush=True); time.sleep(120)")
SIZES = [(80, 24), (160, 48)]


class Tmux:
    """One app in its own tmux server (its own socket: nothing else's sessions are touched)."""

    def __init__(self, size: tuple[int, int], *args: str) -> None:
        self.sock = f"zi-test-{os.getpid()}-{size[0]}x{size[1]}"  # one server per size: a closing one is never reused
        env = {k: os.environ[k] for k in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "PYTHONPATH") if k in os.environ}
        cmd = " ".join([sys.executable, "-m", "zlmdb_inspect", *args])
        self._tmux("new-session", "-d", "-s", "t", "-x", str(size[0]), "-y", str(size[1]),
                   *(a for k, v in env.items() for a in ("-e", f"{k}={v}")), "-c", ROOT, cmd)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True, check=True,
                              timeout=20).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t")

    def wait_for(self, text: str, timeout: float = 30) -> str:
        end = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text in shown or time.monotonic() > end:
                return shown
            time.sleep(0.2)

    def keys(self, *keys: str) -> None:
        for k in keys:
            self._tmux("send-keys", "-t", "t", k)
            time.sleep(0.15)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True, timeout=20)


@pytest.fixture
def demo_copy(demo_db, tmp_path) -> str:
    path = str(tmp_path / "demo")
    shutil.copytree(demo_db, path)
    return path


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_writer_pid_and_limit_on_the_first_screen(demo_copy, size, tmp_path):
    writer = subprocess.Popen([sys.executable, "-c", HOLD_WRITER, demo_copy, str(256 * 1024 * 1024)],
                              stdout=subprocess.PIPE, text=True)
    tmux = None
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        tmux = Tmux(size, demo_copy, "--interval", "3600")
        shown = tmux.wait_for(f"pid {writer.pid}")
        capacity = next(line for line in shown.splitlines() if line.startswith(" in use "))
        assert f"of 256.0 MiB (writer pid {writer.pid} " in capacity, shown
    finally:
        if tmux is not None:
            tmux.close()
        writer.kill()
        writer.wait()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_newest_first_in_a_terminal(demo_db, size):
    before = sha(demo_db)
    tmux = Tmux(size, demo_db, "--interval", "3600")
    try:
        tmux.wait_for("Events")
        tmux.keys("Down", "Down", "Down", "Down", "Enter")
        tmux.wait_for("records 1–100 of 1,600")
        tmux.keys("o")
        shown = tmux.wait_for("records 1,501–1,600 of 1,600")
        assert "records 1,501–1,600 of 1,600  ·  newest first" in shown, shown
        title = shown.splitlines()[0]
        assert "newest first up to 2026-" in title, shown
    finally:
        tmux.close()
    assert sha(demo_db) == before


@pytest.fixture(scope="module")
def fleet_root(tmp_path_factory) -> str:
    from zlmdb_inspect.tui.screenshots import build_fleet

    root = str(tmp_path_factory.mktemp("fleet") / "crossbar")
    build_fleet(root)
    return root


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_databases_name_status_worst_warning_and_available_together(fleet_root, size):
    """Issue 30 item 4: each row shows its name, status, worst warning and available on screen at
    once (the worst warning was reached only by scrolling, which hid the names)."""
    import json

    from zlmdb_inspect.core.fmt import fmt_bytes

    realm2 = os.path.join(fleet_root, "realms", "realm2")
    doc = json.loads(subprocess.run([sys.executable, "-m", "zlmdb_inspect", realm2, "--json"], cwd=ROOT,
                                    capture_output=True, text=True, timeout=120).stdout)
    available = fmt_bytes(doc["capacity"]["available_bytes"])
    before = sha(realm2)
    tmux = Tmux(size, fleet_root, "--interval", "3600")
    try:
        shown = tmux.wait_for("map-headroom")
        lines = shown.splitlines()
        header = next(line for line in lines if "Database" in line)
        assert header.index("Database") < header.index("Status") < header.index("Worst warning") \
            < header.index("Available"), shown
        row = next(line for line in lines if line.lstrip().startswith("realms/realm2"))
        assert " WARNING " in row and "map-headroom (+" in row and available in row, shown
        broken = next(line for line in lines if line.lstrip().startswith("cookies"))
        assert " UNKNOWN " in broken and "not an LMDB" in broken, shown
    finally:
        tmux.close()
    assert sha(realm2) == before


def test_every_warnings_practice_line_is_reachable(fleet_root):
    """Issue 30 item 4: at 80x24 the warning detail shows each warning's Practice line (the list takes
    the rows it has, the detail the rest; tests/tui/test_incident_views.py scrolls to it where it cannot)."""
    size = (80, 24)
    realm2 = os.path.join(fleet_root, "realms", "realm2")  # 3 warnings, map-headroom's message the longest
    tmux = Tmux(size, realm2, "--interval", "3600")
    try:
        tmux.wait_for("refreshed")
        tmux.keys("2")
        shown = tmux.wait_for("Warnings (3)")
        rules = ["map-headroom", "orphan-slot", "large-values"]
        for i, rule in enumerate(rules):
            if i:
                tmux.keys("Down")
            shown = tmux.wait_for(f" {rule}  (")
            assert f" {rule}  (" in shown and "Practice: " in shown, shown
    finally:
        tmux.close()
