"""Tables with known per-day rates in their records' own time (issue 23): built with zlmdb's ORM
(leading and composite timestamp keys, value times) and raw puts (cfxdb's OID + little-endian time).

Every builder returns the exact records per UTC day it wrote, so tests compare with the truth.
"""

from __future__ import annotations

import datetime as dt
import random
import struct
import time
import uuid
from collections.abc import Sequence

import numpy as np
import zlmdb

DAY_NS = 86400 * 10**9


@zlmdb.table("5e1f0000-0000-4000-8000-0000000000b1", marshal=lambda o: o, parse=lambda d: d)
class Ticks(zlmdb.MapTimestampUuidCbor):
    """leading big-endian time"""


@zlmdb.table("5e1f0000-0000-4000-8000-0000000000b2", marshal=lambda o: o, parse=lambda d: d)
class Joins(zlmdb.MapUuidTimestampCbor):
    """a time after a UUID in the key"""


@zlmdb.table("5e1f0000-0000-4000-8000-0000000000b3", marshal=lambda o: o, parse=lambda d: d)
class Members(zlmdb.MapUuidCbor):
    """a time in the value"""


def first_day(days: int) -> int:
    """Midnight UTC ``days`` days before today, in ns: the last day built is yesterday."""
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int((today - dt.timedelta(days=days)).timestamp()) * 10**9


def day_of(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%d")


def times(rates: list[int], seed: int = 1, start: int | None = None) -> list[int]:
    """``rates[d]`` random times on day d from ``start`` (default: so that the last day is
    yesterday); the last day's last record at 23:59:59.9, so windows ending at the newest record
    cover whole days."""
    rnd = random.Random(seed)
    start = first_day(len(rates)) if start is None else start
    out = []
    for d, n in enumerate(rates):
        out += [start + d * DAY_NS + rnd.randrange(DAY_NS - 10**9) for _ in range(n)]
    if out:
        out.append(start + len(rates) * DAY_NS - 10**8)
    return out


def by_day(ts: list[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in ts:
        out[day_of(t)] = out.get(day_of(t), 0) + 1
    return out


def build(path: str, fmt: str, ticks: Sequence[int] = (), joins: Sequence[int] = (), members: Sequence[int] = (),
          unit: int = 10**6, map_size: int = 256 << 20, pad: int = 40) -> None:
    """The three ORM tables with records at the given times (``members``' ``created`` in ``unit``
    ns per unit)."""
    db = zlmdb.Database(dbpath=path, maxsize=map_size, lib_version=fmt)
    t1, t2, t3 = db.attach_table(Ticks), db.attach_table(Joins), db.attach_table(Members)
    rnd = random.Random(7)
    with db.begin(write=True) as txn:
        for t in ticks:
            t1[txn, (np.datetime64(t, "ns"), uuid.UUID(int=rnd.getrandbits(128)))] = {"p": "x" * pad}
        for t in joins:
            t2[txn, (uuid.UUID(int=rnd.getrandbits(128)), np.datetime64(t, "ns"))] = {"p": "x" * pad}
        for t in members:
            t3[txn, uuid.UUID(int=rnd.getrandbits(128))] = {"name": "m", "created": t // unit, "p": "x" * pad}
    db.__exit__(None, None, None)


def put_events_le(env, slot: int, ts: list[int], seed: int = 3) -> None:
    """cfxdb's Events layout: random 53-bit OID, then a little-endian datetime64[ns]; CBOR values."""
    import cbor2

    rnd = random.Random(seed)
    with env.begin(write=True) as txn:
        txn.put(struct.pack(">HH", 0, slot), cbor2.dumps({"oid": str(uuid.UUID(int=slot)), "name": "Events"}))
        for t in ts:
            txn.put(struct.pack(">HQ", slot, rnd.getrandbits(53)) + struct.pack("<Q", t), cbor2.dumps({"a": 1}))


def now_ns() -> int:
    return time.time_ns()


def purge_before(path: str, fmt: str, cut: int) -> int:
    """Delete the Ticks older than ``cut`` (ns), as a retention job does; how many were deleted."""
    db = zlmdb.Database(dbpath=path, maxsize=256 << 20, lib_version=fmt)
    ticks = db.attach_table(Ticks)
    with db.begin(write=True) as txn:
        keys = [k for k in ticks.select(txn, return_values=False) if int(k[0].astype("int64")) < cut]
        for k in keys:
            del ticks[txn, k]
    db.__exit__(None, None, None)
    return len(keys)
