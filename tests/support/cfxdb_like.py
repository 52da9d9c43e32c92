"""A cfxdb-like database for tests, built with zlmdb's ORM in either LMDB format.

Usage::

    from cfxdb_like import build
    facts = build(str(tmp_path / "db"), fmt="1.0")   # or fmt="0.9"
    # decode with the application's classes: PYTHONPATH=tests ... --import cfxdb_app

Tables (schema in :mod:`cfxdb_app`; names are ``cfxdb_app.<Class>``):

- ``Users`` (UUID -> CBOR, marshal()): ``email`` (20 chars), ``created`` (ns int),
  ``authid``; a few records are 3-9 KiB (a ``bio`` field), as cfxdb's normally are.
- ``IndexUsersByEmail`` (string -> UUID): 20-character e-mail keys; the values are
  16-byte UUIDs, the first of them starting ``c8 4e`` (which also parses as CBOR
  tag 8 of a 14-byte string: the decoding mistake of issue 18 item 4).
- ``Nodes`` (UUID -> CBOR): 3-9 KiB records with ``created_at``/``last_seen_at``.
- ``Events`` (OID + datetime64[ns] -> CBOR): zlmdb's ``_OidTimestampKeysMixin``, whose
  key decoder raises on every key; values hold ``timestamp`` (ns) and ``topic``.
- ``EventSessions`` (zlmdb's ``MapOidTimestampOid``): same keys, 8-byte OID values.

With ``deviants=True`` (the default) raw puts add what real databases hold:
a value that is not CBOR and a truncated CBOR value in ``Nodes``, and a key
that is not UTF-8 in ``IndexUsersByEmail``. ``build`` returns the facts tests
check against (counts, keys of the deviants, the times stored).
"""

from __future__ import annotations

import os
import random
import struct
import sys
import uuid
from typing import Any

import cbor2
import numpy as np
import txaio
import zlmdb

sys.path.insert(0, os.path.dirname(__file__))
import cfxdb_app as app

txaio.use_asyncio()

BASE_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
N_USERS = 40
N_NODES = 8
N_EVENTS = 600


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _email(i: int) -> str:
    s = f"user{i:04d}@example.org"  # 20 characters, like the addresses in issue 18
    assert len(s) == 20
    return s


def build(path: str, fmt: str = "1.0", deviants: bool = True, events: int = N_EVENTS) -> dict[str, Any]:
    """Create the database at ``path`` (a new directory) and return facts about its content.

    Facts: ``path``, ``fmt``, ``counts`` (zlmdb's own count per bare class name),
    ``names`` (bare -> stored table name), ``slots`` (bare -> slot),
    ``deviants`` (bare -> list of raw keys after the slot prefix, as hex),
    ``event_keys`` (the first three (oid, ns) pairs of Events), ``tag8_uuid``
    (the user oid that also parses as CBOR tag 8; ``IndexUsersByEmail[emails[0]]``), ``emails``, ``big_records``
    (bare -> number of values >= 3 KiB).
    """
    rng = random.Random(18)
    db = zlmdb.Database(dbpath=path, maxsize=128 * 1024 * 1024, lib_version=fmt)
    tables = {k.__name__: db.attach_table(k) for k in app.TABLES}
    users, by_email, nodes = tables["Users"], tables["IndexUsersByEmail"], tables["Nodes"]
    ev, ev_sessions = tables["Events"], tables["EventSessions"]
    emails, event_keys = [], []
    tag8_uuid = ""
    big = {"Users": 0, "Nodes": 0}
    with db.begin(write=True) as txn:
        for i in range(N_USERS):
            oid = uuid.UUID(bytes=bytes.fromhex("c84e") + _uuid(rng).bytes[2:]) if i == 0 else _uuid(rng)
            data = {"oid": str(oid), "email": _email(i), "authid": f"user-{i}",
                    "created": BASE_NS + i * 3_600_000_000_000}
            if i % 10 == 3:  # a few big ones, 3-9 KiB
                data["bio"] = "lorem ipsum " * (250 + 40 * (i % 7))
                big["Users"] += 1
            users[txn, oid] = app.User(data)
            by_email[txn, _email(i)] = oid
            emails.append(_email(i))
            if i == 0:
                tag8_uuid = str(oid)
        for i in range(N_NODES):
            oid = _uuid(rng)
            nodes[txn, oid] = app.Node({
                "oid": str(oid), "pubkey": os.urandom(32).hex(), "authid": f"node-{i}",
                "created_at": BASE_NS + i * 86_400_000_000_000,
                "last_seen_at": BASE_NS + (i + 30) * 86_400_000_000_000,
                "config": {"workers": [{"id": f"w{j}", "args": "x" * 200} for j in range(12 + 2 * i)]},
            })
            big["Nodes"] += 1
        for i in range(events):
            session = 1_000 + i % 7
            ns = BASE_NS + i * 1_000_003_017
            key = (session, np.datetime64(ns, "ns"))
            ev[txn, key] = {"timestamp": ns, "topic": f"com.example.topic{i % 5}",
                            "session": session, "args": [i, "payload"]}
            ev_sessions[txn, key] = session
            if i < 3:
                event_keys.append((session, ns))
        dev: dict[str, list[str]] = {}
        if deviants:
            nslot = struct.pack(">H", nodes._slot)
            not_cbor = uuid.UUID(int=(1 << 127) | 1).bytes  # sorts after every random uuid4 key
            truncated = uuid.UUID(int=(1 << 127) | 2).bytes
            txn._txn.put(nslot + not_cbor, b"\xff\x00 this is not CBOR at all")
            full = cbor2.dumps({"oid": "x", "created_at": BASE_NS, "config": "y" * 100})
            txn._txn.put(nslot + truncated, full[: len(full) // 2])
            bad_key = b"\xff\xfe" + b"bad@example.org"
            txn._txn.put(struct.pack(">H", by_email._slot) + bad_key, uuid.UUID(tag8_uuid).bytes)
            dev = {"Nodes": [not_cbor.hex(), truncated.hex()], "IndexUsersByEmail": [bad_key.hex()]}
    counts, names, slots = {}, {}, {}
    with db.begin() as txn:
        for bare, t in tables.items():
            counts[bare] = t.count(txn)
            names[bare] = f"{type(t).__module__}.{type(t).__qualname__}"
            slots[bare] = t._slot
    db.__exit__(None, None, None)
    return {"path": path, "fmt": fmt, "counts": counts, "names": names, "slots": slots,
            "deviants": dev, "event_keys": event_keys, "tag8_uuid": tag8_uuid,
            "emails": emails, "big_records": big}


if __name__ == "__main__":  # python tests/cfxdb_like.py DIR [0.9|1.0]
    import json

    print(json.dumps(build(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "1.0"), indent=1))
