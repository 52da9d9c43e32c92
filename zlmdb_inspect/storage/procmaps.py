"""Which processes map ``data.mdb``, how much of it, and whether they can write.

The meta page keeps the largest map size any writer ever set (LMDB only
raises it), but a writer opened with a smaller ``map_size`` stops at its own
map. What each process really maps is in ``/proc/PID/maps``: one shared
mapping of ``data.mdb`` (same device and inode) whose length is that
process's map size.

Telling a writer from a reader: both map ``data.mdb`` read-only (``r--s``)
unless the writer uses ``MDB_WRITEMAP`` (``rw-s``), so the mapping's
permissions do not say it. The open file does: LMDB opens ``data.mdb``
``O_RDWR`` for a writable environment and ``O_RDONLY`` for
``MDB_RDONLY``, and ``/proc/PID/fdinfo/FD`` shows those flags. A ``rw``
mapping alone also marks a writer.

Cost: the processes we already know (reader table, lock holders, earlier
finds) are read on every call, one ``maps`` file each; all of ``/proc`` is
scanned at most every ``SCAN_EVERY_S`` seconds. Results per pid are cached
while the pid keeps the same start time (pids are reused).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

from zlmdb_inspect.storage.lockfile import process_name

O_ACCMODE = 0o3


@dataclass
class ProcMap:
    """One process's view of ``data.mdb``. ``map_size`` None: ``reason`` says why."""

    pid: int
    name: str | None
    map_size: int | None
    writable: bool | None = None  # opened data.mdb for writing (None: could not tell)
    reason: str | None = None

    def to_dict(self) -> dict:
        return {"pid": self.pid, "name": self.name, "map_size": self.map_size,
                "writable": self.writable, "reason": self.reason}


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def process_start(pid: int, proc: str = "/proc") -> int | None:
    """When ``pid`` started (clock ticks since boot, /proc/PID/stat field 22): with the pid, names
    one process even after the pid is reused. None where /proc does not show it."""
    try:
        stat = _read(f"{proc}/{pid}/stat")
    except OSError:
        return None
    # the command name may hold spaces and parentheses: fields follow the last ')'
    rest = stat[stat.rfind(b")") + 2:].split()
    return int(rest[19]) if len(rest) > 19 and rest[19].isdigit() else None


class ProcMaps:
    """Finds and measures the mappings of one ``data.mdb``."""

    SCAN_EVERY_S = 30.0

    def __init__(self, data_path: str, proc: str = "/proc"):
        self.data_path = os.path.realpath(data_path)
        self.proc = proc
        self.ino = -1
        self.scans = 0  # full /proc scans so far (measured in tests and benchmarks)
        self._identify()

    def _identify(self) -> None:
        """(Re)read data.mdb's device and inode; a replaced file (a restore, a migration) starts over."""
        try:
            st = os.stat(self.data_path)
        except OSError:
            return
        if st.st_ino == self.ino:
            return
        self.ino = st.st_ino
        self.dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}"
        self._ino_tag = b" %d " % self.ino
        self._known: dict[int, int | None] = {}  # pid -> start time, for pids that mapped the file
        self._writable: dict[tuple[int, int | None], bool | None] = {}
        self._scanned_at: float | None = None

    # -- one process ----------------------------------------------------------

    def _map_length(self, text: bytes) -> tuple[int | None, bool]:
        """Length of the longest contiguous mapping of the file from offset 0, and whether any
        part of the file is mapped writable."""
        vmas = []
        rw = False
        if self._ino_tag not in text:
            return None, False
        for line in text.splitlines():
            parts = line.split(None, 5)
            if len(parts) < 5 or parts[4] != str(self.ino).encode():
                continue
            path = parts[5].decode("utf-8", "surrogateescape").strip() if len(parts) > 5 else ""
            if parts[3].decode() != self.dev and path != self.data_path:
                continue  # the same inode number on another file system
            lo, hi = (int(x, 16) for x in parts[0].split(b"-"))
            vmas.append((lo, hi, int(parts[2], 16)))
            rw = rw or parts[1][1:2] == b"w"
        if not vmas:
            return None, False
        vmas.sort()
        best = 0
        run_start = None
        prev_hi = prev_off_end = None
        for lo, hi, off in vmas:
            if run_start is not None and lo == prev_hi and off == prev_off_end:
                prev_hi, prev_off_end = hi, off + (hi - lo)
            else:
                run_start = lo if off == 0 else None
                prev_hi, prev_off_end = hi, off + (hi - lo)
            if run_start is not None:
                best = max(best, prev_hi - run_start)
        return (best or None), rw

    def _opened_for_writing(self, pid: int) -> bool | None:
        """Whether any of ``pid``'s descriptors of data.mdb is open O_RDWR/O_WRONLY."""
        base = f"{self.proc}/{pid}"
        try:
            fds = os.listdir(f"{base}/fd")
        except OSError:
            return None
        seen = False
        for fd in fds:
            try:
                target = os.readlink(f"{base}/fd/{fd}")
            except OSError:
                continue
            if target != self.data_path and not target.endswith("/data.mdb"):
                continue
            try:
                st = os.stat(f"{base}/fd/{fd}")
                if st.st_ino != self.ino:
                    continue
                info = _read(f"{base}/fdinfo/{fd}")
            except OSError:
                continue
            seen = True
            for line in info.splitlines():
                if line.startswith(b"flags:"):
                    if int(line.split()[1], 8) & O_ACCMODE:
                        return True
        return False if seen else None

    def measure(self, pid: int) -> ProcMap | None:
        """``pid``'s mapping of data.mdb; None when it does not map it (or is gone)."""
        try:
            text = _read(f"{self.proc}/{pid}/maps")
        except FileNotFoundError:
            return None
        except PermissionError:
            return ProcMap(pid, process_name(pid), None, None,
                           f"permission denied reading /proc/{pid}/maps (run as the database's owner or root)")
        except OSError as e:
            return ProcMap(pid, process_name(pid), None, None, f"cannot read /proc/{pid}/maps: {e.strerror or e}")
        length, rw = self._map_length(text)
        if length is None:
            return None
        key = (pid, process_start(pid, self.proc))
        if key not in self._writable or self._writable[key] is None:
            self._writable[key] = True if rw else self._opened_for_writing(pid)
        self._known[pid] = key[1]
        return ProcMap(pid, process_name(pid), length, self._writable[key])

    # -- all processes ----------------------------------------------------------

    def _scan(self) -> set[int]:
        found: set[int] = set()
        me = os.getpid()
        try:
            names = os.listdir(self.proc)
        except OSError:
            return found
        for n in names:
            if not n.isdigit() or int(n) == me:
                continue
            try:
                text = _read(f"{self.proc}/{n}/maps")
            except OSError:
                continue
            if self._ino_tag in text:
                found.add(int(n))
        self.scans += 1
        return found

    def processes(self, known: Iterable[int] = (), now: float | None = None) -> list[ProcMap]:
        """Every process other than this one that maps data.mdb, plus an entry with a reason for each
        ``known`` pid (reader table, lock holders) that is alive but cannot be measured here."""
        now = time.monotonic() if now is None else now
        self._identify()
        me = os.getpid()
        pids = set(self._known) | {p for p in known if p and p != me}
        if self._scanned_at is None or now - self._scanned_at >= self.SCAN_EVERY_S:
            pids |= self._scan()
            self._scanned_at = now
        out = []
        live: dict[int, int | None] = {}
        known = set(known)
        for pid in sorted(pids):
            if pid == me:
                continue
            m = self.measure(pid)
            if m is None:
                if pid in known and os.path.exists(f"{self.proc}/{pid}"):
                    out.append(ProcMap(pid, process_name(pid), None, None,
                                       f"pid {pid} holds the environment open but /proc/{pid}/maps shows no "
                                       "mapping of this data.mdb (another PID namespace or container?)"))
                elif pid in known:
                    out.append(ProcMap(pid, None, None, None,
                                       f"pid {pid} holds the environment open but is not in this /proc "
                                       "(another PID namespace or container?)"))
                continue
            out.append(m)
            if m.map_size is not None:
                live[pid] = self._known.get(pid)
        self._known = live
        self._writable = {k: v for k, v in self._writable.items() if k[0] in live}
        return out
