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
from conftest import FORMATS, cli_json, raw_env, sha

MiB = 1024 * 1024
GiB = 1024 * MiB
HERE = os.path.dirname(__file__)


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
    except Exception as e:  # zlmdb's lmdb raises MapFullError
        assert type(e).__name__ == "MapFullError", e
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
