"""The inspector keeps LMDB's locks on lock.mdb while it has the environment open.

POSIX drops every fcntl lock a process holds on a file when any of its descriptors to that
file is closed; an inspector that opened lock.mdb a second time (to ask F_GETLK, or to read the
writer mutex) and closed it lost LMDB's shared lock (byte 0) and its liveness lock (its pid's
byte). Then other inspectors called its live reader slot stale, and a writer starting during
its read transaction took the exclusive lock and re-initialised the reader table under it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

from conftest import build_orm_db, sha
from support.procs import Holder

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import open_service
from zlmdb_inspect.storage.inspector import Inspector


def _posix_locks(lock_path: str, pid: int) -> set[tuple[str, int]]:
    """(READ|WRITE, start byte) of the POSIX locks ``pid`` holds on ``lock_path``, from /proc/locks."""
    st = os.stat(lock_path)
    ino = str(st.st_ino)
    out = set()
    with open("/proc/locks") as f:
        for line in f:
            parts = line.split()
            if parts[1] == "->":  # a waiter: "1: -> POSIX ..."
                continue
            if parts[1] != "POSIX" or int(parts[4]) != pid or parts[5].rsplit(":", 1)[1] != ino:
                continue
            out.add((parts[3], int(parts[6])))
    return out


def _lmdb_locks(pid: int) -> set[tuple[str, int]]:
    return {("READ", 0), ("WRITE", pid)}


class HeldRead:
    """An inspector read transaction held open in a thread until ``release()``."""

    def __init__(self, ins: Inspector):
        self._go = threading.Event()
        self._in = threading.Event()
        self.txnid: int | None = None

        def fn(txn, pf, meta):
            self.txnid = txn.id()
            self._in.set()
            self._go.wait(30)

        self._thread = threading.Thread(target=ins.read, args=(fn,), daemon=True)
        self._thread.start()
        assert self._in.wait(10), "the read transaction did not start"

    def release(self) -> None:
        self._go.set()
        self._thread.join(10)


def test_watch_keeps_its_lmdb_locks(tmp_path):
    """While ``--watch`` runs, /proc/locks shows its shared lock at byte 0 and its liveness lock at its pid."""
    path = str(tmp_path / "db")
    build_orm_db(path, "1.0", n=50)
    lock = os.path.join(path, "lock.mdb")
    with Holder(path, "read"):  # another process has it open: the inspector takes part in LMDB's locking
        proc = subprocess.Popen([sys.executable, "-m", "zlmdb_inspect", path, "--watch", "--interval", "0.3"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for _ in range(3):  # three refreshes: snapshot, readers, writer lock and liveness all asked
                line = proc.stdout.readline()
                assert line, proc.stderr.read()
                assert json.loads(line)["lmdb"]["locking"] is True
            assert _posix_locks(lock, proc.pid) == _lmdb_locks(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)


def test_service_refreshes_keep_the_locks(tmp_path):
    """Every question the service asks of lock.mdb (in use, holder, liveness, the writer mutex) keeps ours."""
    path = str(tmp_path / "db")
    build_orm_db(path, "0.9", n=50)
    lock = os.path.join(path, "lock.mdb")
    with Holder(path, "read"):
        svc = open_service(Options(path=path))
        try:
            for _ in range(2):
                ref = svc.refresh(live=True)
                assert ref.snapshot.lmdb.locking
                assert _posix_locks(lock, os.getpid()) == _lmdb_locks(os.getpid())
        finally:
            svc.close()
        assert _posix_locks(lock, os.getpid()) == set()  # closed: nothing of ours left behind


def test_two_inspectors_never_call_each_other_stale(tmp_path):
    """A second inspector sees the first one's reader slot as a live process, not a stale slot."""
    path = str(tmp_path / "db")
    build_orm_db(path, "1.0", n=50)
    with Holder(path, "read"):
        ins = Inspector(path)
        try:
            assert ins.locking
            ins.snapshot()  # asks lock.mdb questions: must not drop our locks
            held = HeldRead(ins)
            try:
                r = subprocess.run([sys.executable, "-m", "zlmdb_inspect", path, "--json"], capture_output=True,
                                   text=True, timeout=60)
                assert r.returncode in (0, 1), r.stderr
                doc = json.loads(r.stdout)
            finally:
                held.release()
        finally:
            ins.close()
    mine = [x for x in doc["readers"] if x["pid"] == os.getpid()]
    assert mine and mine[0]["txnid"] == held.txnid and mine[0]["alive"] is True, doc["readers"]
    assert "stale-reader" not in {w["id"] for w in doc["warnings"]}, doc["warnings"]


WRITER = r"""
import struct, sys
from zlmdb import lmdb
env = lmdb.open(sys.argv[1], map_size=64 * 1024 * 1024)
with env.begin(write=True) as txn:
    for i in range(200):
        txn.put(struct.pack(">HQ", 90, i), b"w" * 100)
print(env.readers(), flush=True)
env.close()
"""


def test_writer_started_during_a_long_read_keeps_the_reader_table(tmp_path):
    """A writer that opens the environment while the inspector is inside a read transaction (and the process
    that first had it open has gone) finds our shared lock, so it does not reset the reader table."""
    path = str(tmp_path / "db")
    build_orm_db(path, "1.0", n=50)
    with Holder(path, "read"):
        ins = Inspector(path)
    try:
        assert ins.locking
        ins.snapshot()
        held = HeldRead(ins)
        try:
            before = sha(path)
            out = subprocess.run([sys.executable, "-c", WRITER, path], capture_output=True, text=True, timeout=60,
                                 check=True).stdout
            assert sha(path) != before  # the writer did write
        finally:
            held.release()
    finally:
        ins.close()
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [os.getpid(), held.txnid] in [[int(p[0]), int(p[2])] for p in rows if len(p) == 3 and p[2].isdigit()], out


def test_closing_the_inspector_lets_go_of_lock_mdb(tmp_path):
    """After close nothing of ours stays open on lock.mdb (no descriptor, no lock)."""
    path = str(tmp_path / "db")
    build_orm_db(path, "1.0", n=20)
    lock = os.path.realpath(os.path.join(path, "lock.mdb"))
    with Holder(path, "read"):
        ins = Inspector(path)
        ins.snapshot()
        ins.close()
        time.sleep(0.05)
        fds = [os.path.realpath(os.path.join("/proc/self/fd", n)) for n in os.listdir("/proc/self/fd")]
        assert lock not in fds
        assert _posix_locks(lock, os.getpid()) == set()
