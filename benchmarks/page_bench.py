"""Paging cost against table size: the first page and a page at the far end.

Builds tables of 1,000 and 1,000,000 records in one database and reads 100
records at the start and at the end of each, through the inspector
(``Service.read_window``: one short read transaction, ``set_range`` by key, decoded)
and through zlmdb's own ``select(limit=100)`` / ``select(reverse=True, limit=100)``,
measured in the same run, and the position of the last page ("records N–M of T", counted from
the B-tree's pages). Prints milliseconds and ratios.

    python benchmarks/page_bench.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid

import txaio
import zlmdb

txaio.use_asyncio()


@zlmdb.table("be0c0000-0000-4000-8000-000000000001", marshal=lambda o: o, parse=lambda d: d)
class Small(zlmdb.MapOidCbor):
    """1,000 records"""


@zlmdb.table("be0c0000-0000-4000-8000-000000000002", marshal=lambda o: o, parse=lambda d: d)
class Big(zlmdb.MapOidCbor):
    """1,000,000 records"""


def build(path: str) -> None:
    db = zlmdb.Database(dbpath=path, maxsize=4 * 1024 ** 3, sync=False)
    small, big = db.attach_table(Small), db.attach_table(Big)
    with db.begin(write=True) as txn:
        for i in range(1000):
            small[txn, i] = {"i": i, "name": f"r{i}", "oid": str(uuid.UUID(int=i))}
    for start in range(0, 1_000_000, 100_000):
        with db.begin(write=True) as txn:
            for i in range(start, start + 100_000):
                big[txn, i] = {"i": i, "name": f"r{i}", "oid": str(uuid.UUID(int=i))}
    db.__exit__(None, None, None)


def best(fn, n: int = 20) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "db")
        build(path)
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
            db.__exit__(None, None, None)
            svc = Service(Options(path=path))
            snap = svc.snapshot()
            table = svc.resolve_table(snap, klass.__name__)
            fi = best(lambda svc=svc, table=table: svc.read_window(table, None, "first", 100))
            la = best(lambda svc=svc, table=table: svc.read_window(table, None, "last", 100))
            last_key = svc.read_window(table, None, "last", 100).records[0].raw_key
            pos = best(lambda svc=svc, table=table, last_key=last_key: svc.position(table, last_key))
            assert svc.position(table, last_key) == table.records - 100
            svc.close()
            results.append((klass.__doc__, fi, la, zf, zl, pos))
        print(f"{'table':>18} {'first page':>11} {'last page':>10} {'zlmdb first':>12} {'zlmdb last':>11} "
              f"{'ratio':>6} {'position':>9}")
        for name, fi, la, zf, zl, pos in results:
            print(f"{name:>18} {fi:>9.2f}ms {la:>8.2f}ms {zf:>10.2f}ms {zl:>9.2f}ms "
                  f"{(fi + la) / (zf + zl):>5.2f}x {pos:>7.2f}ms")
        (_, f1, l1, _, _, _), (_, f2, l2, _, _, _) = results
        print(f"1M-record table vs 1K-record table: first page {f2 / f1:.2f}x, last page {l2 / l1:.2f}x")


if __name__ == "__main__":
    main()
