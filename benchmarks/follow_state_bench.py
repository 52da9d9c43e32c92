"""What a follower keeps between polls while its table grows (issue 26 item 7), without the TUI.

A table gains time-ordered records (as a router archives publications: 10-byte keys, ~80-byte
values) in batches of ``--batch`` (default 18,000: 30 s at 600 a second), written by a child process
in transactions of 1,200; after each batch the follower polls, the benchmark checks it reported
exactly the batch's inserts, and at some steps prints the deep size of the follower's state (its
leaf and group states, digests, cached branch children; ``sys.getsizeof`` over the objects) and
the CPU time of the polls so far.

Measured (1.0 format, 20,000 records to start, 60 batches, default ``exact`` 100,000): with one
state per group of leaves beyond the exact records, 3.15 MiB at 110,000 records, 3.24 at 380,000,
3.30 at 1,100,000 (26,155 leaf pages, 2,521 states; polls 0.07-0.10 s CPU per batch); with one
state per leaf (before), 3.20, 4.99 and 10.56 MiB (26,155 states). 0.9 format: 3.16, 3.21, 3.20 MiB
(polls 0.08 s CPU per batch at the start, 0.17 s at the end: each reads every leaf for its CRC).

    cd REPO && /work/venv2/bin/python benchmarks/follow_state_bench.py [--batches 60] [--format 0.9]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))  # this tree's package

from zlmdb_inspect.core.model import Table  # noqa: E402
from zlmdb_inspect.storage.inspector import Inspector  # noqa: E402
from zlmdb_inspect.tables.follow import Follower  # noqa: E402

APPEND = """if True:  # PATH FORMAT FIRST TXNS PER_TXN, in another process (LMDB opens an environment once per process)
    import struct, sys
    import cbor2
    from zlmdb import lmdb
    path, fmt, first, txns, per = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    env = lmdb.open(path, map_size=1 << 30, lib_version=0 if fmt == "0.9" else 1)
    for t in range(txns):
        with env.begin(write=True) as txn:
            for i in range(first + t * per, first + (t + 1) * per):
                txn.put(struct.pack(">HQ", 1, i), cbor2.dumps({"i": i, "pad": "x" * 60}))
    env.close()
"""


def append(path: str, fmt: str, first: int, n: int, per: int = 1200) -> None:
    txns = max(1, n // per)
    subprocess.run([sys.executable, "-c", APPEND, path, fmt, str(first), str(txns), str(n // txns)],
                   check=True, timeout=600)


def deep_size(obj: Any, seen: set[int]) -> int:
    """Bytes of ``obj`` and what it holds (dicts, lists, tuples, slotted objects), each object once."""
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    n = sys.getsizeof(obj)
    if isinstance(obj, dict):
        n += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, (list, tuple)):
        n += sum(deep_size(x, seen) for x in obj)
    elif hasattr(obj, "__slots__"):
        n += sum(deep_size(getattr(obj, s), seen) for s in obj.__slots__ if hasattr(obj, s))
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--format", default="1.0", choices=["1.0", "0.9"])
    ap.add_argument("--start", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=18_000)
    ap.add_argument("--batches", type=int, default=60)
    args = ap.parse_args()
    path = os.path.join(tempfile.mkdtemp(prefix="follow-state-bench-"), "db")
    append(path, args.format, 1, args.start)
    ins = Inspector(path)
    try:
        f = Follower(ins, Table(1, None, None, None, None, 0, False))
        f.poll()
        nxt, cpu = args.start + 1, 0.0
        marks = {max(1, args.batches * q // 12) for q in (1, 2, 4, 6, 8, 10, 12)}
        for step in range(1, args.batches + 1):
            append(path, args.format, nxt, args.batch)
            t0 = time.process_time()
            changes = f.poll()
            cpu += time.process_time() - t0
            got = sorted(c.key for c in changes if c.change == "insert")
            if len(got) != len(changes) or len(got) != args.batch or int.from_bytes(got[0][2:], "big") != nxt:
                raise SystemExit(f"batch {step}: {len(changes)} changes, not the {args.batch} inserts written")
            nxt += args.batch
            if step in marks:
                seen: set[int] = set()
                size = sum(deep_size(x, seen) for x in (f.leaves, f.branches, f.bottoms))
                print(f"{nxt - 1:>10,} records  {f.leaf_pages:>7,} leaf pages  {len(f.leaves):>6,} states  "
                      f"{size / 2**20:6.2f} MiB kept  polls {cpu:6.2f} s CPU", flush=True)
    finally:
        ins.close()


if __name__ == "__main__":
    main()
