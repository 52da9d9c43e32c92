"""What the disk figures, the free runs, the compaction estimate and the reader pins (issue 29
items 1-4) add to a ``--json`` run and to a refresh.

Builds a database of N records (default 1,000,000; 30 % deleted in 300 commits, so the free
list has many records and scattered runs), then times, in the same run: a whole ``--json``
run (a fresh process, median of 3), and inside one process the free runs (reading the
reusable pages' lists, the runs, the largest a write finds) and the volume's figures.

    python benchmarks/space_bench.py [N]

With ``--shapes CACHE``, on the ``random`` shape of ``shapes.py`` at ``--records`` (10M: built
once, cached) in both formats, each figure's CPU against the walk it comes with, as a refresh
pays it: a full walk (a first snapshot; every 0.9 snapshot that walks), then ``--commits``
commits by a writer process (each puts ``--churn`` new random keys, the next deletes them: the
record count stays, the free list grows by a few records each) and, after each, the walk a 1.0
refresh does (only what changed) with the free runs over the reusable pages (computed again at
every new transaction), the compaction estimate, and the pins and releases of 126 readers
(LMDB's default reader table, full, at snapshots spread over the free list's transactions).
CPU is ``process_time`` (the walk gathers pages in threads), each figure the median of its runs.

    python benchmarks/space_bench.py --shapes /tmp/shapes10m --records 10000000
"""

from __future__ import annotations

import argparse
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

from zlmdb import lmdb  # noqa: E402

from zlmdb_inspect.core.model import Reader  # noqa: E402
from zlmdb_inspect.storage.compact import compact_figures  # noqa: E402
from zlmdb_inspect.storage.freeruns import free_runs  # noqa: E402
from zlmdb_inspect.storage.inspector import Inspector, reader_space  # noqa: E402
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


WRITER = '''
import os, sys
from zlmdb import lmdb
path, fmt, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
env = lmdb.open(path, map_size=0, lib_version=0 if fmt == "0.9" else 1)
keys = [bytes([0, 1 + i % 4]) + os.urandom(16) for i in range(n)]
with env.begin(write=True) as t:
    for k in keys:
        t.put(k, b"c" * 120)
with env.begin(write=True) as t:
    for k in keys:
        t.delete(k)
env.close()
'''


def cpu(fn, runs: int = 5):
    """Median CPU seconds (this process) of ``runs`` calls of ``fn``, and its last result."""
    times, out = [], None
    for _ in range(runs):
        t0 = time.process_time()
        out = fn()
        times.append(time.process_time() - t0)
    return sorted(times)[len(times) // 2], out


def json_cpu(path: str, runs: int = 3) -> float:
    """Median CPU seconds of a whole ``--json`` process (RUSAGE_CHILDREN)."""
    times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-m", "zlmdb_inspect", path, "--json", "--no-state"],
                       check=True, capture_output=True, cwd=os.path.join(HERE, ".."))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return sorted(times)[len(times) // 2]


def readers_over(walk, txnid: int, count: int = 126) -> list[Reader]:
    """``count`` readers at snapshots spread over the free list's transactions (and the last)."""
    recs = walk.free_records
    lo = int(recs[:, 0].min()) if len(recs) else txnid
    return [Reader(pid=1000 + i, thread="0", txnid=lo + (txnid - lo) * i // count) for i in range(count)]


def shapes_mode(cache: str, records: int, formats: list[str], commits: int, churn: int) -> None:
    import shapes

    print(f"{'fmt':4} {'walk':22} {'walk CPU':>9} {'free runs':>10} {'compact':>8} {'126 readers':>11} "
          f"{'volume':>7} {'added':>7}  free list")
    for fmt in formats:
        path = shapes.build(cache, "random", fmt, records)
        print(f"{fmt:4} --json process: {json_cpu(path):.3f} s CPU (median of 3)", flush=True)
        measure_refreshes(path, fmt, commits, churn)


def measure_refreshes(path: str, fmt: str, commits: int, churn: int) -> None:
    """One row per walk: the walk's CPU and what each figure adds to it."""
    with Inspector(path) as ins:
        walker = TreeWalker()

        def row(label: str, walk_s: float, pf, meta, walk) -> None:
            runs_s, r = cpu(lambda: free_runs(walk, meta.txnid, meta.last_pgno, meta.main.depth))
            comp_s, _ = cpu(lambda: compact_figures(pf, meta, walk), 21)
            readers = readers_over(walk, meta.txnid)
            pins_s, _ = cpu(lambda: reader_space(readers, walk, meta.txnid, pf.page_size), 21)
            vol_s, _ = cpu(ins.volume.figures, 21)
            added = runs_s + comp_s + pins_s + vol_s
            print(f"{fmt:4} {label:22} {walk_s * 1e3:7.1f}ms {runs_s * 1e3:8.2f}ms {comp_s * 1e6:6.0f}us "
                  f"{pins_s * 1e3:9.2f}ms {vol_s * 1e6:5.0f}us {100 * added / walk_s:6.2f}%  "
                  f"{len(walk.free_records):,} records, {walk.free_pages:,} pages, "
                  f"largest run {r['largest_pages']}", flush=True)

        def full(txn, pf, meta) -> None:
            walk_s, walk = cpu(lambda: TreeWalker().walk(pf, meta, remember=False), 3)
            row("full", walk_s, pf, meta, walk)
            walker.walk(pf, meta, remember=True)  # the cache an incremental 1.0 walk starts from

        def after(txn, pf, meta) -> None:
            t0 = time.process_time()
            walk = walker.walk(pf, meta, remember=True)
            walk_s = time.process_time() - t0
            row("after a commit" if fmt == "0.9" else "after a commit (incr.)", walk_s, pf, meta, walk)

        ins.read(full)
        for _ in range(commits):
            subprocess.run([sys.executable, "-c", WRITER, path, fmt, str(churn)], check=True)
            ins.read(after)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=1_000_000)
    ap.add_argument("--shapes", metavar="CACHE")
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--formats", nargs="+", default=["0.9", "1.0"])
    ap.add_argument("--commits", type=int, default=3)
    ap.add_argument("--churn", type=int, default=1000)
    args = ap.parse_args()
    if args.shapes:
        shapes_mode(args.shapes, args.records, args.formats, args.commits, args.churn)
        return
    n = args.n
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
                r = free_runs(walk, meta.txnid, meta.last_pgno, meta.main.depth)
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
