"""Memory and CPU of follow mode under a writer: the Changes pane's machinery on cfxdb-like publications.

A writer process adds cfxdb-shaped publications (FlatBuffers, CBOR args/kwargs, uint64 OID keys;
``tests/cfxdb_publications.py``) at ~600 records/s, in a transaction every 0.1 s. Meanwhile a
measured process opens the database through ``service.Service`` and, every ``--interval`` seconds
as the TUI does, refreshes the overview and (``follow``) polls ``Service.follow(table).poll()``
(what the Changes pane calls), keeping the newest ``KEEP`` changes as the pane does. It prints its
resident memory (RssAnon: its own memory; and VmRSS, which also counts the mapped database
pages it touched, growing with the file, /proc/self/status) at intervals and its CPU share (utime+stime from
/proc/self/stat over wall time), then the same run without following (``none``). Before printing
the follow run's figures it checks that the follower reported every record the writer inserted,
once each.

    python benchmarks/follow_bench.py [--seconds 120] [--rate 600] [--interval 2] [--start 20000]

Default: 120 s per run (two runs: follow, then none), so about 4 minutes in all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests", "support")]

import cfxdb_publications as pubs  # noqa: E402


def rss_mib(field: str = "RssAnon") -> float:
    """Resident memory from /proc/self/status. ``RssAnon`` is the process's own memory; ``VmRSS``
    also counts the database's mapped pages it touched (``RssFile``), which grow with the file."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field}")


def cpu_s() -> float:
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def writer(path: str, first: int, rate: float, seconds: float, ready: str) -> None:
    """Once the measured process has its starting state (``ready`` exists), adds ``rate``
    publications a second for ``seconds``; prints the OIDs' range when done."""
    from zlmdb import lmdb

    while not os.path.exists(ready):
        time.sleep(0.05)
    env = lmdb.open(path, map_size=1 << 30, lib_version=int(os.environ.get("BENCH_LIB", "1")))
    oid, t0 = first, time.monotonic()
    while time.monotonic() - t0 < seconds:
        due = int((time.monotonic() - t0) * rate) + first
        if due > oid:
            with env.begin(write=True) as txn:
                pubs.put_publications(txn, oid, due - oid, ts_ns=time.time_ns())
            oid = due
        time.sleep(0.1)
    env.close()
    print(json.dumps({"first": first, "end": oid}), flush=True)


def measured(path: str, mode: str, seconds: float, interval: float, every: float, ready: str,
             first: int, rate: float) -> None:
    """Runs as the TUI's workers do, in this process; prints one JSON line per sample and a summary."""
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service
    from zlmdb_inspect.tui.widgets.changes import KEEP

    svc = Service(Options(path=path))
    ref = svc.refresh()
    table = svc.resolve_table(ref.snapshot, "Publications")
    follower = svc.follow(table) if mode == "follow" else None
    if follower is not None:
        follower.poll()  # the starting state
    open(ready, "w").close()  # in the benchmark's temporary directory, not the database's
    items: list[dict] = []
    # how often each OID was reported inserted: one byte each, allocated before measuring (a dict of
    # 70,000 ints would itself grow this process by ~7 MiB)
    seen = bytearray(int(rate * seconds * 1.5) + 1000)
    other = 0
    t0 = c0 = None
    next_sample = 0.0
    samples = []
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        tick = time.monotonic()
        svc.refresh()
        if follower is not None:
            changes = follower.poll()
            for ch in changes:
                if ch["change"] == "insert" and 0 <= ch["key"] - first < len(seen):
                    seen[ch["key"] - first] = min(seen[ch["key"] - first] + 1, 255)
                else:
                    other += 1
            items = (list(reversed(changes)) + items)[:KEEP]  # what the pane keeps
        now = time.monotonic() - start
        if t0 is None and now >= min(30.0, seconds / 4):  # warm: CPU measured from here
            t0, c0 = time.monotonic(), cpu_s()
        if now >= next_sample:
            samples.append((round(now), round(rss_mib(), 1)))
            print(json.dumps({"t": round(now), "rss_mib": round(rss_mib(), 1),
                              "vmrss_mib": round(rss_mib("VmRSS"), 1)}),
                  flush=True)
            next_sample += every
        time.sleep(max(0.0, interval - (time.monotonic() - tick)))
    if follower is not None:  # the writer's last records: one more poll after it stopped
        time.sleep(interval)
        for ch in follower.poll():
            if ch["change"] == "insert" and 0 <= ch["key"] - first < len(seen):
                seen[ch["key"] - first] = min(seen[ch["key"] - first] + 1, 255)
            else:
                other += 1
    cpu = (cpu_s() - c0) / (time.monotonic() - t0) if t0 is not None and c0 is not None else float("nan")
    inserted = [first + i for i, c in enumerate(seen) if c]
    print(json.dumps({"done": True, "cpu_share": cpu, "samples": samples, "inserted": inserted,
                      "dups": sum(1 for c in seen if c > 1), "other": other, "kept": len(items)}),
          flush=True)


def run(mode: str, args: argparse.Namespace) -> dict:
    d = tempfile.mkdtemp(prefix="follow-bench-")
    path = os.path.join(d, "db")
    os.environ["BENCH_LIB"] = "1" if args.format == "1.0" else "0"
    pubs.create(path, args.format, n=args.start, map_size=1 << 30)
    ready = os.path.join(d, "ready")
    me = os.path.abspath(__file__)
    w = subprocess.Popen([sys.executable, me, "--role", "writer", "--path", path, "--seconds", str(args.seconds),
                          "--rate", str(args.rate), "--first", str(args.start + 1), "--ready", ready],
                         stdout=subprocess.PIPE, text=True)
    m = subprocess.Popen([sys.executable, me, "--role", mode, "--path", path, "--seconds", str(args.seconds),
                          "--interval", str(args.interval), "--every", str(args.every), "--ready", ready,
                          "--first", str(args.start + 1), "--rate", str(args.rate)],
                         stdout=subprocess.PIPE, text=True, cwd=ROOT)
    summary: dict = {}
    assert m.stdout is not None
    for line in m.stdout:
        d_ = json.loads(line)
        if d_.get("done"):
            summary = d_
        else:
            print(f"  {mode:6} t={d_['t']:4d}s  RssAnon {d_['rss_mib']:7.1f} MiB  VmRSS {d_['vmrss_mib']:7.1f} MiB",
                  flush=True)
    m.wait()
    out, _ = w.communicate()
    summary["writer"] = json.loads(out.strip().splitlines()[-1])
    return summary


def report(mode: str, s: dict, args: argparse.Namespace) -> None:
    rss = [r for _, r in s["samples"]]
    warm = [r for t, r in s["samples"] if t >= min(30.0, args.seconds / 4)]
    w = s["writer"]
    n = w["end"] - w["first"]
    line = (f"{mode}: {n:,} records written in {args.seconds:.0f} s ({n / args.seconds:,.0f}/s); RSS "
            f"{rss[0]:.1f} -> {rss[-1]:.1f} MiB (warm: {min(warm):.1f}..{max(warm):.1f}, "
            f"{(max(warm) / min(warm) - 1) * 100:.1f} % spread); CPU {s['cpu_share'] * 100:.1f} % of a core")
    if mode == "follow":
        want = list(range(w["first"], w["end"]))
        missing = sorted(set(want) - set(s["inserted"]))
        extra = sorted(set(s["inserted"]) - set(want))
        assert not missing and not extra, (f"follow missed or invented inserts: {len(s['inserted'])} reported, "
                                           f"{len(want)} written; missing {missing[:5]}…{missing[-5:]}, "
                                           f"extra {extra[:5]}")
        assert s["dups"] == 0 and s["other"] == 0, s
        line += f"; every insert seen once ({len(want):,}), pane keeps {s['kept']}"
    print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--role", default="main", choices=["main", "writer", "follow", "none"])
    ap.add_argument("--path")
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--rate", type=float, default=600.0)
    ap.add_argument("--interval", type=float, default=2.0, help="the TUI's refresh interval")
    ap.add_argument("--every", type=float, default=10.0, help="seconds between RSS samples")
    ap.add_argument("--start", type=int, default=20_000, help="publications before the writer starts")
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--ready", default="")
    ap.add_argument("--format", default="1.0", choices=["1.0", "0.9"])
    ap.add_argument("--modes", default="follow,none")
    args = ap.parse_args()
    if args.role == "writer":
        writer(args.path, args.first, args.rate, args.seconds, args.ready)
        return
    if args.role in ("follow", "none"):
        measured(args.path, args.role, args.seconds, args.interval, args.every, args.ready, args.first,
                 args.rate)
        return
    results = {mode: run(mode, args) for mode in args.modes.split(",")}
    for mode, s in results.items():
        report(mode, s, args)


if __name__ == "__main__":
    main()
