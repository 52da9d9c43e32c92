"""What a table's time estimate costs (issue 23: at most 200 ms on a 10M-record table, in short
read transactions), against reading every record of the table with zlmdb's LMDB cursor (what one
writes today to count records by a time in their values), in the same run.

The estimate is ``tables.timesource.sample_times``: 1,000 records at random keys, 250 seeks per
read transaction, each value decoded. Measured warm (medians of 7) and cold (the file dropped from
the page cache with ``posix_fadvise(DONTNEED)`` before each of 3 runs, a fresh environment each
time); CPU (thread time) and wall. The databases are growth_bench.py's (CACHE from its third
argument), slot 2 being 10M random 16-byte keys:

    python benchmarks/estimate_bench.py /tmp/g23a/cache/growth-10000000-1.0 [SLOT]
"""

from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from zlmdb import lmdb

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service.database import Service
from zlmdb_inspect.storage.inspector import Inspector
from zlmdb_inspect.tables.timesource import SAMPLE, TimeSource, sample_times


def main() -> None:
    path = sys.argv[1]
    slot = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    svc = Service(Options(path=path))  # no state file (Options.state is off by default)
    try:
        table = next(t for t in svc.refresh().snapshot.tables if t.slot == slot)
        codec = svc._codecs.codec(table)
    finally:
        svc.close()
    src = TimeSource(name="value:t", field="t", scale=10**9)  # the decode is paid whether or not it holds a time

    def estimate(ins: Inspector, seed: int) -> tuple[float, float]:
        c0, w0 = time.thread_time(), time.perf_counter()
        got = sample_times(ins, codec, table, src, seed=seed)
        cpu, wall = time.thread_time() - c0, time.perf_counter() - w0
        if len(got) != SAMPLE:  # checked before anything is printed (not an assert: -O keeps it)
            raise SystemExit(f"the estimate sampled {len(got)} records, not {SAMPLE}")
        return cpu, wall

    fd = os.open(os.path.join(path, "data.mdb"), os.O_RDONLY)
    cold = []
    for seed in range(3):
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        ins = Inspector(path)
        try:
            cold.append(estimate(ins, 100 + seed))
        finally:
            ins.close()
    os.close(fd)
    ins = Inspector(path)
    try:
        warm = [estimate(ins, seed) for seed in range(7)]
    finally:
        ins.close()

    env = lmdb.open(path, readonly=True, lock=False, subdir=True, map_size=0)
    prefix = slot.to_bytes(2, "big")
    c0, w0 = time.thread_time(), time.perf_counter()
    n = 0
    with env.begin() as txn:
        cur = txn.cursor()
        if cur.set_range(prefix):
            for key, value in cur:
                if key[:2] != prefix:
                    break
                n += len(value) >= 0
    scan_cpu, scan_wall = time.thread_time() - c0, time.perf_counter() - w0
    env.close()
    if n != table.records:
        raise SystemExit(f"the cursor loop read {n:,} records, the walk counts {table.records:,}")

    ms = 1000.0
    wc, ww = statistics.median(c for c, _ in warm), statistics.median(w for _, w in warm)
    print(f"{table.records:,} records in slot {slot}: estimate of {SAMPLE} records warm {wc * ms:.1f} ms CPU, "
          f"{ww * ms:.1f} ms wall (median of 7); cold {', '.join(f'{w * ms:.0f}' for _, w in cold)} ms wall "
          f"({', '.join(f'{c * ms:.0f}' for c, _ in cold)} ms CPU)")
    print(f"every record by zlmdb's cursor: {scan_cpu:.2f} s CPU, {scan_wall:.2f} s wall; "
          f"the estimate costs 1/{scan_cpu / wc:.0f} of it (CPU, warm)")


if __name__ == "__main__":
    main()
