"""Memory and CPU of the real TUI following cfxdb's Publications (issue 26 item 7), measured from /proc.

The case the issue reports: the TUI, ``--import cfxdb.realmstore`` (the application's classes decode
every changed record), the Changes pane open (``f``) on a real cfxdb realm store's Publications,
while Crossbar-like traffic adds ~600 publications a second. Here:

- the database is made with cfxdb's own schema (``RealmStore.attach``) and ``--start`` of cfxdb's own
  ``Publication`` objects; a writer process adds ``--rate`` a second through the same schema, in a
  write transaction every 0.1 s (as a router archiving publications does);
- the TUI runs as its own process in a tmux pane (a real terminal, ``--size`` columns x rows), driven
  by keys: down to Publications on the Tables tab, enter, ``f``. ``--mode plain`` stops at the open
  table without ``f`` (the baseline); ``--mode overview`` stays on the overview;
- every ``--every`` seconds it reads the TUI's VmRSS and RssAnon (/proc/PID/status), its CPU
  (utime+stime of /proc/PID/stat; the share of a core since the previous sample and since warm-up)
  and the Changes pane's title from the screen (how many changes it has shown).

With ``--tracemalloc N`` the TUI process starts tracing allocations (N frames) at the first SIGUSR1,
which the benchmark sends after warm-up, and writes a snapshot on each; the second comes at the end,
and the benchmark prints the 15 biggest growths between them by traceback (tracing slows the TUI:
its CPU figures are then not the TUI's).

Needs a venv with cfxdb and this project's dependencies (not the package itself: run from the
repository root so this tree is imported), e.g. crossbar's venv plus textual, jq, prometheus_client:

    cd REPO && /work/cbvenv/bin/python benchmarks/follow_tui_bench.py --seconds 1200 [--mode follow|plain]

Measured (``--seconds 1800``, 1.0 format, 2 shared cores), after the follower kept groups of leaves
(one state per bottom branch page) beyond the exact records: RssAnon 98.4 MiB at minute 1, 103.8 at
5, 105.5 at 10, 107.5 at 20, 108.4 at 30 (+4.4 % from minute 5, +10.2 % from minute 1; the exact
records fill up in the first ~2.5 minutes); CPU 9.4 % of a core after the first minute (8.2 % in
minutes 1-5, 9.9 % in minutes 25-30). With one state per leaf: 96.6 -> 124.4 MiB from minute 1 to
20, still rising; CPU 11.8 %, 12-15 % by the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
TOPIC = "com.example.chat"


def publication(oid: int, ts_ns: int):
    """cfxdb's own Publication object, as a router persists one (args and kwargs as CBOR)."""
    from cfxdb.realmstore import Publication

    p = Publication()
    p.timestamp, p.publication, p.publisher, p.topic = ts_ns, oid, 1000 + oid % 17, TOPIC
    p.args = [f"hello {'bob' if oid % 3 == 0 else 'alice'}", oid]
    p.kwargs = {"from": "bob" if oid % 5 == 0 else "carol", "n": oid}
    return p


def open_store(path: str, fmt: str):
    import zlmdb
    from cfxdb.realmstore import RealmStore

    db = zlmdb.Database(dbpath=path, maxsize=1 << 31, lib_version=fmt)
    return db, RealmStore.attach(db)


def create(path: str, fmt: str, n: int) -> None:
    db, store = open_store(path, fmt)
    with db.begin(write=True) as txn:
        for oid in range(1, n + 1):
            store.publications[txn, oid] = publication(oid, time.time_ns())
    db.__exit__(None, None, None)


def writer(path: str, fmt: str, first: int, rate: float, seconds: float, ready: str) -> None:
    """Once ``ready`` exists (the TUI follows), adds ``rate`` publications a second for ``seconds``."""
    while not os.path.exists(ready):
        time.sleep(0.05)
    db, store = open_store(path, fmt)
    oid, t0 = first, time.monotonic()
    while time.monotonic() - t0 < seconds:
        due = int((time.monotonic() - t0) * rate) + first
        if due > oid:
            with db.begin(write=True) as txn:
                now = time.time_ns()
                for o in range(oid, due):
                    store.publications[txn, o] = publication(o, now)
            oid = due
        time.sleep(0.1)
    db.__exit__(None, None, None)
    print(json.dumps({"first": first, "end": oid}), flush=True)


def tui_app(snapdir: str, frames: int, argv: list[str]) -> None:
    """The TUI as ``python -m zlmdb_inspect`` runs it; with ``frames`` it traces allocations and
    writes ``snapdir/N.snap`` on each SIGUSR1."""
    if frames:
        import tracemalloc

        count = [0]

        def dump(*_: object) -> None:  # the first signal starts tracing: startup is not slowed down
            if not tracemalloc.is_tracing():
                tracemalloc.start(frames)
            count[0] += 1
            tracemalloc.take_snapshot().dump(os.path.join(snapdir, f"{count[0]}.snap"))

        signal.signal(signal.SIGUSR1, dump)
    sys.path.insert(0, ROOT)  # this tree's package, not an installed one
    from zlmdb_inspect.cli import main

    sys.exit(main(argv))


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and RssAnon (MiB) and utime+stime (s) of ``pid``."""
    out: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name = line.split(":", 1)[0]
            if name in ("VmRSS", "RssAnon", "RssFile"):
                out[name] = int(line.split()[1]) / 1024
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    out["cpu_s"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


class Tmux:
    def __init__(self, sock: str) -> None:
        self.sock = sock

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.sock, *args], check=True, capture_output=True, text=True).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "bench")

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "bench", *keys)

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            scr = self.screen()
            if text in scr:
                return scr
            time.sleep(0.3)
        raise RuntimeError(f"{text!r} not on the screen after {timeout:.0f} s:\n{self.screen()}")


def open_publications(tm: Tmux) -> None:
    """Down the Tables tab until the bottom line describes Publications, then open it."""
    tm.wait_for("Publications")
    for _ in range(10):
        below = [ln for ln in tm.screen().splitlines() if ln.strip()][-4:-1]  # the selected table's line(s)
        if any(re.match(r"\s*(\S+\.)?Publications  description", ln) for ln in below):
            break
        tm.keys("Down")
        time.sleep(0.5)
    else:
        raise RuntimeError("could not select Publications:\n" + tm.screen())
    tm.keys("Enter")
    tm.wait_for("records 1–")


CHANGES = re.compile(r"Changes · .*?· ([\d,]+) changes")


def shown_changes(screen: str) -> int | None:
    m = CHANGES.search(screen)
    return int(m.group(1).replace(",", "")) if m else (0 if "no changes" in screen else None)


def short(filename: str) -> str:
    return os.path.relpath(filename, ROOT) if filename.startswith(ROOT) else filename.rsplit("site-packages/", 1)[-1]


def top_growth(first: str, last: str, n: int = 15) -> list[str]:
    import tracemalloc

    a, b = tracemalloc.Snapshot.load(first), tracemalloc.Snapshot.load(last)
    keep = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = b.filter_traces(keep).compare_to(a.filter_traces(keep), "traceback")
    out = []
    for st in stats[:n]:
        frames = " -> ".join(f"{short(fr.filename)}:{fr.lineno}" for fr in st.traceback[:6])  # caller -> callee
        out.append(f"{st.size_diff / 1024:+9.0f} KiB {st.count_diff:+8d} blocks  {frames}")
    return out


def run(args: argparse.Namespace) -> None:
    d = tempfile.mkdtemp(prefix="follow-tui-bench-")
    path, ready, snapdir = os.path.join(d, "db"), os.path.join(d, "ready"), os.path.join(d, "snaps")
    os.makedirs(snapdir)
    create(path, args.format, args.start)
    me = os.path.abspath(__file__)
    py = sys.executable
    w = subprocess.Popen([py, me, "--role", "writer", "--path", path, "--format", args.format, "--ready", ready,
                          "--seconds", str(args.seconds), "--rate", str(args.rate), "--first", str(args.start + 1)],
                         stdout=subprocess.PIPE, text=True)
    tm = Tmux(f"follow-bench-{os.getpid()}")
    cols, rows = args.size.split("x")
    env = f"XDG_STATE_HOME={shlex.quote(os.path.join(d, 'state'))}"
    cmd = (f"cd {shlex.quote(ROOT)} && {env} exec {shlex.quote(py)} {shlex.quote(me)} --role tui-app "
           f"--snapdir {shlex.quote(snapdir)} --tracemalloc {args.tracemalloc} -- {shlex.quote(path)} "
           f"--import cfxdb.realmstore")
    tm("new-session", "-d", "-s", "bench", "-x", cols, "-y", rows, cmd)
    pid = int(tm("list-panes", "-t", "bench", "-F", "#{pane_pid}").split()[0])
    try:
        if args.mode != "overview":
            open_publications(tm)
        if args.mode == "follow":
            tm.keys("f")
            tm.wait_for("Changes · watching")
        open(ready, "w").close()  # the writer starts (in the benchmark's own directory, not the database's)
        print(f"{args.mode}: TUI pid {pid}, {args.size}, writer at {args.rate:.0f}/s for {args.seconds:.0f} s, "
              f"database {path}", flush=True)
        start = time.monotonic()
        samples: list[dict] = []
        snaps = 0
        prev: dict | None = None
        while True:
            now = time.monotonic() - start
            st = proc_status(pid)
            scr = tm.screen()
            s = {"t": round(now), "vmrss": round(st["VmRSS"], 1), "anon": round(st["RssAnon"], 1),
                 "cpu_s": st["cpu_s"], "wall": time.monotonic(), "changes": shown_changes(scr)}
            if prev is not None:
                s["cpu_pct"] = 100 * (s["cpu_s"] - prev["cpu_s"]) / (s["wall"] - prev["wall"])
            samples.append(s)
            print(f"  t={s['t']:5d}s  VmRSS {s['vmrss']:7.1f} MiB  RssAnon {s['anon']:7.1f} MiB  "
                  f"CPU {s.get('cpu_pct', float('nan')):5.1f} %  changes shown {s['changes']}", flush=True)
            prev = s
            if args.tracemalloc and snaps == 0 and now >= args.warm:
                os.kill(pid, signal.SIGUSR1)
                snaps = 1
            if now >= args.seconds:
                break
            time.sleep(max(0.0, args.every - (time.monotonic() - start - now)))
        if args.tracemalloc:
            os.kill(pid, signal.SIGUSR1)
            time.sleep(5)
        final = tm.screen()
    except BaseException:
        w.kill()
        raise
    finally:
        out, _ = w.communicate()
        try:
            tm("kill-server")
        except subprocess.CalledProcessError:
            pass
    wr = json.loads(out.strip().splitlines()[-1])
    n = wr["end"] - wr["first"]
    warm = [s for s in samples if s["t"] >= args.warm]
    cpu = 100 * (warm[-1]["cpu_s"] - warm[0]["cpu_s"]) / (warm[-1]["wall"] - warm[0]["wall"])
    print(f"{args.mode}: {n:,} publications written in {args.seconds:.0f} s ({n / args.seconds:,.0f}/s); "
          f"VmRSS {samples[0]['vmrss']:.1f} -> {samples[-1]['vmrss']:.1f} MiB, RssAnon {samples[0]['anon']:.1f} -> "
          f"{samples[-1]['anon']:.1f} MiB (after {args.warm:.0f} s: {min(s['anon'] for s in warm):.1f}.."
          f"{max(s['anon'] for s in warm):.1f}, {(max(s['anon'] for s in warm) / warm[0]['anon'] - 1) * 100:+.1f} % "
          f"over the first warm sample); CPU {cpu:.1f} % of a core after warm-up", flush=True)
    if args.mode == "follow":
        shown = shown_changes(final)
        print(f"follow: the Changes pane says {shown:,} changes; the writer inserted {n:,}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"mode": args.mode, "rate": args.rate, "written": n, "samples": samples}, f)
    if args.tracemalloc:
        files = sorted(os.listdir(snapdir), key=lambda x: int(x.split(".")[0]))
        if len(files) >= 2:
            print("tracemalloc: biggest growths from warm-up to the end", flush=True)
            for line in top_growth(os.path.join(snapdir, files[0]), os.path.join(snapdir, files[-1])):
                print("  " + line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--role", default="main", choices=["main", "writer", "tui-app"])
    ap.add_argument("--mode", default="follow", choices=["follow", "plain", "overview"])
    ap.add_argument("--path")
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--rate", type=float, default=600.0)
    ap.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--warm", type=float, default=60.0, help="seconds before CPU and growth are measured")
    ap.add_argument("--start", type=int, default=20_000, help="publications before the writer starts")
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--ready", default="")
    ap.add_argument("--format", default="1.0", choices=["1.0", "0.9"])
    ap.add_argument("--size", default="160x48", help="the terminal, COLSxROWS")
    ap.add_argument("--tracemalloc", type=int, default=0, metavar="FRAMES")
    ap.add_argument("--snapdir", default="")
    ap.add_argument("--json", default="", help="write the samples to this file")
    ap.add_argument("argv", nargs="*", help="tui-app: the TUI's arguments")
    args = ap.parse_args()
    if args.role == "writer":
        writer(args.path, args.format, args.first, args.rate, args.seconds, args.ready)
    elif args.role == "tui-app":
        tui_app(args.snapdir, args.tracemalloc, args.argv)
    else:
        run(args)


if __name__ == "__main__":
    main()
