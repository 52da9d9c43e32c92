"""Several databases on one real small volume share its free bytes (issue 29 item 1): the fleet
report and the Databases screen say so once instead of giving each database the same free bytes,
grade the volume when together they outgrow it, and say the disk, not the map, stopped a writer."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import open_db, run_cli, sha
from textual.app import App
from textual.widgets import DataTable, Static

from zlmdb_inspect.service.fleet import Fleet
from zlmdb_inspect.tui.screens.databases import DatabasesScreen
from zlmdb_inspect.tui.settle import settle

# a 1 GiB map (the disk, not the map, is the limit) written with `mib` MiB of 3000-byte values
BUILD = r"""
import struct, sys
from zlmdb import lmdb
path, fmt, mib = sys.argv[1], sys.argv[2], float(sys.argv[3])
env = lmdb.open(path, map_size=1 << 30, lib_version=0 if fmt == "0.9" else 1)
for start in range(0, int(mib * 1024 * 1024 / 3000), 64):
    with env.begin(write=True) as t:
        for i in range(start, start + 64):
            t.put(struct.pack(">HI", 1, i), bytes([i % 251]) * 3000)
env.close()
"""

# writes until the volume's free bytes fall below `stop` bytes, or until LMDB fails (exit 17)
FILL = r"""
import os, struct, sys
from zlmdb import lmdb
path, fmt, stop = sys.argv[1], sys.argv[2], int(sys.argv[3])
env = lmdb.open(path, map_size=1 << 30, lib_version=0 if fmt == "0.9" else 1)
i = 1 << 24
try:
    while True:
        st = os.statvfs(path)
        if st.f_bavail * st.f_frsize < stop:
            break
        with env.begin(write=True) as t:
            for _ in range(16):
                t.put(struct.pack(">HI", 1, i), bytes([i % 251]) * 3000)
                i += 1
except Exception as e:  # noqa: BLE001 - what LMDB says when the volume is full
    print(type(e).__name__, e, flush=True)
    sys.exit(17)
env.close()
"""


def _mount(tmp_path, size: str) -> str:
    mnt = tmp_path / "vol"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        why = f"cannot mount a tmpfs here: {r.stderr.strip() or r.returncode}"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return str(mnt)


@pytest.fixture
def volume(tmp_path):
    """A 24 MiB tmpfs mounted for the test (root); skipped with the reason where it cannot mount."""
    mnt = _mount(tmp_path, "24m")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", mnt], check=False)


def _build(vol: str, fmt: str, names: tuple[str, ...] = ("a", "b", "c"), mib: float = 3.5) -> list[str]:
    paths = []
    for name in names:
        p = os.path.join(vol, name)
        os.mkdir(p)
        subprocess.run([sys.executable, "-c", BUILD, p, fmt, str(mib)], check=True, timeout=60)
        paths.append(p)
    return paths


def _free(vol: str) -> int:
    st = os.statvfs(vol)
    return st.f_bavail * st.f_frsize


STRICT = ("--threshold", "disk_used_critical_pct=99.9", "--threshold", "disk_used_warning_pct=99.9")


@pytest.mark.parametrize("fmt", ["1.0", "0.9"])
def test_fleet_report_says_the_free_bytes_once(volume, fmt):
    paths = _build(volume, fmt)
    before = {p: sha(p) for p in paths}
    r = run_cli(*paths, "--check", "--no-state")
    lines = r.stdout.splitlines()
    for p in paths:
        line = next(x for x in lines if x.startswith("ZLMDB ") and f" - {p}:" in x)
        assert f"limit: the disk — shares {volume} (" in line and " free) with 2 other databases;" in line, line
        assert f"free on {volume}" not in line, line  # not this database's own free bytes
    assert "shared volume" not in lines[0], lines[0]  # nothing outgrows it: no volume finding
    assert not any(x.startswith("ZLMDB ") and " - volume " in x for x in lines), r.stdout

    doc = json.loads(run_cli(*paths, "--json", "--no-state").stdout)
    [vol] = doc["volumes"]
    assert vol["mount"] == volume and vol["paths"] == paths and vol["limits"] is True
    assert vol["device"] == os.stat(volume).st_dev
    assert abs(vol["free_bytes"] - _free(volume)) <= 64 * 1024
    assert vol["need_bytes"] <= vol["free_bytes"] and vol["findings"] == []
    for d in doc["databases"]:
        others = [p for p in paths if p != d["path"]]
        assert d["volume"]["shared_with"] == others and d["volume"]["mount"] == volume
        assert d["volume"]["text"].startswith(f"shares {volume} (") and d["volume"]["free_bytes"] == vol["free_bytes"]
    assert {p: sha(p) for p in paths} == before


@pytest.mark.parametrize("fmt", ["1.0", "0.9"])
def test_together_they_outgrow_the_volume(volume, fmt):
    """Each alone has room for one commit (about 1 MiB); the three together do not."""
    paths = _build(volume, fmt)
    grow = subprocess.run([sys.executable, "-c", FILL, paths[2], fmt, str(int(2.4 * (1 << 20)))],
                          capture_output=True, text=True, timeout=120)
    assert grow.returncode == 0, grow.stdout + grow.stderr
    free = _free(volume)
    assert 1 << 20 < free < 3 << 20, free
    before = {p: sha(p) for p in paths}
    r = run_cli(*paths, "--check", "--no-state", *STRICT)
    lines = r.stdout.splitlines()
    assert r.returncode == 2, r.stdout + r.stderr
    assert lines[0].startswith("ZLMDB CRITICAL - 3 databases: 0 critical, ") and "1 shared volume critical" in lines[0]
    for p in paths:  # alone, none is critical
        line = next(x for x in lines if x.startswith("ZLMDB ") and f" - {p}:" in x)
        assert not line.startswith("ZLMDB CRITICAL"), line
    i = next(i for i, x in enumerate(lines) if x.startswith(f"ZLMDB CRITICAL - volume {volume}: 3 databases share"))
    assert lines[i + 1].startswith(f"  CRITICAL: [disk-headroom] 3 databases on {volume} together outgrow it"), lines
    assert "MDB_SHORT_WRITE" in lines[i + 1] and "raising map_size does not help" in lines[i + 1]

    doc = json.loads(run_cli(*paths, "--json", "--no-state", *STRICT).stdout)
    [vol] = doc["volumes"]
    assert doc["status"] == "critical" and all(d["status"] != "critical" for d in doc["databases"])
    [finding] = vol["findings"]
    assert finding["id"] == "disk-headroom" and finding["severity"] == "critical" and finding["subject"] == volume
    assert vol["need_bytes"] > vol["free_bytes"]
    assert {p: sha(p) for p in paths} == before


@pytest.mark.parametrize("fmt", ["1.0", "0.9"])
def test_a_writer_that_died_of_the_full_disk(volume, fmt):
    paths = _build(volume, fmt, ("a", "b"))
    w = subprocess.run([sys.executable, "-c", FILL, paths[1], fmt, "0"], capture_output=True, text=True, timeout=120)
    assert w.returncode != 0, "the writer should fail at the full volume"  # MDB_SHORT_WRITE (17) or SIGBUS
    before = {p: sha(p) for p in paths}
    r = run_cli(*paths, "--check", "--no-state")
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    i = next(i for i, x in enumerate(lines) if x.startswith(f"ZLMDB CRITICAL - {paths[1]}:"))
    assert f"shares {volume} (" in lines[i] and "with 1 other database;" in lines[i]
    msg = next(x for x in lines[i + 1:] if "[disk-headroom]" in x)
    assert msg.startswith("  CRITICAL: [disk-headroom]")
    assert "was stopped by the disk, not the map" in msg and "MDB_SHORT_WRITE" in msg and "SIGBUS" in msg, msg
    assert re.search(r"the last commit \(txnid [\d,]+\) is intact", msg), msg
    assert "Restart the writer once the volume has room" in msg and "raising map_size does not help" in msg
    assert any(x.startswith(f"  CRITICAL: [disk-headroom] 2 databases on {volume} together outgrow it")
               for x in lines), r.stdout
    assert {p: sha(p) for p in paths} == before


class Host(App):
    def __init__(self, fleet: Fleet) -> None:
        super().__init__()
        self.fleet = fleet

    def on_mount(self) -> None:
        self.push_screen(DatabasesScreen(self.fleet, 3600.0, lambda t: "12:00:00"))


async def _screen(paths: list[str], fleet: Fleet) -> tuple[dict[str, str], str, str]:
    app = Host(fleet)
    async with app.run_test(size=(200, 20)) as pilot:
        for _ in range(200):
            await pilot.pause(0.05)
            if all(fleet.last(p) is not None for p in paths):
                break
        await settle(pilot)
        t = app.screen.query_one("#databases-table", DataTable)
        cells = {p: t.get_cell(p, "available").plain for p in paths}
        vol = app.screen.query_one("#volumes", Static)
        shown = str(vol.render()) if vol.display else ""
        title = str(app.screen.query_one("#title", Static).render())
    return cells, shown, title


async def test_databases_screen_says_the_volume_is_shared(volume):
    paths = _build(volume, "1.0")
    before = {p: sha(p) for p in paths}
    fleet = Fleet(paths, open_db)
    try:
        cells, shown, title = await _screen(paths, fleet)
    finally:
        fleet.close()
    short = volume if len(volume) <= 20 else "…" + volume[-19:]
    for p in paths:
        assert cells[p].startswith(f"shares {short} (") and cells[p].endswith(" free) with 2 other databases"), cells
    assert f"{volume[-39:]}: 3 databases share " in shown and "their maps allow " in shown and "CRITICAL" not in shown
    assert "CRITICAL" not in title
    assert {p: sha(p) for p in paths} == before


async def test_databases_screen_grades_a_volume_they_outgrow(volume):
    from zlmdb_inspect.core.options import Thresholds

    paths = _build(volume, "1.0")
    subprocess.run([sys.executable, "-c", FILL, paths[2], "1.0", str(int(2.4 * (1 << 20)))], check=True, timeout=120)
    fleet = Fleet(paths, open_db, thresholds=Thresholds(disk_used_critical_pct=99.9, disk_used_warning_pct=99.9))
    try:
        _, shown, title = await _screen(paths, fleet)
    finally:
        fleet.close()
    assert " CRITICAL " in shown and "together outgrow it" in shown, shown
    assert " CRITICAL " in title, title
