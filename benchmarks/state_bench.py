"""State between runs: a one-shot run's cost, first against repeat, warm and cold, both formats.

Builds a database of N records under random keys (5 zlmdb tables) per LMDB format, then in one
run of the script, each as a fresh ``Service`` the way ``--json``/``--check`` runs:

* first: no state file yet (a full walk; it writes the state);
* repeat: after 200 small commits (one random record each), from the state the run before left
  (``--repeats`` times, each after its own commits; the median is compared with the first run);
* same: again, with nothing committed since;
* the same three again with ``data.mdb``'s pages dropped from the page cache first
  (``posix_fadvise(DONTNEED)`` on the benchmark's own file only).

Each run is measured in this process (a fresh ``Service``, whose refresh is timed), and again as a
whole ``zlmdb-inspect --json`` process (warm only): interpreter start, imports and output included.
Last, "live": one ``Service`` kept open and refreshed after each batch of commits, as the TUI,
``--watch`` and the exporter refresh (warm). A live 0.9 walk costs more than 0.1 s, so it waits for
its share of time (``Inspector.WALK_SHARE``): those rows say their counts were deferred.

Prints per run the CPU time of the refresh (walk, catalog, sampling, writing the state), the
bytes it read (``--json``'s ``read_bytes``), the state file's size and, where ``fincore`` is
installed, how much of ``data.mdb`` was in the page cache afterwards. Counts and the free
database's figures (free and reusable pages, free runs) are checked against a walk without state.

    python benchmarks/state_bench.py 1000000          # N; the issue's figure is 10000000 (slow to build)
    python benchmarks/state_bench.py 10000000 --dir D # D/db-1.0, D/db-0.9 used as they are when present
                                                      # (e.g. copies of shapes.py's random-*-10000000:
                                                      # the benchmark commits to them)

"in cache" is the share of ``data.mdb`` in the page cache after the run (``fincore``); on a cold
run it is what the run read, readahead included ("cached MiB").
"""

from __future__ import annotations

import argparse
import compileall
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as zlmdb_inspect.cli sets it before numpy is imported

import cbor2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # this tree, not an install

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import open_service

TABLES = 5


def build(path: str, n: int, fmt: str, seed: int = 1) -> None:
    from zlmdb import lmdb

    env = lmdb.open(path, map_size=16 * 1024 ** 3, lib_version=0 if fmt == "0.9" else 1, sync=False)
    rnd = random.Random(seed)
    with env.begin(write=True) as txn:
        for slot in range(1, TABLES + 1):
            txn.put(b"\0\0" + struct.pack(">H", slot), cbor2.dumps(
                {"oid": str(uuid.UUID(int=slot)), "name": f"T{slot}", "description": None,
                 "creator": "bench", "slot": slot}))
    done = 0
    while done < n:
        with env.begin(write=True) as txn:
            for _ in range(min(100_000, n - done)):
                txn.put(struct.pack(">H", rnd.randint(1, TABLES)) + rnd.randbytes(16), rnd.randbytes(40))
            done += min(100_000, n - done)
    env.close()


def commits(path: str, fmt: str, k: int, seed: int, slots: list[int]) -> None:
    """``k`` write transactions of one record each, under a random key of one of the tables ``slots``."""
    from zlmdb import lmdb

    env = lmdb.open(path, map_size=16 * 1024 ** 3, lib_version=0 if fmt == "0.9" else 1)
    rnd = random.Random(seed)
    for _ in range(k):
        with env.begin(write=True) as txn:
            txn.put(struct.pack(">H", rnd.choice(slots)) + rnd.randbytes(16), rnd.randbytes(40))
    env.close()


def drop_cache(path: str) -> None:
    fd = os.open(os.path.join(path, "data.mdb"), os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def cached(path: str) -> tuple[int, int] | None:
    """(bytes of data.mdb in the page cache, its size), by ``fincore``; None without it."""
    f = os.path.join(path, "data.mdb")
    if not shutil.which("fincore"):
        return None
    out = subprocess.run(["fincore", "-b", "-n", "-o", "RES,SIZE", f], capture_output=True, text=True).stdout.split()
    return (int(out[0]), int(out[1])) if len(out) == 2 else None


def free_figures(snap) -> tuple:
    """The free database's pages and records, and the runs of reusable pages (1.0: reused from the state)."""
    c = snap.capacity
    return c.free_pages, c.reusable_pages, c.free_db_pages, c.last_commit_freed_pages, c.free_runs


#: the pages this process's runs read one by one (headers with pread, whole pages with preadv) and the CPU
#: time of those reads, since the last reset: a repeat run's floor, the pages a walk from saved summaries
#: cannot skip
READS: dict[str, float] = {"headers": 0, "pages": 0, "cpu": 0.0}
READ_AT: list[list[int]] = []  # the offsets of each batch of header reads since the last reset


def count_reads() -> None:
    """Count the scattered reads of :class:`~zlmdb_inspect.storage.pageformat.PageFile` in this process
    (wrappers around the two methods that make them, in the benchmark's process only): ``_pread`` reads
    the headers it is given, ``fresh_pages`` the pages new to the process, one ``os.preadv`` each."""
    from zlmdb_inspect.storage import pageformat

    pread, fresh, preadv = pageformat.PageFile._pread, pageformat.PageFile.fresh_pages, os.preadv
    inside = [False]

    def timed_pread(self, offsets, size):
        c0 = time.process_time()
        try:
            return pread(self, offsets, size)
        finally:
            READS["cpu"] += time.process_time() - c0
            READS["headers"] += len(offsets)
            READ_AT.append(list(offsets))

    def timed_fresh(self, pgnos):
        c0, inside[0] = time.process_time(), True
        try:
            return fresh(self, pgnos)
        finally:
            READS["cpu"] += time.process_time() - c0
            inside[0] = False

    def counted_preadv(fd, buffers, offset, *rest):
        READS["pages"] += inside[0]
        return preadv(fd, buffers, offset, *rest)

    pageformat.PageFile._pread = timed_pread  # type: ignore[method-assign]
    pageformat.PageFile.fresh_pages = timed_fresh  # type: ignore[method-assign]
    os.preadv = counted_preadv


def page_gaps(batches: list[list[int]], page_size: int) -> list[int]:
    """Pages between neighbours of each batch of reads, in file order (a read that served two pages
    would need them within one page of each other)."""
    out: list[int] = []
    for offs in batches:
        pg = sorted(o // page_size for o in offs)
        out.extend(b - a for a, b in zip(pg, pg[1:]))
    return out


def one_run(path: str, state_dir: str | None):
    svc = open_service(Options(path=path, state=state_dir is not None, state_dir=state_dir))
    try:
        c0, w0 = time.process_time(), time.perf_counter()
        ref = svc.refresh()
        return ref, time.process_time() - c0, time.perf_counter() - w0
    finally:
        svc.close()


TREE = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def process_run(path: str, state_dir: str | None) -> tuple[float, float]:
    """CPU (user + system, from the child's rusage) and wall time of a whole ``zlmdb-inspect --json``
    process of this tree: what a cron or Nagios run pays (interpreter, imports, refresh, JSON)."""
    import resource

    env = dict(os.environ, PYTHONPATH=TREE)
    r0, w0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    args = ["--no-state"] if state_dir is None else ["--state-dir", state_dir]
    proc = subprocess.run([sys.executable, "-m", "zlmdb_inspect", "--json", *args, path],
                          capture_output=True, env=env, cwd=TREE)  # (-m puts the working directory first)
    wall = time.perf_counter() - w0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1, 2):
        raise SystemExit(f"zlmdb-inspect --json exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    return r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("records", type=int, nargs="?", default=1_000_000)
    ap.add_argument("--commits", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3, help="repeat runs (each after its own commits) per block")
    ap.add_argument("--dir", default=None, help="where to build (default: a temporary directory)")
    if sys.argv[1:2] == ["--commit-only"]:  # the live block's writer (a child process): PATH FMT K SEED SLOTS
        where, form, k, seed, which = sys.argv[2:7]
        commits(where, form, int(k), int(seed), [int(s) for s in which.split(",")])
        return
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats: at least 1")
    root = args.dir or tempfile.mkdtemp(prefix="state-bench-")
    os.makedirs(root, exist_ok=True)
    print(f"{args.records:,} random keys, {TABLES} tables; repeat runs after {args.commits} small commits")
    print(f"{'format':6} {'cache':5} {'run':7} {'cpu s':>7} {'wall s':>7} {'read MiB':>9} {'tree MiB':>9} "
          f"{'read/tree':>9} {'state KiB':>9} {'in cache':>8} {'cached MiB':>10} method")
    compileall.compile_dir(os.path.join(TREE, "zlmdb_inspect"), quiet=1)  # for the whole processes, below
    count_reads()
    for fmt in ("1.0", "0.9"):
        path = os.path.join(root, f"db-{fmt}")
        if not os.path.exists(os.path.join(path, "data.mdb")):
            t0 = time.perf_counter()
            build(path, args.records, fmt)
            print(f"  (built {fmt} in {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        slots = None
        runs = ["first"] + ["repeat"] * args.repeats + ["same"]
        cpus: dict[tuple[str, str], list[float]] = {}
        reads: dict[str, list[tuple[int, int, float]]] = {}  # by cache: each repeat's (headers, pages, read CPU)
        gaps: dict[str, list[int]] = {}  # by cache: pages between neighbours (in file order) of each batch read
        for cache in ("warm", "cold"):
            st = tempfile.mkdtemp(prefix="state-")
            for i, run in enumerate(runs):
                if run == "repeat":
                    commits(path, fmt, args.commits, (7 if cache == "warm" else 8) * 100 + i, slots or [1])
                if cache == "warm":
                    one_run(path, None)  # the page cache holds the file
                else:
                    drop_cache(path)
                READS.update(headers=0, pages=0, cpu=0.0)
                READ_AT.clear()
                ref, cpu, wall = one_run(path, st)
                cpus.setdefault((cache, run), []).append(cpu)
                if run == "repeat":
                    reads.setdefault(cache, []).append((int(READS["headers"]), int(READS["pages"]), READS["cpu"]))
                    gaps.setdefault(cache, []).extend(page_gaps(READ_AT, ref.snapshot.lmdb.page_size))
                slots = [t.slot for t in ref.snapshot.tables if t.slot > 0]
                res = cached(path)
                check, _, _ = one_run(path, None)
                assert [(t.slot, t.records) for t in ref.snapshot.tables] == \
                    [(t.slot, t.records) for t in check.snapshot.tables], "counts differ from a walk without state"
                assert free_figures(ref.snapshot) == free_figures(check.snapshot), \
                    "the free database's figures differ from a walk without state"
                lm = ref.snapshot.lmdb
                tree = (lm.branch_pages + lm.leaf_pages) * lm.page_size
                state_kib = sum(os.path.getsize(os.path.join(st, f)) for f in os.listdir(st)) / 1024
                share = f"{100 * res[0] / res[1]:.0f}%" if res else "n/a"
                mib = f"{res[0] / 2**20:.0f}" if res else "n/a"
                print(f"{fmt:6} {cache:5} {run:7} {cpu:7.3f} {wall:7.3f} {ref.read_bytes / 2**20:9.1f} "
                      f"{tree / 2**20:9.1f} {100 * ref.read_bytes / tree:8.1f}% {state_kib:9.0f} {share:>8} "
                      f"{mib:>10} {ref.snapshot.count_method}", flush=True)
            shutil.rmtree(st)
        # the same three as whole processes (warm): a one-shot run's interpreter and imports included, each
        # module's bytecode compiled (as an install has it, above) and one process run first, not measured
        process_run(path, None)
        st = tempfile.mkdtemp(prefix="state-")
        for i, run in enumerate(runs):
            if run == "repeat":
                commits(path, fmt, args.commits, 900 + i, slots or [1])
            one_run(path, None)
            cpu, wall = process_run(path, st)
            cpus.setdefault(("process", run), []).append(cpu)
            print(f"{fmt:6} warm  {run:7} {cpu:7.3f} {wall:7.3f}   (a whole zlmdb-inspect --json process)", flush=True)
        shutil.rmtree(st)
        # a process that stays (the TUI, --watch, the exporter): one Service refreshed again after each batch of
        # commits (written by a child process: LMDB opens an environment once per process); its walk finds the
        # pages it read before already mapped, and it samples the tables at most every 30 s (none of these did)
        svc = open_service(Options(path=path, state=False))
        try:
            for i, run in enumerate(runs):
                if run == "repeat":
                    subprocess.run([sys.executable, __file__, "--commit-only", path, fmt, str(args.commits),
                                    str(1000 + i), ",".join(map(str, slots or [1]))], check=True)
                c0, w0 = time.process_time(), time.perf_counter()
                ref = svc.refresh(live=True)
                cpu, wall = time.process_time() - c0, time.perf_counter() - w0
                cpus.setdefault(("live", run), []).append(cpu)
                snap = ref.snapshot
                counted = "counts of this snapshot" if snap.counts_txnid == snap.lmdb.last_txnid else \
                    f"counts deferred: from txn {snap.counts_txnid}, not {snap.lmdb.last_txnid}"  # a 0.9 walk's share
                print(f"{fmt:6} warm  {run:7} {cpu:7.3f} {wall:7.3f} {ref.read_bytes / 2**20:9.1f}   "
                      f"(a live process's refresh, {snap.count_method}; {counted})", flush=True)
        finally:
            svc.close()
        for cache in ("warm", "cold", "process", "live"):
            first, med = cpus[(cache, "first")][0], statistics.median(cpus[(cache, "repeat")])
            print(f"{fmt:6} {cache:7} repeat/first: {100 * med / first:.1f} % (median repeat {med:.3f} s of "
                  f"{', '.join(f'{c:.3f}' for c in cpus[(cache, 'repeat')])}; first {first:.3f} s)", flush=True)
        for cache, rs in reads.items():
            # the floor of a repeat: every child of a changed branch page is read (its header's txnid is what
            # proves a saved summary still holds: page numbers are reused), scattered over the file
            if not any(h + p for h, p, _ in rs):
                continue
            of_cpu = statistics.median(c / r for (_, _, c), r in zip(rs, cpus[(cache, "repeat")], strict=True))
            print(f"{fmt:6} {cache:7} repeat reads: " + ", ".join(
                f"{h:,} headers and {p:,} whole pages in {c * 1e3:.0f} ms ({c * 1e6 / (h + p):.2f} us a page)"
                for h, p, c in rs) + f"; median {100 * of_cpu:.0f} % of the repeat's CPU", flush=True)
            g = sorted(gaps.get(cache, []))
            if g:
                print(f"{fmt:6} {cache:7} header reads' pages apart (file order, per batch): median {g[len(g) // 2]}, "
                      f"{100 * sum(1 for x in g if x <= 1) / len(g):.0f} % next to another", flush=True)
    if not args.dir:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
