"""What a scrape of the exporter costs, against zlmdb's own statistics of the same databases.

Builds N databases (five tables each, R records), starts the exporter on 127.0.0.1 over all of
them, and times in the same run: zlmdb's ``Database.stats(include_slots=True)`` over every
database (opened once), a scrape that refreshes every database whose data did not change, a
scrape within the interval (every refresh reused), and a scrape after another process wrote
300 records to one database. Prints milliseconds and each one's ratio to zlmdb's stats, after
checking that every scrape's per-table record counts equal zlmdb's stats (after a write, the new
counts: a stale scrape would be fast and wrong).

    python benchmarks/exporter_bench.py [N] [R]
"""

from __future__ import annotations

import ast
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import timing  # benchmarks/timing.py (this directory is on sys.path when run as a script)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))

import zlmdb  # noqa: E402
from count_bench import WRITE_300, ZLMDB_PROC, build  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from zlmdb_inspect.reports.prometheus import MetricsServer  # noqa: E402
from zlmdb_inspect.service.fleet import Fleet  # noqa: E402


def open_db(path: str):
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import open_service

    return open_service(Options(path=path))


def median_ms(fn, n: int = 15) -> float:
    return timing.median_ms(fn, n)


def zlmdb_counts(path: str) -> dict[int, int]:
    """Per-slot records by zlmdb's own ``stats()``, read afresh in a child process (the exporter
    has the environment open in this one, and LMDB allows one open per process)."""
    out = subprocess.run([sys.executable, "-c", ZLMDB_PROC, path], check=True, capture_output=True, text=True).stdout
    return ast.literal_eval(out)


def scraped_counts(body: bytes) -> dict[str, dict[int, int]]:
    """``zlmdb_table_records`` of a scrape, by path and slot; every database must be up."""
    out: dict[str, dict[int, int]] = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            if s.name == "zlmdb_up":
                timing.check(s.value == 1.0, f"{s.labels['path']} is down in a scrape")
            elif s.name == "zlmdb_table_records" and s.labels["slot"] != "0":  # zlmdb's stats leave out the catalog
                out.setdefault(s.labels["path"], {})[int(s.labels["slot"])] = int(s.value)
    return out


def main(n: int, records: int) -> None:
    tmp = tempfile.mkdtemp(prefix="exporter-bench-")
    paths = []
    for i in range(n):
        p = os.path.join(tmp, f"db{i}")
        build(p, records, "1.0")
        paths.append(p)
    dbs = [zlmdb.Database(dbpath=p, maxsize=8 * 1024 ** 3, readonly=True) for p in paths]
    zlmdb_ms = median_ms(lambda: [db.stats(include_slots=True) for db in dbs], 3)
    expected = {p: {s["slot"]: s["records"] for s in db.stats(include_slots=True)["slots"]}
                for p, db in zip(paths, dbs)}
    for db in dbs:
        db.__exit__(None, None, None)

    fleet = Fleet(paths, open_db, max_age=0.0)
    server = MetricsServer(lambda: fleet.results(timeout=30), port=0)
    url = f"http://127.0.0.1:{server.port}/metrics"

    bodies: list[bytes] = []

    def scrape() -> bytes:
        with urllib.request.urlopen(url, timeout=30) as r:
            body = r.read()
        bodies.append(body)  # checked after the timing, each one
        return body

    def check_bodies(what: str) -> None:
        for body in bodies:
            got = scraped_counts(body)
            timing.check(got == expected, f"{what}: scraped {got}, zlmdb's stats {expected}")
        bodies.clear()

    try:
        t0 = time.perf_counter()
        scrape()
        first_ms = (time.perf_counter() - t0) * 1000
        check_bodies("first scrape")
        unchanged_ms = median_ms(scrape)
        check_bodies("scrape, unchanged")
        fleet.max_age = 3600.0
        reused_ms = median_ms(scrape)
        check_bodies("scrape within the interval")
        fleet.max_age = 0.0
        writes = []

        def after_write() -> None:
            subprocess.run([sys.executable, "-c", WRITE_300, paths[0]], check=True)
            expected[paths[0]] = zlmdb_counts(paths[0])  # the first write adds 300, the next overwrite them
            t0 = time.perf_counter()
            scrape()
            writes.append(time.perf_counter() - t0)
            check_bodies("scrape after a write")

        for _ in range(5):
            after_write()
        write_ms = statistics.median(writes) * 1000
    finally:
        server.close()
        fleet.close()
    print(f"{n} databases of {records:,} records (1.0 format), exporter on 127.0.0.1")
    print(f"{'what':48} {'ms':>9} {'of zlmdb stats':>15}")
    for what, ms in ((f"zlmdb Database.stats() of all {n} (opened once)", zlmdb_ms),
                     ("first scrape (opens every database)", first_ms),
                     ("scrape, every database refreshed, unchanged", unchanged_ms),
                     ("scrape within the interval (all reused)", reused_ms),
                     ("scrape after 300 records written to one", write_ms)):
        print(f"{what:48} {ms:9.2f} {ms / zlmdb_ms:14.3f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8, int(sys.argv[2]) if len(sys.argv) > 2 else 200_000)
