"""What reading the writer lock costs at each refresh, against the snapshot it goes with.

Starts a writer process holding a write transaction open on a 100,000-record database, then
times, in the same run: a full snapshot, reading the writer mutex from lock.mdb and placing its
thread (pid from the known pids, /proc checks), the same without known pids (through
/proc/TID/status), and the mutex read alone after the writer committed (the common case:
nothing to place). Prints milliseconds and each one's share of the snapshot.

    python benchmarks/writer_bench.py
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile

import timing  # benchmarks/timing.py (this directory is on sys.path when run as a script)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from zlmdb import lmdb  # noqa: E402

from zlmdb_inspect.storage import writerlock  # noqa: E402
from zlmdb_inspect.storage.inspector import Inspector  # noqa: E402


def median_ms(fn, n: int = 200) -> float:
    return timing.median_ms(fn, n)


def main() -> None:
    path = os.path.join(tempfile.mkdtemp(prefix="writer-bench-"), "db")
    env = lmdb.open(path, map_size=256 << 20, lib_version=1)
    with env.begin(write=True) as txn:
        for i in range(100_000):
            txn.put(struct.pack(">HQ", 1, i), b"v" * 100)
    env.close()
    writer = subprocess.Popen([sys.executable, os.path.join(HERE, "..", "tests", "support", "writetxn_proc.py"), path,
                               "1.0", "hold", "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert writer.stdin is not None and writer.stdout is not None  # both PIPE
    pid = json.loads(writer.stdout.readline())["pid"]
    lock, data = os.path.join(path, "lock.mdb"), os.path.join(path, "data.mdb")
    rows = []
    try:
        ins = Inspector(path)
        held = writerlock.writer(lock, data, [pid])
        assert held.held and held.pid == pid, held
        snap_ms = median_ms(ins.snapshot, 30)
        rows.append(("snapshot of 100,000 records (1.0 format)", snap_ms))
        rows.append(("writer lock held, pid from known pids", median_ms(lambda: writerlock.writer(lock, data, [pid]))))
        rows.append(("... pid known to map data.mdb (ProcMaps)",
                     median_ms(lambda: writerlock.writer(lock, data, mapping=[pid]))))
        rows.append(("writer lock held, pid through /proc/TID", median_ms(lambda: writerlock.writer(lock, data))))
        writer.stdin.write("\n")
        writer.stdin.flush()
        writer.stdout.readline()
        assert writerlock.writer(lock, data).state == "free"
        rows.append(("writer lock free (no write txn open)", median_ms(lambda: writerlock.writer(lock, data, [pid]))))
        ins.close()
    finally:
        writer.stdin.close()
        writer.wait()
    print(f"{'what':45} {'ms':>8} {'of a snapshot':>14}")
    for what, ms in rows:
        print(f"{what:45} {ms:8.3f} {ms / snap_ms:13.2f}x")


if __name__ == "__main__":
    main()
