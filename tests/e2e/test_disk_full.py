"""A real small volume filled by a real writer with a 1 GiB map until it fails: the inspector names
the disk as the limit and goes critical (issue 29 item 1), without touching data.mdb."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import FORMATS, run_cli, sha

WRITER = r"""
import struct, sys
from zlmdb import lmdb
path, fmt = sys.argv[1], sys.argv[2]
env = lmdb.open(path, map_size=1 << 30, lib_version=0 if fmt == "0.9" else 1)
i = 0
try:
    while True:
        with env.begin(write=True) as t:
            for _ in range(64):
                t.put(struct.pack(">HI", 1, i), bytes([i % 251]) * 3000)
                i += 1
except Exception as e:  # noqa: BLE001 - what LMDB says when the volume is full
    print(type(e).__name__, e, i, flush=True)
    sys.exit(17)
"""


@pytest.fixture
def small_volume(tmp_path):
    """A 40 MiB tmpfs mounted for the test (root); skipped with the reason where it cannot mount."""
    mnt = tmp_path / "vol"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        why = f"cannot mount a tmpfs here: {r.stderr.strip() or r.returncode}"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    try:
        yield str(mnt)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.parametrize("fmt", FORMATS)
def test_writer_fills_the_volume_and_check_names_the_disk(small_volume, fmt):
    path = os.path.join(small_volume, "db")
    os.mkdir(path)
    w = subprocess.run([sys.executable, "-c", WRITER, path, fmt], capture_output=True, text=True, timeout=120)
    assert w.returncode != 0, "the writer should fail at the full volume"  # exception (17) or SIGBUS
    before = sha(path)

    r = run_cli(path, "--check", "--no-state")
    assert r.returncode == 2, r.stdout + r.stderr
    head = r.stdout.splitlines()[0]
    assert head.startswith("ZLMDB CRITICAL"), head
    assert "limit: the disk — " in head and f"free on {small_volume}" in head, head
    assert "fs_free_bytes=" in head and "largest_free_run_pages=" in head
    assert any(line.startswith("CRITICAL: [disk-headroom]") for line in r.stdout.splitlines()), r.stdout
    assert sha(path) == before

    doc = json.loads(run_cli(path, "--json", "--no-state").stdout)
    cap = doc["capacity"]
    st = os.statvfs(small_volume)
    assert cap["limit"] == "disk"
    assert cap["filesystem"]["mount"] == small_volume
    assert cap["filesystem"]["size_bytes"] == st.f_blocks * st.f_frsize
    assert abs(cap["filesystem"]["free_bytes"] - st.f_bavail * st.f_frsize) <= 64 * 1024
    assert cap["filesystem"]["free_bytes"] < 1 << 20  # the writer used the volume up
    # the map alone would allow most of 1 GiB; the disk allows its free bytes + reusable + blocks above the mark
    assert cap["map_available_bytes"] > 900 << 20
    assert cap["available_bytes"] == cap["disk_available_bytes"] < 4 << 20
    assert sha(path) == before

    prom = run_cli(path, "--prometheus", "--no-state").stdout
    assert f'zlmdb_filesystem_free_bytes{{mount="{small_volume}"' in prom
    assert "zlmdb_limit_disk{" in prom and prom.split("zlmdb_limit_disk{")[1].split("}")[1].split()[0] == "1.0"
    assert sha(path) == before
