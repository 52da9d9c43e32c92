"""cfxdb-shaped publications: FlatBuffers ``Publication`` values keyed by a uint64 OID.

cfxdb's realm store (``cfxdb/realmstore.fbs``, table ``Publication``) keeps ``timestamp``,
``publication``, ``publisher`` (uint64), ``topic`` (string) and the WAMP payload ``args`` and
``kwargs`` as CBOR inside ``[uint8]`` byte vectors. Written raw (no cfxdb here), one zlmdb
catalog record in slot 0 with a docstring description, as cfxdb's tables have.

Usage: ``create(path, fmt, n)`` for a database; ``put_publications(txn, slot, first, n)`` adds
more (the follow benchmark's writer).
"""

from __future__ import annotations

import struct
from typing import Any

import cbor2
import flatbuffers

SLOT = 7
NAME = "cfxdb.realmstore._publication.Publications"
DESCRIPTION = ("Persisted publications archive.\n\n    Map :class:`zlmdb.MapOidFlatBuffers` from ``publication``"
               "\n    to :class:`cfxdb.realmstore.Publication`.\n    ")
BASE_NS = 1_796_418_180_000_000_000  # 2026-12-04T21:03:00Z


def publication(oid: int, ts_ns: int, args: Any, kwargs: Any, topic: str = "com.example.chat") -> bytes:
    """One FlatBuffers Publication (fields 0-5 of cfxdb's schema) with CBOR ``args``/``kwargs``."""
    b = flatbuffers.Builder(256)
    a = b.CreateByteVector(cbor2.dumps(args))
    k = b.CreateByteVector(cbor2.dumps(kwargs))
    t = b.CreateString(topic)
    b.StartObject(6)
    b.PrependUint64Slot(0, ts_ns, 0)
    b.PrependUint64Slot(1, oid, 0)
    b.PrependUint64Slot(2, 1000 + oid % 17, 0)
    b.PrependUOffsetTRelativeSlot(3, t, 0)
    b.PrependUOffsetTRelativeSlot(4, a, 0)
    b.PrependUOffsetTRelativeSlot(5, k, 0)
    b.Finish(b.EndObject())
    return bytes(b.Output())


def key(oid: int, slot: int = SLOT) -> bytes:
    return struct.pack(">HQ", slot, oid)


def put_catalog(txn, slot: int = SLOT) -> None:
    txn.put(struct.pack(">HH", 0, slot), cbor2.dumps({"oid": "5e1f0000-0000-4000-8000-00000000c0b1", "slot": slot,
                                                      "name": NAME, "description": DESCRIPTION,
                                                      "creator": "crossbar\n  realm store"}))


def payload(oid: int) -> tuple[list[Any], dict[str, Any]]:
    """Every third publication names bob in args, every fifth in kwargs."""
    args: list[Any] = [f"hello {'bob' if oid % 3 == 0 else 'alice'}", oid]
    kwargs: dict[str, Any] = {"from": "bob" if oid % 5 == 0 else "carol", "n": oid}
    return args, kwargs


def put_publications(txn, first: int, n: int, slot: int = SLOT, ts_ns: int | None = None) -> None:
    for oid in range(first, first + n):
        args, kwargs = payload(oid)
        txn.put(key(oid, slot), publication(oid, ts_ns if ts_ns is not None else BASE_NS + oid * 1_000_000,
                                            args, kwargs))


def create(path: str, fmt: str = "1.0", n: int = 60, map_size: int = 64 * 1024 * 1024) -> dict[str, Any]:
    """A database with the catalog and ``n`` publications (OIDs 1..n); facts for the tests."""
    from conftest import raw_env

    env = raw_env(path, fmt, map_size=map_size)
    with env.begin(write=True) as txn:
        put_catalog(txn)
        put_publications(txn, 1, n)
    env.close()
    bob = [oid for oid in range(1, n + 1) if oid % 3 == 0 or oid % 5 == 0]
    return {"path": path, "n": n, "bob": bob}
