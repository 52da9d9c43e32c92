"""Questions about ``lock.mdb`` answered without taking any lock, and without dropping ours.

LMDB marks a live environment with an fcntl lock on byte 0 of ``lock.mdb``,
and each process that registers a reader locks the byte at offset = its pid.
``F_GETLK`` reports such locks without acquiring them, across PID namespaces,
which is how LMDB itself tells live readers from dead ones.

POSIX drops *all* of a process's fcntl locks on a file when *any* of its
descriptors to that file is closed. So while this process has an environment
open with locking (and so holds LMDB's shared lock and its liveness lock), it
must never open and close ``lock.mdb`` beside LMDB: the inspector calls
:func:`hold` before LMDB opens the environment and :func:`release` after LMDB
closed it, and every question asked in between goes through that one
descriptor. Without it another process would find no shared lock and
re-initialise the reader table under us, and other inspectors would call our
live reader slot stale.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import struct
import threading
from collections.abc import Iterator

# struct flock on Linux/x86_64 and aarch64: short, short, (pad), off_t, off_t, pid_t, (pad)
_FLOCK = struct.Struct("=hh4xqqi4x")


class _Held:
    def __init__(self, fd: int):
        self.fd = fd
        self.refs = 1


_HELD: dict[str, _Held] = {}  # lock file (real path) -> the descriptor kept open while LMDB may hold locks
_GUARD = threading.Lock()  # a temporary descriptor is opened and closed under it, never beside a hold()


def _key(lock_path: str) -> str:
    return os.path.realpath(lock_path)


def hold(lock_path: str) -> None:
    """Keep one descriptor to ``lock_path`` open until :func:`release`: call it before LMDB opens the
    environment (with locking) and release after LMDB closed it. Nested holds are counted."""
    key = _key(lock_path)
    with _GUARD:
        held = _HELD.get(key)
        if held is not None:
            held.refs += 1
            return
        fd = _open(lock_path)
        if fd is not None:
            _HELD[key] = _Held(fd)


def release(lock_path: str) -> None:
    """Undo one :func:`hold`; the descriptor is closed (dropping this process's locks) with the last."""
    key = _key(lock_path)
    with _GUARD:
        held = _HELD.get(key)
        if held is None:
            return
        held.refs -= 1
        if held.refs <= 0:
            del _HELD[key]
            os.close(held.fd)


@contextlib.contextmanager
def descriptor(lock_path: str) -> Iterator[int | None]:
    """A read-only descriptor to ``lock_path`` (None if it cannot be opened): the held one where this
    process holds the file, else one opened and closed here, under the guard so that no :func:`hold`
    (and so no LMDB lock of ours) can exist while it is open."""
    key = _key(lock_path)
    with _GUARD:
        held = _HELD.get(key)
        if held is None:
            fd = _open(lock_path)
            try:
                yield fd
            finally:
                if fd is not None:
                    os.close(fd)
            return
    yield held.fd  # closed only by release(), which the holder calls after its environment is closed


def _lock_holder(fd: int, offset: int) -> int | None:
    """PID of a process holding a lock on byte ``offset`` of ``fd`` (0 if unknown), or None."""
    req = _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, offset, 1, 0)
    res = fcntl.fcntl(fd, fcntl.F_GETLK, req)
    l_type, _, _, _, l_pid = _FLOCK.unpack(res)
    if l_type == fcntl.F_UNLCK:
        return None
    return l_pid


def _open(lock_path: str) -> int | None:
    try:
        return os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


def in_use(lock_path: str) -> bool:
    """Whether some other process has the environment open (holds LMDB's lock file lock).

    Opening an environment nobody else has open makes LMDB re-initialise the
    lock file, which clears its reader table; so we only open with locking
    when another process already has it open. Our own locks never answer F_GETLK.
    """
    with descriptor(lock_path) as fd:
        if fd is None:
            return False
        try:
            return _lock_holder(fd, 0) is not None
        except OSError as e:
            if e.errno in (errno.EINVAL, errno.ENOLCK, errno.EOPNOTSUPP):
                return False
            raise


def holder(lock_path: str) -> int | None:
    """A pid holding LMDB's environment lock (byte 0), or None.

    F_GETLK names one of the holders only (each process holds a shared lock), so
    this finds one process with the environment open, not all of them; 0 or a pid
    from another PID namespace is possible and is returned as LMDB reports it.
    """
    with descriptor(lock_path) as fd:
        if fd is None:
            return None
        try:
            return _lock_holder(fd, 0)
        except OSError:
            return None


def pids_alive(lock_path: str, pids: list[int]) -> dict[int, bool]:
    """For each pid, whether a process holds LMDB's per-pid liveness lock.

    Every process that registers an LMDB reader takes that lock, and it holds
    across PID namespaces; ``kill(pid, 0)`` is the fallback only where the lock
    file cannot be queried. Our own
    locks never conflict with our own query, so our own pid is alive by fiat.
    """
    out: dict[int, bool] = {}
    me = os.getpid()
    with descriptor(lock_path) as fd:
        for pid in pids:
            if pid == me:
                out[pid] = True
                continue
            alive = None
            if fd is not None:
                try:
                    alive = _lock_holder(fd, pid) is not None
                except OSError:
                    alive = None
            out[pid] = _pid_exists(pid) if alive is None else alive
    return out


def read_bytes(lock_path: str, n: int, offset: int = 0) -> bytes:
    """The first ``n`` bytes of ``lock_path`` from ``offset`` (through the held descriptor where there
    is one); raises OSError."""
    with descriptor(lock_path) as fd:
        if fd is None:
            raise OSError(errno.ENOENT, "cannot open lock.mdb")
        return os.pread(fd, n, offset)


def _pid_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_name(pid: int) -> str | None:
    """The command name from /proc, where this host shows it."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            return f.read().decode("utf-8", "replace").strip() or None
    except OSError:
        return None
