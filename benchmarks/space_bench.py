"""What the disk figures and the free runs (issue 29 items 1-2) add to a ``--json`` run.

Builds a database of N records (default 1,000,000; 30 % deleted in 300 commits, so the free
list has many records and scattered runs), then times, in the same run: a whole ``--json``
run (a fresh process, median of 3), and inside one process the free runs (reading the
reusable pages' lists, the runs, the largest a write finds) and the volume's figures.

    python benchmarks/space_bench.py [N]
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from zlmdb import lmdb  # noqa: E402

from zlmdb_inspect.storage.freeruns import free_runs  # noqa: E402
from zlmdb_inspect.storage.inspector import Inspector  # noqa: E402
from zlmdb_inspect.storage.walk import TreeWalker  # noqa: E402


def build(path: str, n: int) -> None:
    env = lmdb.open(path, map_size=8 << 30, lib_version=1)
    for start in range(0, n, 100_000):
        with env.begin(write=True) as t:
            for i in range(start, min(n, start + 100_000)):
                t.put(struct.pack(">HI", 1 + i % 3, i), b"v" * (60 + i % 200))
    step = max(1, n // 300)
    for start in range(0, n, step):  # delete 30 % in 300 commits
        with env.begin(write=True) as t:
            for i in range(start, min(n, start + step)):
                if i % 10 < 3:
                    t.delete(struct.pack(">HI", 1 + i % 3, i))
    env.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    path = os.path.join(tempfile.mkdtemp(prefix="space-bench-"), "db")
    build(path, n)
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "zlmdb_inspect", path, "--json", "--no-state"],
                       check=True, capture_output=True, cwd=os.path.join(HERE, ".."))
        runs.append(time.perf_counter() - t0)
    json_ms = sorted(runs)[1] * 1000
    with Inspector(path) as ins:
        snap = ins.snapshot(remember=False)

        def measure(txn, pf, meta):
            walk = TreeWalker().walk(pf, meta, remember=False)
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                r = free_runs(pf, walk, meta.txnid, meta.last_pgno, meta.main.depth)
                times.append(time.perf_counter() - t0)
            return sorted(times)[2] * 1000, r

        runs_ms, r = ins.read(measure)
        t0 = time.perf_counter()
        for _ in range(20):
            ins.volume.figures()
        vol_ms = (time.perf_counter() - t0) / 20 * 1000
    cap = snap.capacity
    added = runs_ms + vol_ms
    print(f"records {n:,}  reusable pages {cap.reusable_pages:,}  largest run {r['largest_pages']}")
    print(f"--json run (median of 3)        {json_ms:9.1f} ms")
    print(f"free runs                       {runs_ms:9.2f} ms")
    print(f"volume figures (statvfs, stat)  {vol_ms:9.3f} ms")
    print(f"added                           {added:9.2f} ms  = {100 * added / json_ms:.2f} % of the --json run")


if __name__ == "__main__":
    main()
