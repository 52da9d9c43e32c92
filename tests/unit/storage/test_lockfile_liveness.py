"""lock.mdb's answers against a real process holding LMDB's locks: whether the environment is open
elsewhere, by whom, and which readers' processes are alive (F_GETLK on byte 0 and on each pid's
byte), and what is answered where lock.mdb cannot be asked.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest
from conftest import raw_env
from support.procs import Holder

from zlmdb_inspect.storage import lockfile


@pytest.fixture
def db(tmp_path) -> str:
    path = str(tmp_path / "db")
    env = raw_env(path, "1.0")
    with env.begin(write=True) as txn:
        txn.put(b"\0\x01k", b"v")
    env.close()
    return path


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_nobody_has_the_environment_open(db):
    lock = os.path.join(db, "lock.mdb")
    assert lockfile.in_use(lock) is False
    assert lockfile.holder(lock) is None


def test_a_process_with_the_environment_open_is_found(db):
    lock = os.path.join(db, "lock.mdb")
    with Holder(db, "pin") as h:  # a read-only environment holding one read transaction
        assert lockfile.in_use(lock) is True
        assert lockfile.holder(lock) == h.pid


def test_readers_alive_by_their_liveness_lock(db):
    lock = os.path.join(db, "lock.mdb")
    dead = _dead_pid()
    with Holder(db, "pin") as h:
        # h.pid - 1 may be a live process, but it holds no lock on its byte of this lock.mdb
        got = lockfile.pids_alive(lock, [h.pid, h.pid - 1, h.pid + 1, dead, os.getpid()])
    assert got == {h.pid: True, h.pid - 1: False, h.pid + 1: False, dead: False, os.getpid(): True}


def test_a_live_process_without_a_reader_slot_is_not_a_live_reader(db):
    lock = os.path.join(db, "lock.mdb")
    with Holder(db, "pin"), subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                                             stdin=subprocess.PIPE) as p:
        assert p.stdin is not None
        got = lockfile.pids_alive(lock, [p.pid])  # the lock file answers: the process table is not asked
        p.stdin.close()
    assert got == {p.pid: False}


def test_without_lock_mdb_liveness_falls_back_to_the_process_table(tmp_path):
    lock = str(tmp_path / "missing" / "lock.mdb")
    dead = _dead_pid()
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE) as p:
        assert p.stdin is not None
        got = lockfile.pids_alive(lock, [p.pid, dead, os.getpid(), 0])
        p.stdin.close()
    assert got == {p.pid: True, dead: False, os.getpid(): True, 0: False}
    assert lockfile.in_use(lock) is False
    assert lockfile.holder(lock) is None


def test_a_lock_query_the_filesystem_refuses(db, monkeypatch):
    lock = os.path.join(db, "lock.mdb")

    def refuse(code: int):
        def f(fd: int, offset: int) -> int | None:
            raise OSError(code, os.strerror(code))
        return f

    for code in (errno.EINVAL, errno.ENOLCK, errno.EOPNOTSUPP):
        monkeypatch.setattr(lockfile, "_lock_holder", refuse(code))
        assert lockfile.in_use(lock) is False, code  # no fcntl locks there: nobody's
        assert lockfile.holder(lock) is None, code
    monkeypatch.setattr(lockfile, "_lock_holder", refuse(errno.EIO))
    with pytest.raises(OSError):
        lockfile.in_use(lock)  # any other error is not an answer
    assert lockfile.holder(lock) is None
    # liveness falls back to the process table: this process, and a live child, are alive
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE) as p:
        assert p.stdin is not None
        got = lockfile.pids_alive(lock, [p.pid, _dead_pid()])
        p.stdin.close()
    assert list(got.values()) == [True, False]
