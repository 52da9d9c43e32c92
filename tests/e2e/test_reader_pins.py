"""What each reader pins and what ending it releases (issue 29 item 3), with readers held in child
processes and ended, against the reusable pages measured before and after."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys

import pytest
from conftest import raw_env, run_cli, sha
from prometheus_client.parser import text_string_to_metric_families
from support.procs import Holder

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import Service

MiB = 1024 * 1024
N = 3000

_UPDATE = ("import sys, struct; from zlmdb import lmdb\n"
           "e = lmdb.open(sys.argv[1], map_size=256 << 20, lib_version=int(sys.argv[3]))\n"
           "for r in range(int(sys.argv[2])):\n"
           "    with e.begin(write=True) as t:\n"
           f"        [t.put(struct.pack('>HI', 1, i), bytes([r % 250]) * 400) for i in range({N})]\n")


def _rewrite(path: str, fmt: str, rounds: int) -> None:
    subprocess.run([sys.executable, "-c", _UPDATE, path, str(rounds), "0" if fmt == "0.9" else "1"], check=True)


def _snap(path: str):
    svc = Service(Options(path=path))
    try:
        return svc.refresh(live=True).snapshot
    finally:
        svc.close()


def _reader(snap, pid: int):
    (r,) = [r for r in snap.readers if r.pid == pid]
    return r


@pytest.mark.parametrize("fmt", ["1.0", "0.9"])
def test_ending_the_oldest_reader_releases_what_it_said(tmp_path, fmt):
    path = str(tmp_path / "pins")
    env = raw_env(path, fmt, map_size=256 * MiB)
    with env.begin(write=True) as txn:
        for i in range(N):
            txn.put(struct.pack(">HI", 1, i), b"a" * 400)
    env.close()
    with Holder(path, "pin") as old, Holder(path, "read"):
        _rewrite(path, fmt, 2)
        with Holder(path, "pin") as young:
            _rewrite(path, fmt, 2)
            before = _snap(path)
            psize = before.lmdb.page_size
            ro, ry = _reader(before, old.pid), _reader(before, young.pid)
            assert ro.txnid < ry.txnid
            # the oldest pins what its figure in capacity says; the younger pins less, releases nothing
            assert ro.pins_bytes == before.capacity.pinned_pages * psize > 0
            assert 0 < ry.pins_bytes < ro.pins_bytes and ry.releases_bytes == 0
            assert 0 < ro.releases_bytes < ro.pins_bytes
            out = run_cli(path, "--prometheus")
            pins = {int(s.labels["pid"]): s.value for f in text_string_to_metric_families(out.stdout)
                    if f.name == "zlmdb_reader_pins_bytes" for s in f.samples}
            assert pins[old.pid] == ro.pins_bytes and pins[young.pid] == ry.pins_bytes
            doc = json.loads(run_cli(path, "--json").stdout)
            by_pid = {r["pid"]: r for r in doc["readers"]}
            assert by_pid[old.pid]["releases_bytes"] == ro.releases_bytes
            old.close()
            after = _snap(path)
            gained = (after.capacity.reusable_pages - before.capacity.reusable_pages) * psize
            assert abs(gained - ro.releases_bytes) <= 2 * psize, (gained, ro.releases_bytes)
            ry2 = _reader(after, young.pid)
            assert ry2.releases_bytes == ry2.pins_bytes == ry.pins_bytes  # now the oldest: all it pins
            young.close()
            last = _snap(path)
            gained = (last.capacity.reusable_pages - after.capacity.reusable_pages) * psize
            assert abs(gained - ry2.releases_bytes) <= 2 * psize, (gained, ry2.releases_bytes)
            assert not any(r.pins_bytes for r in last.readers)


def test_a_dead_slot_releases_when_cleared_and_idle_slots_pin_nothing(tmp_path):
    path = str(tmp_path / "dead")
    env = raw_env(path, "1.0", map_size=256 * MiB)
    with env.begin(write=True) as txn:
        for i in range(N):
            txn.put(struct.pack(">HI", 1, i), b"a" * 400)
    env.close()
    with Holder(path, "read") as keep:  # keeps lock.mdb's reader table alive after the kill
        dead = Holder(path, "pin")
        _rewrite(path, "1.0", 2)
        os.kill(dead.pid, signal.SIGKILL)
        dead.proc.wait()
        snap = _snap(path)
        r = _reader(snap, dead.pid)
        assert r.alive is False and r.releases_bytes == r.pins_bytes > 0
        assert all(x.pins_bytes == 0 for x in snap.readers if x.txnid is None)
        before = snap.capacity.reusable_pages
        data = sha(path)
        subprocess.run([sys.executable, "-m", "zlmdb._lmdb_vendor", "readers", "-e", path, "-c"],
                       check=True, capture_output=True)
        after = _snap(path)
        assert dead.pid not in {x.pid for x in after.readers}
        gained = (after.capacity.reusable_pages - before) * snap.lmdb.page_size
        assert abs(gained - r.releases_bytes) <= 2 * snap.lmdb.page_size
        assert sha(path) == data
        assert keep.proc.poll() is None
        dead.proc.stdin.close()
        dead.proc.stdout.close()
