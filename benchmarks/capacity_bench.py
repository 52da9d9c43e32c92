"""What finding the effective map limit costs, against the snapshot it is part of.

Starts a writer process holding a demo database open with a map smaller than the meta
page's, then times, in the same run: a full snapshot (which includes reading the known
processes' /proc/PID/maps), the per-refresh /proc work alone (known pids), the full scan of
/proc/*/maps (done at most every ProcMaps.SCAN_EVERY_S), and naming the largest records of a
500,000-record table (done once per change of its largest value, cached). Prints milliseconds
and each one's share of the snapshot.

    python benchmarks/capacity_bench.py
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import tempfile
import time

import timing  # benchmarks/timing.py (this directory is on sys.path when run as a script)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from zlmdb import lmdb  # noqa: E402

from zlmdb_inspect.storage.inspector import Inspector  # noqa: E402
from zlmdb_inspect.storage.procmaps import ProcMaps  # noqa: E402


def median_ms(fn, n: int = 30) -> float:
    return timing.median_ms(fn, n)


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="capacity-bench-")
    path = os.path.join(tmp, "db")
    env = lmdb.open(path, map_size=2 << 30, lib_version=1)
    with env.begin(write=True) as txn:
        for i in range(500_000):
            txn.put(struct.pack(">HQ", 1, i), b"v" * 100)
        for i in (7, 250_000, 499_000):
            txn.put(struct.pack(">HQ", 1, i), os.urandom(100_000 + i))
    env.close()
    holder = subprocess.Popen([sys.executable, os.path.join(HERE, "..", "tests", "support", "holder_proc.py"), path,
                               "write", str(512 << 20)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdin is not None and holder.stdout is not None  # both PIPE
    holder.stdout.readline()
    try:
        ins = Inspector(path)
        snap = ins.snapshot()
        assert snap.capacity.map_size == 512 << 20 and snap.capacity.map_size_meta == 2 << 30
        snap_ms = median_ms(ins.snapshot, 20)
        known_ms = median_ms(lambda: ins.procmaps.processes(known=[holder.pid]))
        fresh = ProcMaps(os.path.join(path, "data.mdb"))
        scan_ms = median_ms(fresh._scan, 10)
        t0 = time.perf_counter()
        largest = ins.largest_values(snap, 64 * 1024)
        largest_ms = (time.perf_counter() - t0) * 1000
        cached_ms = median_ms(lambda: ins.largest_values(snap, 64 * 1024))
        ins.close()
    finally:
        holder.stdin.close()
        holder.wait()
    procs = sum(1 for n in os.listdir("/proc") if n.isdigit())
    print(f"{'what':<44}{'ms':>9}{'of a snapshot':>15}")
    rows = [("snapshot of 500,000 records (1.0 format)", snap_ms),
            ("/proc/PID/maps of the known pids", known_ms),
            (f"full /proc scan ({procs} processes, every 30 s)", scan_ms),
            ("naming the 3 largest records (first time)", largest_ms),
            ("naming the 3 largest records (cached)", cached_ms)]
    for name, ms in rows:
        print(f"{name:<44}{ms:>9.2f}{ms / snap_ms:>14.2f}x")
    print("largest:", largest[1][0])


if __name__ == "__main__":
    main()
