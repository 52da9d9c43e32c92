"""Which thread holds LMDB's write lock right now, read from ``lock.mdb`` without touching it.

LMDB serialises writers with a process-shared robust pthread mutex in ``lock.mdb``. On
Linux/glibc its ``__owner`` field carries the kernel thread id of the thread inside a write
transaction and is 0 after commit or abort. The lock file is only ``pread`` here: never
written, never locked, never mapped writable.

Layout, verified for zlmdb's two engines (``zlmdb._lmdb_vendor`` and the 1.0 engine that
``zlmdb.lmdb`` opens with ``lib_version=1``) on x86-64 glibc: a 32-bit magic ``0xBEEFC0DE``
and a 32-bit lock format at offset 0; the last committed txnid at 48 (format 0x00010001,
LMDB 0.9) or at 8 (format 0x2C2F6002, LMDB 1.0); the writer mutex in the second cache line
(offset 64) as glibc's ``pthread_mutex_t``: ``__lock`` at +0, ``__owner`` at +8, ``__kind`` at
+16 (0x90: robust and process-shared). A lock file with any other magic, format, platform or
mutex kind is reported as ``unknown`` with the reason, never read by guess.

Only meaningful while some process has the environment open: a crashed writer may leave an
owner behind in a lock file that nobody uses (the next opener re-initialises it).
"""

from __future__ import annotations

import os
import platform
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from zlmdb_inspect.storage import lockfile

MAGIC = 0xBEEFC0DE
# lock format -> (LMDB data format, offset of the last committed txnid)
FORMATS = {0x00010001: ("0.9", 48), 0x2C2F6002: ("1.0", 8)}
WMUTEX_OFFSET = 64  # the second cache line
READ_BYTES = WMUTEX_OFFSET + 24  # through __kind
MUTEX = struct.Struct("<IIiIi")  # __lock, __count, __owner, __nusers, __kind
ROBUST_PSHARED = 0x90  # PTHREAD_MUTEX_ROBUST_NORMAL_NP | PTHREAD_MUTEX_PSHARED_BIT
FUTEX_OWNER_DIED = 0x40000000
FUTEX_TID_MASK = 0x3FFFFFFF
OWNER_INCONSISTENT = 0x7FFFFFFF  # glibc: the owner died, the next locker has not recovered yet
OWNER_NOTRECOVERABLE = 0x7FFFFFFE
TORN_READ_RETRIES = 3


@dataclass
class WriterLock:
    """What the writer mutex says at one moment.

    ``state``: ``held`` (a write transaction is open; ``tid`` holds it), ``free`` (none open),
    ``unknown`` (layout not recognised, or the lock file unreadable; ``reason`` says why) or
    ``closed`` (no process has the environment open, so the lock file says nothing).
    ``pid`` is None when the thread cannot be placed in this /proc; ``reason`` says why.
    """

    state: str
    tid: int | None = None
    pid: int | None = None
    name: str | None = None  # the process's command name
    thread_name: str | None = None
    reason: str | None = None
    format: str | None = None  # "0.9" or "1.0", from the lock file's format field
    lock_txnid: int | None = None  # last committed txnid, as the lock file records it

    @property
    def held(self) -> bool:
        return self.state == "held"


def platform_problem() -> str | None:
    """Why this host's pthread layout is not the verified one, or None."""
    if sys.platform != "linux":
        return f"the writer mutex layout is known only on Linux/glibc (this is {sys.platform})"
    machine = platform.machine()
    if machine not in ("x86_64", "AMD64"):
        return f"the writer mutex layout is verified only on x86-64 glibc (this machine is {machine})"
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        libc = None
    if not libc:
        return "the writer mutex layout is known only for glibc (this Python does not run on glibc)"
    return None


def parse(head: bytes) -> WriterLock:
    """The writer mutex's state from the first ``READ_BYTES`` of ``lock.mdb`` (pid not resolved)."""
    if len(head) < READ_BYTES:
        return WriterLock("unknown", reason=f"lock.mdb is {len(head)} bytes, too short for LMDB's lock header")
    magic, fmt = struct.unpack_from("<II", head, 0)
    if magic != MAGIC:
        return WriterLock("unknown", reason=f"lock.mdb does not start with LMDB's magic 0xBEEFC0DE (0x{magic:08X})")
    if fmt not in FORMATS:
        known = ", ".join(f"0x{k:08X} (LMDB {v[0]})" for k, v in FORMATS.items())
        return WriterLock("unknown", reason=f"lock.mdb has lock format 0x{fmt:08X}, not one whose layout is "
                                            f"known ({known}): another LMDB build or platform")
    data_format, txnid_at = FORMATS[fmt]
    (txnid,) = struct.unpack_from("<Q", head, txnid_at)
    lock, _count, owner, _nusers, kind = MUTEX.unpack_from(head, WMUTEX_OFFSET)
    if kind & 0xFF != ROBUST_PSHARED:
        return WriterLock("unknown", format=data_format, lock_txnid=txnid,
                          reason=f"the writer mutex is not a process-shared robust glibc mutex (kind 0x{kind:X}); "
                                 "written by another C library or lock type")
    out = WriterLock("free", format=data_format, lock_txnid=txnid)
    if owner == 0:  # unlocked, or a lock being taken or released this instant
        return out
    if owner in (OWNER_INCONSISTENT, OWNER_NOTRECOVERABLE):
        out.reason = "a writer died inside a write transaction; the next writer recovers the lock"
        return out
    if lock & FUTEX_OWNER_DIED and not lock & FUTEX_TID_MASK:
        out.reason = (f"the writer thread {owner} died inside a write transaction (LMDB discards it); "
                      "the next writer recovers the lock")
        return out
    if lock & FUTEX_TID_MASK != owner:
        return WriterLock("unknown", format=data_format, lock_txnid=txnid,
                          reason=f"the writer mutex's fields disagree (lock word 0x{lock:08X}, owner {owner})")
    out.state, out.tid = "held", owner
    return out


def read(lock_path: str, live: bool | None = None) -> WriterLock:
    """The writer mutex of ``lock_path`` now; ``live`` (None: asked of the lock file) says whether a
    process has the environment open."""
    problem = platform_problem()
    if problem:
        return WriterLock("unknown", reason=problem)
    if live is None:
        live = lockfile.in_use(lock_path)
    if not live:
        return WriterLock("closed", reason="no process has the environment open")
    out = WriterLock("unknown", reason="not read")
    for _ in range(TORN_READ_RETRIES):  # the owner may change between the two fields' writes
        try:  # through lockfile's descriptor: closing one of our own would drop this process's LMDB locks
            out = parse(lockfile.read_bytes(lock_path, READ_BYTES))
        except OSError as e:
            return WriterLock("unknown", reason=f"cannot read lock.mdb: {e.strerror or e}")
        if not (out.state == "unknown" and out.reason and out.reason.startswith("the writer mutex's fields")):
            break
    return out


# -- the thread's process ---------------------------------------------------------------


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _comm(path: str) -> str | None:
    data = _read(path)
    if data is None:
        return None
    return data.decode("utf-8", "replace").strip() or None


def thread_group(tid: int, candidates: Iterable[int] = (), proc: str = "/proc") -> int | None:
    """The pid whose thread ``tid`` is, in this PID namespace, or None.

    The known pids (reader table, processes mapping data.mdb) are tried first, one ``stat``
    each; else ``/proc/TID/status`` (reachable for any thread, though only thread-group
    leaders are listed) names the thread group.
    """
    for pid in candidates:
        if pid and os.path.exists(f"{proc}/{pid}/task/{tid}"):
            return pid
    status = _read(f"{proc}/{tid}/status")
    if status is None:
        return None
    for line in status.splitlines():
        if line.startswith(b"Tgid:"):
            try:
                return int(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None


def _maps_file(pid: int, data_path: str, proc: str) -> bool | None:
    """Whether ``pid`` maps ``data_path`` (same device and inode); None when its maps cannot be read."""
    try:
        st = os.stat(data_path)
    except OSError:
        return None
    try:
        with open(f"{proc}/{pid}/maps", "rb") as f:
            text = f.read()
    except FileNotFoundError:
        return False
    except OSError:
        return None
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}".encode()
    ino = str(st.st_ino).encode()
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) >= 5 and parts[4] == ino and parts[3] == dev:
            return True
    return False


def resolve(lock: WriterLock, data_path: str, candidates: Iterable[int] = (), mapping: Iterable[int] = (),
            proc: str = "/proc") -> WriterLock:
    """Fill in the pid and names of a held lock's thread, checked against the processes that map
    ``data_path`` (``mapping``: pids already seen mapping it, e.g. by ``ProcMaps``; others are
    read from /proc): a thread id from another PID namespace can name an unrelated local thread."""
    if not lock.held or lock.tid is None:
        return lock
    tid = lock.tid
    mapping = set(mapping)
    pid = thread_group(tid, [*mapping, *candidates], proc)
    if pid is None:
        lock.reason = (f"thread {tid} holds the write lock but is not in this /proc "
                       "(another PID namespace or container?)")
        return lock
    maps = True if pid in mapping else _maps_file(pid, data_path, proc)
    name = _comm(f"{proc}/{pid}/comm")
    if maps is False:
        lock.reason = (f"thread id {tid} holds the write lock, but here it is a thread of pid {pid} "
                       f"({name or '?'}), which does not map this data.mdb: the writer runs in another "
                       "PID namespace (container?)")
        return lock
    lock.pid, lock.name = pid, name
    lock.thread_name = _comm(f"{proc}/{pid}/task/{tid}/comm")
    if maps is None:
        lock.reason = f"could not confirm that pid {pid} maps this data.mdb (/proc/{pid}/maps not readable)"
    return lock


def writer(lock_path: str, data_path: str, candidates: Iterable[int] = (), mapping: Iterable[int] = (),
           live: bool | None = None, proc: str = "/proc") -> WriterLock:
    """Read the writer mutex and place its owner: the one call a refresh makes. ``candidates``:
    pids likely to hold it (reader table); ``mapping``: pids known to map data.mdb."""
    return resolve(read(lock_path, live), data_path, candidates, mapping, proc)
