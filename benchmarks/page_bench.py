"""Paging cost against table size: the first page and a page at the far end.

Builds tables of 1,000 and N (1,000,000) records in one database and reads 100
records at the start and at the end of each, through the inspector
(``Service.read_window``: one short read transaction, ``set_range`` by key, decoded)
and through zlmdb's own ``select(limit=100)`` / ``select(reverse=True, limit=100)``,
measured in the same run, and the position of the last page ("records N–M of T", counted from
the B-tree's pages). Checks that both sides read the same 100 records (keys and decoded values)
and the position, then prints milliseconds and ratios.

    python benchmarks/page_bench.py [N]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid

import timing  # benchmarks/timing.py (this directory is on sys.path when run as a script)
import txaio
import zlmdb

txaio.use_asyncio()


@zlmdb.table("be0c0000-0000-4000-8000-000000000001", marshal=lambda o: o, parse=lambda d: d)
class Small(zlmdb.MapOidCbor):
    """1,000 records"""


@zlmdb.table("be0c0000-0000-4000-8000-000000000002", marshal=lambda o: o, parse=lambda d: d)
class Big(zlmdb.MapOidCbor):
    """1,000,000 records"""


def build(path: str, big_n: int) -> None:
    db = zlmdb.Database(dbpath=path, maxsize=4 * 1024 ** 3, sync=False)
    small, big = db.attach_table(Small), db.attach_table(Big)
    with db.begin(write=True) as txn:
        for i in range(1000):
            small[txn, i] = {"i": i, "name": f"r{i}", "oid": str(uuid.UUID(int=i))}
    for start in range(0, big_n, 100_000):
        with db.begin(write=True) as txn:
            for i in range(start, min(big_n, start + 100_000)):
                big[txn, i] = {"i": i, "name": f"r{i}", "oid": str(uuid.UUID(int=i))}
    db.__exit__(None, None, None)


def best(fn, n: int = 20) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def same_records(ours, theirs, what: str) -> None:
    """The inspector's window equals zlmdb's select: the same oids in the same order, each value
    decoded whole and equal (a window of wrong or stale records would time nothing)."""
    got = [(int.from_bytes(r.raw_key[2:], "big"), r.value, r.error, r.truncated) for r in ours]
    want = [(k, v, None, False) for k, v in theirs]
    timing.check(len(got) == 100 and got == want, f"{what}: the inspector's 100 records differ from zlmdb's")


def main(big_n: int) -> None:
    from zlmdb_inspect.core.kinds import Direction
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "db")
        build(path, big_n)
        results = []
        for klass in (Small, Big):
            db = zlmdb.Database(dbpath=path, maxsize=4 * 1024 ** 3, readonly=True)
            t = db.attach_table(klass)

            # bound as defaults: each closure keeps this iteration's database and table
            def z_first(db=db, t=t):
                with db.begin() as txn:
                    return list(t.select(txn, limit=100))

            def z_last(db=db, t=t):
                with db.begin() as txn:
                    return list(t.select(txn, limit=100, reverse=True))

            zf, zl = best(z_first), best(z_last)
            z_first_records, z_last_records = z_first(), z_last()
            db.__exit__(None, None, None)
            svc = Service(Options(path=path))
            snap = svc.snapshot()
            table = svc.resolve_table(snap, klass.__name__)
            fi = best(lambda svc=svc, table=table: svc.read_window(table, None, Direction.FIRST, 100))
            la = best(lambda svc=svc, table=table: svc.read_window(table, None, Direction.LAST, 100))
            last_page = svc.read_window(table, None, Direction.LAST, 100).records
            same_records(svc.read_window(table, None, Direction.FIRST, 100).records, z_first_records,
                         f"{klass.__name__} first")
            same_records(last_page, z_last_records[::-1], f"{klass.__name__} last")  # zlmdb's in reverse order
            last_key = last_page[0].raw_key
            pos = best(lambda svc=svc, table=table, last_key=last_key: svc.position(table, last_key))
            where = svc.position(table, last_key)
            timing.check(where == table.records - 100, f"position {where}, expected {table.records - 100}")
            svc.close()
            results.append((f"{table.records:,} records", fi, la, zf, zl, pos))
        print(f"{'table':>18} {'first page':>11} {'last page':>10} {'zlmdb first':>12} {'zlmdb last':>11} "
              f"{'ratio':>6} {'position':>9}")
        for name, fi, la, zf, zl, pos in results:
            print(f"{name:>18} {fi:>9.2f}ms {la:>8.2f}ms {zf:>10.2f}ms {zl:>9.2f}ms "
                  f"{(fi + la) / (zf + zl):>5.2f}x {pos:>7.2f}ms")
        (_, f1, l1, _, _, _), (_, f2, l2, _, _, _) = results
        print(f"{big_n:,}-record table vs 1,000-record table: first page {f2 / f1:.2f}x, last page {l2 / l1:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
