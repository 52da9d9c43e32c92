"""Whole-table queries against the plain way, in the same run.

Builds one table of N records (default 1,000,000) as cfxdb stores sessions (UUID keys, CBOR
values of an object with ``marshal()``), then times, over the whole table:

- the plain way: zlmdb's ``select()`` and a Python filter on each object's ``marshal()``
  (a literal: ``needle in json.dumps(marshal())``; a field test: ``marshal()["authid"] == …``);
- the inspector's scan (``query.Scan``): the literal as a text query, the field test as
  ``jq:.value.authid == "…"``; without ``--import`` (the raw-bytes prefilter applies) and with
  ``--import`` (every record decoded through the application's code; no prefilter);

and prints records/s and the ratio to the plain way. Both sides find the same records (checked).

    python benchmarks/query_bench.py [N]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid

import txaio
import zlmdb

txaio.use_asyncio()
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from zlmdb_inspect.core.options import Options  # noqa: E402
from zlmdb_inspect.storage.inspector import Inspector  # noqa: E402
from zlmdb_inspect.tables import query  # noqa: E402
from zlmdb_inspect.tables.records import TableCodecs  # noqa: E402


class Session:
    def __init__(self, data: dict):
        self.data = data

    def marshal(self) -> dict:
        return dict(self.data)

    @staticmethod
    def parse(data: dict) -> Session:
        return Session(data)


@zlmdb.table("9b1e0000-0000-4000-8000-0000000000a1", marshal=Session.marshal, parse=Session.parse)
class Sessions(zlmdb.MapUuidCbor):
    """router sessions"""


NEEDLE_AUTHID = "alice"


def build(path: str, n: int) -> None:
    db = zlmdb.Database(dbpath=path, maxsize=4 * 1024**3, sync=False)
    t = db.attach_table(Sessions)
    base = 1_767_225_600_000_000_000
    batch = 50_000
    for start in range(0, n, batch):
        with db.begin(write=True) as txn:
            for i in range(start, min(n, start + batch)):
                oid = uuid.UUID(int=(i * 2654435761) % (1 << 122) | (1 << 126), version=4)
                authid = NEEDLE_AUTHID if i % 100_000 == 4242 else f"user-{i:07d}"
                t[txn, oid] = Session({"oid": str(oid), "session": 1_000_000 + i, "realm": "realm1",
                                       "authid": authid, "authrole": "user", "joined": base + i * 1_000_000,
                                       "transport": {"type": "websocket", "peer": f"tcp4:10.0.{i % 256}.{i % 250}"}})
    db.__exit__(None, None, None)


def plain(path: str, keep) -> tuple[int, float]:
    db = zlmdb.Database(dbpath=path, readonly=True, sync=False)
    t = db.attach_table(Sessions)
    t0 = time.perf_counter()
    found = 0
    with db.begin() as txn:
        for obj in t.select(txn, return_keys=False):
            if keep(obj.marshal()):
                found += 1
    secs = time.perf_counter() - t0
    db.__exit__(None, None, None)
    return found, secs


def inspector(path: str, q: query.Query, imports: list[str]) -> tuple[int, float, query.Progress]:
    ins = Inspector(path)
    try:
        cat = TableCodecs(Options(path=path, imports=imports))
        snap = ins.snapshot()
        table = next(t for t in snap.tables if t.slot)
        cat.profiled(ins, table)
        t0 = time.perf_counter()
        sc = query.scan(ins, cat, table, q)
        found = sum(1 for _ in sc.records())
        return found, time.perf_counter() - t0, sc.progress
    finally:
        ins.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "db")
        t0 = time.perf_counter()
        build(path, n)
        print(f"built {n:,} records in {time.perf_counter() - t0:.1f}s")
        cases = [
            ("literal 'alice'", lambda m: NEEDLE_AUTHID in json.dumps(m, ensure_ascii=False),
             query.Query("text", NEEDLE_AUTHID)),
            ("field authid == 'alice'", lambda m: m["authid"] == NEEDLE_AUTHID,
             query.Query("jq", f'.value.authid == "{NEEDLE_AUTHID}"')),
        ]
        print(f"{'query':<26}{'plain rec/s':>13}{'inspector rec/s':>17}{'ratio':>8}{'decoded':>10}"
              f"{'--import rec/s':>16}{'ratio':>8}{'longest txn':>13}")
        for name, keep, q in cases:
            want, plain_s = plain(path, keep)
            got, ins_s, prog = inspector(path, q, [])
            # --import: this script's Sessions class is registered in zlmdb.TABLES_BY_UUID already;
            # naming any module turns the application's decoding (its marshal()) on
            got_i, imp_s, _ = inspector(path, q, ["zlmdb"])
            assert got == want == got_i, (got, want, got_i)
            print(f"{name:<26}{n / plain_s:>13,.0f}{n / ins_s:>17,.0f}{plain_s / ins_s:>7.1f}x"
                  f"{prog.decoded:>10,}{n / imp_s:>16,.0f}{plain_s / imp_s:>7.1f}x"
                  f"{prog.longest_txn_s * 1000:>11.1f}ms")


if __name__ == "__main__":
    main()
