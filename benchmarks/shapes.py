"""Benchmark databases of the shapes production zlmdb tables have, built once and cached.

``random``: four tables keyed by uniformly random 16-byte keys (as UUID primary keys are),
CBOR values of 60–210 bytes, inserted in random order: leaves are about half full and
scattered through the file. ``sequential``: the same tables and values under increasing keys
(packed leaves in file order), the favourable shape.

Both are written with raw ``zlmdb.lmdb`` puts in large transactions, in either LMDB format,
under ``CACHE/{shape}-{format}-{records}``; a finished database carries a ``built`` marker
and is reused by later runs.

    python benchmarks/shapes.py /work/benchdata 1000000 10000000
"""

from __future__ import annotations

import os
import random
import struct
import sys
import time
import uuid

import cbor2

TABLES = 4
BATCH = 500_000


def table_oid(slot: int) -> str:
    return str(uuid.UUID(int=0xBE0C << 112 | slot))


def _values(rng: random.Random, n: int = 4096) -> list[bytes]:
    """CBOR maps of 60–210 bytes (uniform), as a small ORM record encodes."""
    out = []
    for i in range(n):
        want = rng.randint(60, 210)
        oid = str(uuid.UUID(int=rng.getrandbits(128)))
        base = len(cbor2.dumps({"oid": oid, "n": i, "name": ""}))
        name = "x" * max(0, want - base - 2)
        v = cbor2.dumps({"oid": oid, "n": i, "name": name})
        while len(v) > want and name:
            name = name[:-1]
            v = cbor2.dumps({"oid": oid, "n": i, "name": name})
        out.append(v)
    return out


def db_path(cache: str, shape: str, fmt: str, records: int) -> str:
    return os.path.join(cache, f"{shape}-{fmt}-{records}")


def build(cache: str, shape: str, fmt: str, records: int, quiet: bool = False) -> str:
    """The database's directory, built now unless a finished copy is cached."""
    from zlmdb import lmdb

    path = db_path(cache, shape, fmt, records)
    marker = os.path.join(path, "built")
    if os.path.exists(marker):
        return path
    os.makedirs(path, exist_ok=True)
    for name in ("data.mdb", "lock.mdb"):
        try:
            os.unlink(os.path.join(path, name))
        except FileNotFoundError:
            pass
    t0 = time.perf_counter()
    rng = random.Random(records * 31 + (fmt == "0.9"))
    values = _values(rng)
    env = lmdb.open(path, map_size=max(64 << 20, records * 900), lib_version=0 if fmt == "0.9" else 1,
                    sync=False, metasync=False, writemap=False)
    with env.begin(write=True) as txn:
        for slot in range(1, TABLES + 1):  # zlmdb catalog records, as attach_table writes them
            txn.put(b"\0\0" + struct.pack(">H", slot), cbor2.dumps(
                {"oid": table_oid(slot), "name": f"T{slot}", "description": None,
                 "creator": "bench", "slot": slot}))
    prefixes = [struct.pack(">H", s) for s in range(1, TABLES + 1)]
    nv = len(values)
    done = 0
    while done < records:
        n = min(BATCH, records - done)
        if shape == "random":
            blob = rng.randbytes(17 * n)  # one byte picks the table, sixteen make the key
            keys = [prefixes[blob[17 * i] % TABLES] + blob[17 * i + 1:17 * i + 17] for i in range(n)]
        else:
            keys = [prefixes[i % TABLES] + struct.pack(">QQ", 0, i) for i in range(done, done + n)]
        with env.begin(write=True) as txn:
            put = txn.put
            for i, k in enumerate(keys):
                put(k, values[(done + i) % nv])
        done += n
        if not quiet:
            print(f"  {path}: {done:,}/{records:,} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    env.sync(True)
    env.close()
    with open(marker, "w") as f:
        f.write(f"{shape} {fmt} {records} built in {time.perf_counter() - t0:.1f} s\n")
    return path


if __name__ == "__main__":
    cache, *sizes = sys.argv[1:]
    for n in [int(s) for s in sizes] or [1_000_000]:
        for shape in ("random", "sequential"):
            for fmt in ("0.9", "1.0"):
                print(build(cache, shape, fmt, n))
