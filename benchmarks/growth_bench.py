"""What bucketing a time-ordered table's records per hour adds to a full walk (issue 23: at most 10 %).

A table of N records keyed by a big-endian datetime64[ns] + UUID over 90 days, beside a table of
random UUID keys of the same size; full walks (no cache) of both formats, with the time slot and
without, alternated, medians of CPU time (process time: the walk's page gathers use threads; a
busy shared machine moved wall times by 2x between runs). Run from this directory:
``python growth_bench.py [N] [REPEATS] [CACHE]`` (default 1,000,000 and 25; with CACHE, the
databases are built once in that directory and kept, since 10M records take minutes to write).

Measured (2 cores shared with four other sessions, load average 8-20, so single medians moved by
+-15 % between runs; the median of the alternated pairs' ratios is steadier): 10,000,000 +
10,000,000 records, 21 pairs, 1.0 walk 401 ms, +12.8 % median, +3.8 % pairs' ratio; 0.9 453 ms,
+3.2 %, +0.2 %; a second run -7.1 % / -6.4 % and -2.1 % / -2.3 % (noise both ways). The time
path's own CPU in those walks (``leaf_times`` and all it calls, plus the 10-byte separator read
less the 2-byte one it replaces, medians of 9): 11.5 ms of 249 ms (4.6 %) on 1.0, 15.0 of 439 ms
(3.4 %) on 0.9. At 1,000,000 + 1,000,000 (25 pairs): +7.3 % / +7.9 % on 1.0 and +9.2 % / +8.6 %
on 0.9 (its own CPU 8.3 % and 8.4 %), where the code before this measured +17-19 % (at 10M it
measured +50 % median, +32 % fastest: its per-leaf arrays over a 1M-leaf batch).
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import statistics

from zlmdb import lmdb

from zlmdb_inspect.storage.pageformat import PageFile
from zlmdb_inspect.storage.walk import TreeWalker

DAY_NS = 86400 * 10**9


def build(path: str, n: int, fmt: str) -> None:
    env = lmdb.open(path, map_size=8 << 30, lib_version=0 if fmt == "0.9" else 1, sync=False)
    rnd = random.Random(1)
    start = time.time_ns() - 90 * DAY_NS
    step = 90 * DAY_NS // n
    batch = 100_000
    for i0 in range(0, n, batch):
        with env.begin(write=True) as txn:
            for i in range(i0, min(n, i0 + batch)):
                t = start + i * step + rnd.randrange(step)
                txn.put(struct.pack(">HQ", 1, t) + rnd.randbytes(16), rnd.randbytes(60))
                txn.put(struct.pack(">H", 2) + rnd.randbytes(16), rnd.randbytes(60))
    env.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    cache = sys.argv[3] if len(sys.argv) > 3 else None
    for fmt in ("1.0", "0.9"):
        if cache is None:
            path = tempfile.mkdtemp(prefix=f"growth-bench-{fmt}-")
        else:
            path = os.path.join(cache, f"growth-{n}-{fmt}")
        t0 = time.perf_counter()
        if cache is None:
            build(path, n, fmt)
        elif not os.path.exists(path):  # built aside and renamed: an interrupted build is not reused
            build(path + ".part", n, fmt)
            os.rename(path + ".part", path)
        built = time.perf_counter() - t0
        pf = PageFile(os.path.join(path, "data.mdb"))
        meta = pf.current_meta()

        def walk(slots: frozenset[int], pf: PageFile = pf, meta=meta) -> None:
            w = TreeWalker()
            w.time_slots = slots
            w.walk(pf, meta, remember=False)

        walk(frozenset())  # warm the page cache
        plain: list[float] = []
        timed: list[float] = []
        for _ in range(reps):  # alternated: a busy machine slows both alike
            for slots, into in ((frozenset(), plain), (frozenset({1}), timed)):
                t0 = time.process_time()
                walk(slots)
                into.append((time.process_time() - t0) * 1000)
        p, t = statistics.median(plain), statistics.median(timed)
        paired = statistics.median(b / a for a, b in zip(plain, timed, strict=True))
        print(f"{fmt}: {n:,} time-keyed + {n:,} random records (built in {built:.0f} s): CPU median of {reps}: "
              f"walk {p:.1f} ms, with hourly buckets {t:.1f} ms ({(t / p - 1) * 100:+.1f} %; median of the "
              f"pairs' ratios {(paired - 1) * 100:+.1f} %; fastest {min(plain):.1f} and {min(timed):.1f} ms, "
              f"{(min(timed) / min(plain) - 1) * 100:+.1f} %)")
        pf.close()
        if cache is None:
            shutil.rmtree(path)


if __name__ == "__main__":
    main()
