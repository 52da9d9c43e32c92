"""``--compare`` against what users write today (zlmdb.lmdb cursors iterating both in step), in one run.

For each format, the ``random`` shape of ``shapes.py`` (four tables of random 16-byte keys, CBOR
values, half-full leaves) at N records, against three copies built once in CACHE:

* ``bytes``: a byte copy of data.mdb (a backup by ``cp``): equal leaves, compared as pages;
* ``compact``: ``Environment.copy(compact=True)`` (``mdb_copy -c``): other page numbers, same leaves;
* ``other-format``: the same records written in the other LMDB format (a 0.9 → 1.0 migration): other
  leaves, merged by key.

Timed: the cursor loop (one read transaction on each side, ``iternext`` in step, keys and values
compared), ``tables.compare.compare`` in-process, and a whole ``zlmdb-inspect A --compare B``
process (its CPU from ``RUSAGE_CHILDREN``); CPU time (user + system), warm (the files are read
once first), the three taken in turn ``--repeat`` times and each reported as its median. The
speed-up is the cursor loop's CPU over ``compare()``'s; the target is 5x.

    python benchmarks/compare_bench.py /work/benchdata --records 1000000
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes

T = TypeVar("T")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def cursor_loop(a: str, b: str) -> tuple[int, int]:
    """What a user writes: both cursors in step; (records, differing)."""
    from zlmdb import lmdb

    ea = lmdb.open(a, readonly=True, lock=False, map_size=0)
    eb = lmdb.open(b, readonly=True, lock=False, map_size=0)
    n = d = 0
    with ea.begin() as ta, eb.begin() as tb:
        for (ka, va), (kb, vb) in zip(ta.cursor().iternext(), tb.cursor().iternext()):
            n += 1
            if ka != kb or va != vb:
                d += 1
    ea.close()
    eb.close()
    return n, d


def copies(cache: str, src: str, fmt: str, records: int,
           kinds: tuple[str, ...] = ("bytes", "compact", "other-format")) -> dict[str, str]:
    from zlmdb import lmdb

    out = {}
    for kind in kinds:
        path = os.path.join(cache, f"copy-{kind}-{fmt}-{records}")
        out[kind] = path
        if os.path.exists(os.path.join(path, "built")):
            continue
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        if kind == "bytes":
            shutil.copyfile(os.path.join(src, "data.mdb"), os.path.join(path, "data.mdb"))
        elif kind == "compact":
            env = lmdb.open(src, readonly=True, lock=False, map_size=0)
            env.copy(path, compact=True)
            env.close()
        else:
            env = lmdb.open(src, readonly=True, lock=False, map_size=0)
            dst = lmdb.open(path, map_size=records * 900 + (64 << 20), lib_version=1 if fmt == "0.9" else 0,
                            sync=False, metasync=False)
            with env.begin() as txn, dst.begin(write=True) as w:
                for k, v in txn.cursor().iternext():
                    w.put(k, v, append=True)
            dst.sync(True)
            dst.close()
            env.close()
        with open(os.path.join(path, "built"), "w") as f:
            f.write(kind)
    return out


def cpu(fn: Callable[[], T]) -> tuple[float, T]:
    """CPU seconds (user + system) ``fn`` took in this process, and its result."""
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def ours(a: str, b: str):
    from zlmdb_inspect.storage.inspector import Inspector
    from zlmdb_inspect.tables.compare import compare

    with Inspector(a) as ia, Inspector(b) as ib:
        return compare(ia, ib)


def cli(a: str, b: str) -> tuple[float, int]:
    """A whole ``--compare`` process: its CPU seconds and exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([sys.executable, "-m", "zlmdb_inspect", a, "--compare", b], cwd=ROOT,
                       capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode not in (0, 1):
        raise SystemExit(r.stderr)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, r.returncode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cache")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--formats", nargs="+", default=["1.0", "0.9"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--kinds", nargs="+", default=["bytes", "compact", "other-format"])
    args = ap.parse_args()
    print(f"CPU seconds, median of {args.repeat} taken in turn")
    print(f"{'format':6} {'B is':13} {'cursor loop':>12} {'compare()':>10} {'CLI':>8} {'speed-up':>9}  how")
    for fmt in args.formats:
        src = shapes.build(args.cache, "random", fmt, args.records, quiet=True)
        for kind, dst in copies(args.cache, src, fmt, args.records, tuple(args.kinds)).items():
            cursor_loop(src, dst)  # warm both files
            loops, ourss, clis = [], [], []
            for _ in range(args.repeat):
                t, (n, d) = cpu(partial(cursor_loop, src, dst))
                loops.append(t)
                t, res = cpu(partial(ours, src, dst))
                ourss.append(t)
                t, code = cli(src, dst)
                clis.append(t)
                if not (d == 0 and res.identical and code == 0 and res.records_a == n):  # checked before any ratio
                    raise SystemExit(f"{kind}: the two sides disagree: {(d, res.diffs, code)}")
            t_loop, t_ours, t_cli = median(loops), median(ourss), median(clis)
            how = f"{res.leaves_equal:,} leaf pairs equal as pages, {res.records_merged:,} records merged"
            print(f"{fmt:6} {kind:13} {t_loop:11.3f}s {t_ours:9.3f}s {t_cli:7.3f}s {t_loop / t_ours:8.1f}x  {how}",
                  flush=True)


if __name__ == "__main__":
    main()
