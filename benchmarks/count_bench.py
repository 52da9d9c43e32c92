"""Per-table counts: zlmdb's own cursor count against the inspector's page walk.

Builds databases of N records (several tables, both LMDB formats), times both in
the same run, asserts the counts are equal, and prints each side's time and the
ratio, and the time of a refresh after 300 records were added. Also times a whole
``zlmdb-inspect DB --json`` process against a whole process printing zlmdb's
``Database.stats(include_slots=True)``.

    python benchmarks/count_bench.py 1000000 10000000
"""

from __future__ import annotations

import ast
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import timing  # benchmarks/timing.py (this directory is on sys.path when run as a script)
import txaio
import zlmdb

txaio.use_asyncio()


def build(path: str, n: int, fmt: str) -> None:
    from zlmdb import lmdb

    env = lmdb.open(path, map_size=8 * 1024 ** 3, lib_version=0 if fmt == "0.9" else 1, sync=False)
    tables = 5
    with env.begin(write=True) as txn:
        for slot in range(1, tables + 1):  # zlmdb catalog records, as attach_table writes them
            import uuid

            import cbor2

            txn.put(b"\0\0" + struct.pack(">H", slot), cbor2.dumps(
                {"oid": str(uuid.UUID(int=slot)), "name": f"T{slot}", "description": None,
                 "creator": "bench", "slot": slot}))
    done = 0
    while done < n:
        with env.begin(write=True) as txn:
            for i in range(done, min(n, done + 200_000)):
                txn.put(struct.pack(">HQ", 1 + i % tables, i), b"v" * 24, append=False)
        done = min(n, done + 200_000)
    env.sync(True)
    env.close()


def zlmdb_counts(path: str) -> tuple[dict[int, int], float]:
    db = zlmdb.Database(dbpath=path, maxsize=8 * 1024 ** 3, readonly=True)
    t0 = time.perf_counter()
    stats = db.stats(include_slots=True)
    dt = time.perf_counter() - t0
    db.__exit__(None, None, None)
    return {s["slot"]: s["records"] for s in stats["slots"]}, dt


WRITE_300 = ("import sys, struct; from zlmdb import lmdb; e = lmdb.open(sys.argv[1], map_size=0)\n"
             "with e.begin(write=True) as t:\n"
             "    [t.put(struct.pack('>HQ', 2, 10**12 + i), b'n' * 24) for i in range(300)]")


def inspector_counts(path: str) -> tuple[dict[int, int], float, float]:
    """Counts and the time of a cold snapshot, then of a refresh after 300 new records."""
    from zlmdb_inspect.storage.inspector import Inspector

    with Inspector(path) as ins:
        t0 = time.perf_counter()
        snap = ins.snapshot()
        dt = time.perf_counter() - t0
        subprocess.run([sys.executable, "-c", WRITE_300, path], check=True)
        t0 = time.perf_counter()
        again = ins.snapshot()
        refresh = time.perf_counter() - t0
        before, after = snap.table_by_slot(2), again.table_by_slot(2)
        assert before is not None and after is not None, "slot 2 is the table WRITE_300 writes to"
        timing.check(after.records == before.records + 300,
                     f"refresh after 300 writes: {before.records} -> {after.records}")
    return {t.slot: t.records for t in snap.tables if t.slot}, dt, refresh


ZLMDB_PROC = ("import sys, txaio, zlmdb; txaio.use_asyncio(); db = zlmdb.Database(dbpath=sys.argv[1], maxsize=8 << 30, "
              "readonly=True); print({s['slot']: s['records'] for s in db.stats(include_slots=True)['slots']})")


def whole_process(cmd: list[str]) -> tuple[float, str]:
    """Wall time of a whole process, and what it printed (checked before its time is shown)."""
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return time.perf_counter() - t0, out


def json_counts(out: str) -> dict[int, int]:
    """Per-slot records of a ``--json`` document (the catalog, slot 0, left out as zlmdb's stats do)."""
    return {t["slot"]: t["records"] for t in json.loads(out)["tables"] if t["slot"]}


def main(sizes: list[int]) -> None:
    print(f"{'records':>10} {'format':>6} {'zlmdb count':>12} {'inspector':>10} {'ratio':>8} "
          f"{'zlmdb proc':>11} {'--json proc':>11} {'ratio':>7} {'refresh+300':>12}")
    for n in sizes:
        for fmt in ("1.0", "0.9"):
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "db")
                build(path, n, fmt)
                zc, zt = zlmdb_counts(path)
                ic, it, rt = inspector_counts(path)
                timing.check(zc == ic, f"counts differ: zlmdb {zc}, inspector {ic}")
                zp, zout = whole_process([sys.executable, "-c", ZLMDB_PROC, path])
                ip, iout = whole_process([sys.executable, "-m", "zlmdb_inspect", path, "--json"])
                after = {**zc, 2: zc[2] + 300}  # inspector_counts wrote 300 records to slot 2
                timing.check(ast.literal_eval(zout) == after, f"zlmdb process: {zout.strip()}, expected {after}")
                timing.check(json_counts(iout) == after, f"--json process: {json_counts(iout)}, expected {after}")
                print(f"{n:>10,} {fmt:>6} {zt:>11.3f}s {it:>9.3f}s {zt / it:>7.1f}x "
                      f"{zp:>10.2f}s {ip:>10.2f}s {zp / ip:>6.1f}x {rt * 1000:>10.1f}ms", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1_000_000])
