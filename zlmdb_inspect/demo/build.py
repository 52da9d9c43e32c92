"""Build the demo database (and keep writing to it) with zlmdb's own ORM."""

from __future__ import annotations

import os
import random
import struct
import time
import uuid

from zlmdb_inspect.core.slots import slot_prefix

DEMO_MAP_SIZE = 256 * 1024 * 1024
ORPHAN_SLOT = 42  # data without a metadata record, as older code assigned slots by hand
TOPICS = ["com.example.orders.created", "com.example.orders.shipped", "com.example.telemetry",
          "com.example.chat.message", "com.example.billing.invoice"]
REALMS = ["realm1", "realm2", "ops"]
ROLES = ["admin", "user", "service", "guest"]
BASE_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z: fixed, so screenshots are stable
HISTORY_NS = 60 * 86_400 * 10**9  # users and audit records spread over 60 days: the Growth view has days to show


def _open(path: str, map_size: int, lib_version: str | None):
    import txaio
    import zlmdb

    if not txaio._explicit_framework:
        txaio.use_asyncio()
    return zlmdb.Database(dbpath=path, maxsize=map_size, lib_version=lib_version)


def build_demo(path: str, records: int = 2000, lib_version: str | None = None,
               map_size: int = DEMO_MAP_SIZE, seed: int = 1) -> str:
    """Write the demo database at ``path`` (which must not hold one yet)."""
    from zlmdb_inspect.demo import app as app

    if os.path.exists(os.path.join(path, "data.mdb")):
        raise FileExistsError(f"{path} already holds a database")
    rnd = random.Random(seed)
    os.makedirs(path, exist_ok=True)
    db = _open(path, map_size, lib_version)
    schema = app.DemoSchema(db)
    n = max(1, records)
    with db.begin(write=True) as txn:
        for i in range(n):
            u = app.User(oid=uuid.UUID(int=rnd.getrandbits(128), version=4),
                         name=f"user{i:06d}", email=f"user{i:06d}@example.com",
                         created=BASE_NS + i * (HISTORY_NS // n), roles=rnd.sample(ROLES, 2),
                         quota=rnd.randrange(1, 100) * 1024 * 1024)
            schema.users[txn, u.oid] = u
        for i in range(n):
            s = app.Session()
            s.session = 1_000_000 + i
            s.realm, s.authid = rnd.choice(REALMS), f"user{rnd.randrange(n):06d}"
            s.authrole = rnd.choice(ROLES)
            s.joined_at = BASE_NS + i * 500_000_000
            s.left_at = s.joined_at + rnd.randrange(1, 3600) * 1_000_000_000 if i % 3 else 0
            s.transport = bytes(rnd.getrandbits(8) for _ in range(8))
            schema.sessions[txn, s.session] = s
    _write_events(db, schema, rnd, 0, 4 * n)
    with db.begin(write=True) as txn:
        for i in range(max(2, n // 50)):
            data = bytes(rnd.getrandbits(8) for _ in range(3000 + rnd.randrange(6000)))
            schema.attachments[txn, i + 1] = app.Attachment(
                i + 1, f"report-{i:04d}.pdf", "application/pdf", data)
        audits = max(5, n // 10)
        for i in range(audits):
            schema.audit[txn, i + 1] = {"seq": i + 1, "actor": f"user{rnd.randrange(n):06d}",
                                        "action": rnd.choice(["login", "logout", "grant", "revoke"]),
                                        "at": BASE_NS + i * (HISTORY_NS // audits),
                                        "detail": "granted role " + rnd.choice(ROLES) * 4}
        for i, key in enumerate(["node.name", "node.cluster", "router.realms", "router.max_sessions",
                                 "store.type", "store.map_size", "log.level", "metrics.enabled"]):
            schema.settings[txn, key] = {"key": key, "value": i * 7, "source": "config.json"}
        for i in range(max(3, n // 100)):  # an orphan slot: data written without a metadata record
            txn._txn.put(slot_prefix(ORPHAN_SLOT) + struct.pack(">Q", i),
                         b"legacy-row-%d" % i)
    db.__exit__(None, None, None)
    return path


def _write_events(db, schema, rnd: random.Random, start: int, count: int, batch: int = 5000) -> None:
    from zlmdb_inspect.demo import app as app

    done = 0
    while done < count:
        with db.begin(write=True) as txn:
            for i in range(start + done, start + min(count, done + batch)):
                e = app.Event()
                e.timestamp = BASE_NS + i * 250_000_000
                e.publication = 7_000_000 + i
                e.topic = rnd.choice(TOPICS)
                e.payload_size = rnd.randrange(16, 2048)
                e.acknowledged = bool(i % 2)
                key = (app.timestamp(e.timestamp), uuid.UUID(int=rnd.getrandbits(128), version=4))
                schema.events[txn, key] = e
        done += batch


def write_for(path: str, seconds: float, rate: int = 200, grow: bool = True,
              report=print, parent: int | None = None) -> int:
    """Keep writing events and sessions to the demo database: a live writer to watch.

    Commits about ``rate`` small transactions per second; when the map is full it
    doubles the map size, as a careful application does on ``MapFullError``. Stops early
    when the process that started it (``parent``: by default this process's parent when it
    starts) is gone (the TUI's terminal closed under it: a writer left behind would grow the
    demo's map for a day). Returns the number of transactions committed.
    """
    from zlmdb import lmdb

    from zlmdb_inspect.demo import app as app

    db = _open(path, 0, None)
    map_size = db._env.info()["map_size"]
    schema = app.DemoSchema(db)
    rnd = random.Random()
    with db.begin() as txn:
        start = schema.events.count(txn)
    end = time.monotonic() + seconds
    txns = 0
    seq = start
    parent = os.getppid() if parent is None else parent
    while time.monotonic() < end:
        t0 = time.monotonic()
        if os.getppid() != parent:  # reparented: whoever started this writer has ended
            report("the process that started this writer has ended: stopping")
            break
        try:
            with db.begin(write=True) as txn:
                for _ in range(5):
                    e = app.Event()
                    e.timestamp, e.publication = time.time_ns(), 9_000_000 + seq
                    e.topic, e.payload_size = rnd.choice(TOPICS), rnd.randrange(16, 2048)
                    schema.events[txn, (app.timestamp(e.timestamp), uuid.uuid4())] = e
                    seq += 1
            txns += 1
        except lmdb.MapFullError:
            if not grow:
                raise
            map_size *= 2
            db._env.set_mapsize(map_size)
            report(f"map full: grew the map to {map_size} bytes")
            continue
        delay = 1.0 / rate - (time.monotonic() - t0)
        if delay > 0:
            time.sleep(delay)
    db.__exit__(None, None, None)
    return txns
