"""Issue 26: a map written until MapFullError is critical from one snapshot (both formats), and
a live writer whose commits fail is named (writes-stalled) in --watch."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time

import pytest
from conftest import FORMATS, ROOT, SUPPORT, cli_json, raw_env, sha
from zlmdb import lmdb

MiB = 1024 * 1024
GiB = 1024 * MiB
HERE = SUPPORT  # the helper processes


def fill(path: str, fmt: str, map_size: int, per_commit: int) -> int:
    """Commit ``per_commit`` records at a time until LMDB raises MapFullError; values scale with the
    map (2000 of them fill it), so the 1 GiB case writes few large values."""
    env = raw_env(path, fmt, map_size=map_size, sync=False)
    value = b"v" * max(100, map_size // 2000)
    i = 0
    try:
        while True:
            with env.begin(write=True) as txn:
                for _ in range(per_commit):
                    txn.put(struct.pack(">HI", 1, i), value)
                    i += 1
    except lmdb.MapFullError:
        pass
    finally:
        env.sync(True)
        env.close()
    return i


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("map_size", [2 * MiB, 64 * MiB, GiB], ids=["2MiB", "64MiB", "1GiB"])
@pytest.mark.parametrize("per_commit", [1, 100])
def test_a_map_written_until_mapfullerror_is_critical(tmp_path, fmt, map_size, per_commit):
    path = str(tmp_path / "full")
    fill(path, fmt, map_size, per_commit)
    before = sha(path)
    doc = cli_json(path)
    head = [w for w in doc["warnings"] if w["id"] == "map-headroom"]
    assert head and head[0]["severity"] == "critical", (doc["capacity"]["used_pct"], head)
    assert doc["status"] == "critical" and sha(path) == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_forty_percent_reusable_after_deletes_is_not_critical(tmp_path, fmt):
    path = str(tmp_path / "deleted")
    fill(path, fmt, 2 * MiB, 20)
    env = raw_env(path, fmt, map_size=2 * MiB)
    with env.begin(write=True) as txn:
        keys = [k for k, _ in txn.cursor()]
        for k in keys[: int(len(keys) * 0.45)]:
            txn.delete(k)
    for _ in range(2):  # the deleting transaction's pages become reusable
        with env.begin(write=True) as txn:
            txn.put(b"\0\x02x", b"y")
    env.close()
    doc = cli_json(path)
    cap = doc["capacity"]
    assert cap["reusable_pages"] * 4096 >= 0.4 * cap["used_bytes"]
    assert cap["headroom_bytes"] < 64 * 1024  # at its high-water mark
    assert all(w["severity"] != "critical" for w in doc["warnings"] if w["id"] == "map-headroom"), doc["warnings"]


def test_watch_follows_a_writer_that_grows_stops_and_fills_its_map(tmp_path):
    """--watch: growing, then idle within the stall limit after the writer stops, then full; and
    writes-stalled within 40 s of MapFullError while the writer stays alive and retries."""
    path = str(tmp_path / "stall")
    env = raw_env(path, "1.0", map_size=4 * MiB)
    with env.begin(write=True) as txn:
        txn.put(b"\0\x01seed", b"x")
    env.close()
    writer = subprocess.Popen([sys.executable, os.path.join(HERE, "stall_writer.py"), path, "1.0", str(4 * MiB)],
                              stdout=subprocess.PIPE, text=True)
    watch = subprocess.Popen([sys.executable, "-m", "zlmdb_inspect", path, "--watch", "--interval", "1",
                              "--threshold", "eta_min_window_s=8"],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT)
    states: list[tuple[float, str, list[str]]] = []
    events: dict[str, float] = {}
    try:
        os.set_blocking(writer.stdout.fileno(), False)
        deadline = time.time() + 75
        while time.time() < deadline:
            line = watch.stdout.readline()
            doc = json.loads(line)
            states.append((time.time(), doc["eta"]["state"], [w["id"] for w in doc["warnings"]]))
            for out in (writer.stdout.readline() or "").split("\n"):
                if out:
                    events.setdefault(out.split()[0], time.time())
            if "writes-stalled" in states[-1][2]:
                break
    finally:
        watch.kill()
        writer.kill()
        watch.wait()
        writer.wait()
    seen = [s for _, s, _ in states]
    assert "growing" in seen[: len(seen) // 2], seen
    pause, mapfull = events["pause"], events["mapfull"]
    idle_at = [t for t, s, _ in states if pause < t and s in ("idle", "not growing")]
    assert idle_at and idle_at[0] - pause <= 8 + 3, seen  # the stall limit: max(F = 8 s, 3 gaps of 1 s)
    full_at = [t for t, s, _ in states if t >= mapfull and s == "full"]
    assert full_at, seen
    stalled = [t for t, _, ids in states if "writes-stalled" in ids]
    assert stalled and stalled[0] - mapfull <= 40, (stalled, mapfull)
    assert not any("writes-stalled" in ids for t, _, ids in states if t < mapfull)  # not while merely idle
