"""Counting on the shapes production databases have, against zlmdb's own count, in one run.

For each shape (random 16-byte keys in random order: half-full leaves scattered through
the file; sequential keys: packed leaves in file order), format and size, built once by
``shapes.py`` and cached in CACHE:

* warm: a whole ``zlmdb-inspect DB --json`` process against a whole process running zlmdb's
  ``Database.stats(include_slots=True)`` (and that call's own time), counts checked equal; the
  file is first put in the page cache page by page, as LMDB's own reads leave it (``--warm
  sequential``: read in order, as a backup leaves it; ``--warm pages sequential``: both; see WARM);
* cold (``--cold``): the same after the page cache was dropped (``echo 3 >
  /proc/sys/vm/drop_caches``; where that is refused, ``posix_fadvise(DONTNEED)`` on the file),
  with the bytes each process read from disk (``ru_inblock``);
* TUI (``--tui``): seconds to the first frame that shows the counts, and CPU share of a core
  (``/proc/PID/stat``) over 10 s idle on the unchanging database, and over 20 s under a writer
  (about 110 transactions/s of one random insert each, as in issue 12; it adds records to the
  cached database). The TUI shows its Environment tab, and its share under the writer is printed
  only if the last transaction it drew advanced to the second half of the measured span: a
  frozen TUI would report a better (smaller) share.

``--code DIR`` times another checkout of zlmdb-inspect (e.g. the previous release) as well.
Warm ``--json`` times are the best of three runs (a one-second process on a shared machine);
zlmdb's, which take tens of seconds, are one run.

    python benchmarks/shape_bench.py /work/benchdata --sizes 1000000 10000000 --warm pages sequential --cold --tui
"""

from __future__ import annotations

import argparse
import ast
import os
import pty
import re
import select
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")

ZLMDB = ("import sys, time, txaio, zlmdb; txaio.use_asyncio()\n"
         "db = zlmdb.Database(dbpath=sys.argv[1], maxsize=16 << 30, readonly=True)\n"
         "t0 = time.perf_counter(); st = db.stats(include_slots=True); dt = time.perf_counter() - t0\n"
         "print(repr(({s['slot']: s['records'] for s in st['slots']}, dt)))")

WRITER = ("import os, sys, time, random, struct\n"
          "from zlmdb import lmdb\n"
          "env = lmdb.open(sys.argv[1], map_size=0)\n"
          "rng = random.Random(os.getpid()); vals = [b'\\xa1an' + bytes(rng.randint(57, 207)) for _ in range(64)]\n"
          "print('ready', flush=True)\n"
          "while True:\n"
          "    t0 = time.monotonic()\n"
          "    with env.begin(write=True) as txn:\n"
          "        txn.put(struct.pack('>H', 1 + rng.randrange(4)) + rng.randbytes(16), rng.choice(vals))\n"
          "    time.sleep(max(0.0, 0.009 - (time.monotonic() - t0)))\n")


def drop_cache(path: str) -> str:
    subprocess.run(["sync"], check=False)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return "drop_caches"
    except OSError:
        fd = os.open(os.path.join(path, "data.mdb"), os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        return "fadvise"


#: How a warm run finds the file in the page cache: "pages" as LMDB's own reads leave it (each
#: page faulted in on its own: the kernel caches it as one 4 KiB folio), "sequential" as a
#: sequential reader (a backup, ``cp``) leaves it: in large folios, which the kernel maps with
#: far fewer, cheaper page-table operations (a walk of the 1M-record file takes less than half
#: the time). Production databases are mostly the former.
WARM = ("pages", "sequential")


def warm_cache(path: str, how: str = "pages") -> None:
    """Bring the whole file into the page cache in state ``how`` (see WARM); re-read only when
    it is not already in that state (a file of 4.8 GiB takes tens of seconds page by page)."""
    data = os.path.join(path, "data.mdb")
    fd = os.open(data, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if _cached_as.get(data) == (how, size) and _all_resident(fd, size):
            return
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        if how == "sequential":
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            buf = bytearray(8 << 20)
            off = 0
            while n := os.preadv(fd, [buf], off):
                off += n
        else:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)  # no readahead: one page per read
            for off in range(0, size, 4096):
                os.pread(fd, 1, off)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_NORMAL)
        _cached_as[data] = (how, size)
    finally:
        os.close(fd)


_cached_as: dict[str, tuple[str, int]] = {}


def _all_resident(fd: int, size: int) -> bool:
    """Whether every page of the file is in the page cache (``mincore`` over a mapping of it)."""
    import ctypes
    import mmap

    import numpy as np

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
    mm = mmap.mmap(fd, size, prot=mmap.PROT_READ)
    try:
        arr = np.frombuffer(mm, dtype=np.uint8)
        vec = np.zeros((size + mmap.PAGESIZE - 1) // mmap.PAGESIZE, dtype=np.uint8)
        ok = libc.mincore(ctypes.c_void_p(arr.ctypes.data), ctypes.c_size_t(size),
                          ctypes.c_void_p(vec.ctypes.data)) == 0
        del arr
        return bool(ok and (vec & 1).all())
    finally:
        mm.close()


def run(cmd: list[str], env: dict | None = None) -> tuple[float, float, int, str]:
    """(wall s, cpu s, bytes read from disk, stdout) of a whole process.

    It runs in the checkout it times: ``python -m`` puts the working directory first on the path.
    """
    t0 = time.perf_counter()
    cwd = env["PYTHONPATH"] if env and "PYTHONPATH" in env else None
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True, cwd=cwd)
    stdout, stderr = p.stdout, p.stderr
    assert stdout is not None and stderr is not None  # both PIPE
    out_chunks: list[str] = []
    reader = threading.Thread(target=lambda: out_chunks.append(stdout.read()))
    reader.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    reader.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {stderr.read()[-2000:]}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_inblock * 512, "".join(out_chunks)


def code_env(code: str) -> dict:
    """Environment of a checkout's processes.

    Without ``PYTHONDONTWRITEBYTECODE``: an installed package runs from compiled bytecode
    (pip compiles it; zlmdb and numpy already do here), and a checkout compiled on every run
    pays ~80 ms that no installed copy pays. The first warm run writes ``__pycache__``.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = code
    return env


def inspector_counts(out: str) -> dict[int, int]:
    import json

    return {t["slot"]: t["records"] for t in json.loads(out)["tables"] if t["slot"]}


def counts_run(path: str, codes: list[str], state: str) -> dict:
    """zlmdb's count and each checkout's ``--json`` with the file in page-cache ``state``: a WARM
    state, or "cold" (dropped before each process)."""
    res: dict = {}
    how = ""
    cold = state == "cold"
    if cold:
        how = drop_cache(path)
    else:
        warm_cache(path, state)
    zw, zc, zb, out = run([sys.executable, "-c", ZLMDB, path])
    counts, z_inner = ast.literal_eval(out.strip())
    counts = {k: v for k, v in counts.items() if k}
    res["zlmdb"] = (zw, zb, z_inner)
    for code in codes:
        if cold:
            drop_cache(path)
        else:
            warm_cache(path, state)
            run([sys.executable, "-m", "zlmdb_inspect", path, "--json"], env=code_env(code))  # imports warm too
        tries = [run([sys.executable, "-m", "zlmdb_inspect", path, "--json"], env=code_env(code))
                 for _ in range(1 if cold else 3)]  # a short process: the best of three on a shared machine
        iw, ic, ib, out = min(tries)
        mine = inspector_counts(out)
        if mine != counts:  # not assert: python -O would print a ratio of two different answers
            raise RuntimeError(f"{code}: --json counts {mine}, zlmdb's {counts}")
        res[code] = (iw, ib)
    res["how"] = how
    return res


# -- TUI ----------------------------------------------------------------------


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (and its threads')


class Tui:
    """The TUI in a pseudo-terminal, its output drained and searched."""

    def __init__(self, path: str, code: str):
        self.master, slave = pty.openpty()
        os.set_blocking(self.master, False)
        env = code_env(code)
        env.update(TERM="xterm-256color", COLUMNS="160", LINES="48")
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "zlmdb_inspect", path], stdin=slave, cwd=code,
                                     stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.buf = bytearray()
        self.lock = threading.Lock()
        self.alive = True
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while self.alive:
            r, _, _ = select.select([self.master], [], [], 0.2)
            if r:
                try:
                    data = os.read(self.master, 1 << 16)
                except OSError:
                    return
                with self.lock:
                    self.buf += data
                    if len(self.buf) > 4 << 20:
                        del self.buf[: len(self.buf) - (1 << 20)]

    def wait_for(self, pattern: bytes, timeout: float = 120) -> float:
        rx = re.compile(pattern)
        while time.perf_counter() - self.t0 < timeout:
            with self.lock:
                if rx.search(self.buf):
                    return time.perf_counter() - self.t0
            time.sleep(0.01)
        raise TimeoutError(pattern)

    def send(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def drawn_since_mark(self, pattern: bytes) -> list[bytes]:
        """Every match of ``pattern``'s group in what the TUI drew since :meth:`mark`."""
        with self.lock:
            return re.findall(pattern, bytes(self.buf))

    def mark(self) -> None:
        with self.lock:
            self.buf.clear()

    def cpu_share(self, seconds: float) -> float:
        a, t = cpu_ticks(self.proc.pid), time.perf_counter()
        time.sleep(seconds)
        return (cpu_ticks(self.proc.pid) - a) / TICK / (time.perf_counter() - t)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.alive = False
        os.close(self.master)


def last_txnid(path: str) -> int:
    sys.path.insert(0, ROOT)
    from zlmdb_inspect.storage.pageformat import PageFile

    pf = PageFile(os.path.join(path, "data.mdb"))
    try:
        return pf.current_meta().txnid
    finally:
        pf.close()


def tui_run(path: str, code: str) -> tuple[float, float, float, float]:
    """(s to the first frame with counts, idle share of a core, share under a writer, its txn/s).

    The counts to wait for come from a ``--json`` run after the cache is warm: it also maps the
    pages once, as the application's own process has them mapped (the first process to map pages
    that were only read into the cache pays about two seconds more on this file)."""
    warm_cache(path)
    out = run([sys.executable, "-m", "zlmdb_inspect", path, "--json"], env=code_env(ROOT))[3]
    first_table_records = inspector_counts(out)[1]  # the writer adds records: counted before each run
    tui = Tui(path, code)
    try:
        first = tui.wait_for(f"{first_table_records:,}".encode())
        time.sleep(3)
        idle = tui.cpu_share(10)
        tui.send(b"5")  # the Environment tab: it draws "last transaction N" at each refresh
        writer = subprocess.Popen([sys.executable, "-c", WRITER, path], stdout=subprocess.PIPE, text=True)
        assert writer.stdout is not None
        try:
            writer.stdout.readline()
            time.sleep(4)  # the TUI takes part in the writer's locking from its next refresh
            tui.mark()
            t0, tx0 = time.perf_counter(), last_txnid(path)
            busy = tui.cpu_share(20)
            tx1 = last_txnid(path)
            rate = (tx1 - tx0) / (time.perf_counter() - t0)
            drawn = [int(x.replace(b",", b"")) for x in tui.drawn_since_mark(rb"last transaction ([\d,]+)")]
            if not drawn or max(drawn) < tx0 + (tx1 - tx0) // 2 or tx1 <= tx0:
                raise RuntimeError(f"the TUI did not keep up: it drew last transactions {drawn[-3:]} while the "
                                   f"writer went from {tx0} to {tx1}; its CPU share would measure a frozen TUI")
        finally:
            writer.terminate()
            writer.wait()
    finally:
        tui.close()
    return first, idle, busy, rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cache")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--shapes", nargs="+", default=["random", "sequential"])
    ap.add_argument("--formats", nargs="+", default=["0.9", "1.0"])
    ap.add_argument("--code", action="append", default=[], help="another checkout to time as well")
    ap.add_argument("--cold", action="store_true")
    ap.add_argument("--warm", nargs="*", default=["pages"], choices=WARM,
                    help="page-cache states of the warm runs (default: pages, as LMDB's reads leave it)")
    ap.add_argument("--tui", action="store_true")
    ap.add_argument("--tui-only", action="store_true", help="skip the counting runs")
    a = ap.parse_args()
    codes = [ROOT] + [os.path.abspath(c) for c in a.code]
    names = {ROOT: "this"} | {c: os.path.basename(c.rstrip("/")) for c in codes[1:]}
    print(f"{'records':>10} {'shape':>10} {'fmt':>4} {'page cache':>19} {'code':>6} "
          f"{'zlmdb':>9} {'zlmdb':>9} {'--json':>8} {'ratio':>7}   disk read: zlmdb, --json")
    print(f"{'':>10} {'':>10} {'':>4} {'':>19} {'':>6} {'stats()':>9} {'process':>9} {'process':>8}")
    rows = []
    for n in ([] if a.tui_only else a.sizes):
        for shape in a.shapes:
            for fmt in a.formats:
                path = shapes.build(a.cache, shape, fmt, n)
                for state in [*a.warm, *(["cold"] if a.cold else [])]:
                    r = counts_run(path, codes, state)
                    zw, zb, zi = r["zlmdb"]
                    cold = state == "cold"
                    for code in codes:
                        iw, ib = r[code]
                        label = f"cold ({r['how']})" if cold else {"pages": "warm, page by page",
                                                                    "sequential": "warm, read in order"}[state]
                        line = (f"{n:>10,} {shape:>10} {fmt:>4} {label:>19} {names[code]:>6} "
                                f"{zi:>8.2f}s {zw:>8.2f}s {iw:>7.2f}s {zw / iw:>6.1f}x")
                        if cold:
                            line += f" {zb / 2**30:>6.2f} GiB {ib / 2**30:>6.2f} GiB"
                        print(line, flush=True)
                        rows.append(line)
    if a.tui or a.tui_only:
        for n in a.sizes:
            for shape in a.shapes:
                for fmt in a.formats:
                    path = shapes.build(a.cache, shape, fmt, n)  # --tui-only: nothing built it yet
                    for code in codes:
                        first, idle, busy, rate = tui_run(path, code)
                        print(f"TUI {n:>10,} {shape:>10} {fmt:>4} {names[code]:>6} first frame {first:5.2f}s  "
                              f"idle {100 * idle:5.1f}% of a core  under a writer ({rate:.0f} txn/s) "
                              f"{100 * busy:5.1f}%", flush=True)


if __name__ == "__main__":
    main()
