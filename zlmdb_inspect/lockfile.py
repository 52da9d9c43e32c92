"""Questions about ``lock.mdb`` answered without taking any lock.

LMDB marks a live environment with an fcntl lock on byte 0 of ``lock.mdb``,
and each process that registers a reader locks the byte at offset = its pid.
``F_GETLK`` reports such locks without acquiring them, across PID namespaces,
which is how LMDB itself tells live readers from dead ones.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct

# struct flock on Linux/x86_64 and aarch64: short, short, (pad), off_t, off_t, pid_t, (pad)
_FLOCK = struct.Struct("=hh4xqqi4x")


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
    """Whether some process has the environment open (holds LMDB's lock file lock).

    Opening an environment nobody else has open makes LMDB re-initialise the
    lock file, which clears its reader table; so we only open with locking
    when another process already has it open.
    """
    fd = _open(lock_path)
    if fd is None:
        return False
    try:
        return _lock_holder(fd, 0) is not None
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.ENOLCK, errno.EOPNOTSUPP):
            return False
        raise
    finally:
        os.close(fd)


def holder(lock_path: str) -> int | None:
    """A pid holding LMDB's environment lock (byte 0), or None.

    F_GETLK names one of the holders only (each process holds a shared lock), so
    this finds one process with the environment open, not all of them; 0 or a pid
    from another PID namespace is possible and is returned as LMDB reports it.
    """
    fd = _open(lock_path)
    if fd is None:
        return None
    try:
        return _lock_holder(fd, 0)
    except OSError:
        return None
    finally:
        os.close(fd)


def pids_alive(lock_path: str, pids: list[int]) -> dict[int, bool]:
    """For each pid, whether a process holds LMDB's per-pid liveness lock.

    Every process that registers an LMDB reader takes that lock, and it holds
    across PID namespaces; ``kill(pid, 0)`` is the fallback only where the lock
    file cannot be queried. Our own
    locks never conflict with our own query, so our own pid is alive by fiat.
    """
    out: dict[int, bool] = {}
    fd = _open(lock_path)
    me = os.getpid()
    try:
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
    finally:
        if fd is not None:
            os.close(fd)
    return out


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
