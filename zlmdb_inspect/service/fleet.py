"""Many databases at once: one refreshable per path, refreshed in parallel, results kept per path.

The exporter, the multi-database report modes and the TUI's Databases screen all need the same
thing: the latest figures of every database, where one slow or broken database never holds up
the others and a database that disappears or is damaged later is reported, not fatal. A
"refreshable" is a ``Service`` (``open_fleet``) or anything with its ``refresh``/``close`` (tests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from zlmdb_inspect.core.kinds import Status
from zlmdb_inspect.core.model import Snapshot
from zlmdb_inspect.core.options import Options, Settings, Thresholds, load_settings
from zlmdb_inspect.health.findings import Finding
from zlmdb_inspect.health.shared_volume import SharedVolume, shared_volumes
from zlmdb_inspect.health.timetofull import TimeToFull
from zlmdb_inspect.service import Service
from zlmdb_inspect.storage import binding

__all__ = ["DatabaseResult", "Fleet", "SharedVolume", "open_fleet", "sharing", "status_of", "volume_status",
           "volumes_of", "worst_status"]


class Refreshable(Protocol):
    def refresh(self, live: bool = False) -> Any: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class DatabaseResult:
    """One database's latest refresh, or why it could not be inspected."""

    path: str
    snapshot: Snapshot | None = None
    warnings: Sequence[Finding] = ()
    eta: TimeToFull | None = None  # when there is history, else None
    error: str | None = None
    refreshed_at: float = 0.0  # time.time() when this result was produced
    detail: Any = None  # the refreshable's own result (the service's Refresh), for clients that need more

    @property
    def up(self) -> bool:
        return self.error is None and self.snapshot is not None


def result_of(path: str, ref: Any) -> DatabaseResult:
    return DatabaseResult(path=path, snapshot=ref.snapshot, warnings=list(ref.warnings),
                          eta=getattr(ref, "eta", None), refreshed_at=time.time(), detail=ref)


def error_of(path: str, exc: BaseException) -> DatabaseResult:
    from zlmdb_inspect.core.errors import InspectError

    why = str(exc) if isinstance(exc, InspectError) else f"{type(exc).__name__}: {exc}"
    if why.startswith(f"{path}: "):
        why = why[len(path) + 2:]
    return DatabaseResult(path=path, error=why or type(exc).__name__, refreshed_at=time.time())


@dataclass
class _Slot:
    path: str
    db: Refreshable | None = None
    result: DatabaseResult | None = None
    at: float = 0.0  # time.monotonic() of the result
    running: Future | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Fleet:
    """The databases of one run, refreshed in a small thread pool.

    ``results()`` returns every path's result, refreshing those older than ``max_age`` (a
    result younger than that is reused, so scrapes faster than the interval cost nothing). A
    database still being read when ``timeout`` runs out keeps its previous result (or says it is
    still being read); its refresh continues and is used by the next call. A database that
    failed is opened afresh on the next refresh, so one that reappears or is repaired comes back.
    """

    def __init__(self, paths: Sequence[str], open_db: Callable[[str], Refreshable], *,
                 max_age: float = 2.0, live: bool = True, workers: int = 4, thresholds: Thresholds | None = None):
        self.paths = list(paths)
        self.thresholds = thresholds or Thresholds()  # grades the volumes several databases share
        self._open = open_db
        self.max_age = max_age
        self.live = live
        self._slots = {p: _Slot(p) for p in self.paths}
        binding.lmdb()  # here, before the pool's threads: with one thread zlmdb's package is not imported
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(self.paths))),
                                        thread_name_prefix="zlmdb-fleet")
        self._lock = threading.Lock()

    def _refresh(self, slot: _Slot) -> DatabaseResult:
        with slot.lock:  # one refresh of a database at a time; a service is not shared between refreshes
            try:
                if slot.db is None:
                    slot.db = self._open(slot.path)
                res = result_of(slot.path, slot.db.refresh(live=self.live))
            except Exception as e:  # noqa: BLE001 - a broken database is a result, never a crash
                res = error_of(slot.path, e)
                db, slot.db = slot.db, None
                if db is not None:
                    try:
                        db.close()
                    except Exception:  # noqa: BLE001 - it is already broken
                        pass
            slot.result, slot.at = res, time.monotonic()
            return res

    def refresh(self, path: str) -> DatabaseResult:
        """Refresh one database now, in the caller's thread (the TUI's per-row workers)."""
        return self._refresh(self._slots[path])

    def submit(self, path: str) -> Future:
        """Refresh one database in the pool unless it is already being refreshed."""
        slot = self._slots[path]
        with self._lock:
            if slot.running is None or slot.running.done():
                slot.running = self._pool.submit(self._refresh, slot)
            return slot.running

    def results(self, timeout: float | None = None, max_age: float | None = None) -> list[DatabaseResult]:
        """Every database's result, fresh where the last one is older than ``max_age``."""
        age = self.max_age if max_age is None else max_age
        now = time.monotonic()
        pending = [self.submit(s.path) for s in self._slots.values()
                   if s.result is None or now - s.at >= age]
        if pending:
            wait_futures(pending, timeout=timeout)
        out = []
        for s in self._slots.values():
            res = s.result
            if res is None:
                res = DatabaseResult(path=s.path, error="still being read", refreshed_at=time.time())
            out.append(res)
        return out

    def last(self, path: str) -> DatabaseResult | None:
        return self._slots[path].result

    def volumes(self, results: Sequence[DatabaseResult] | None = None) -> list[SharedVolume]:
        """The volumes under ``results`` (default: the latest of each database), see :func:`volumes_of`."""
        if results is None:
            results = [r for r in (self.last(p) for p in self.paths) if r is not None]
        return volumes_of(results, self.thresholds)

    def database(self, path: str) -> Refreshable | None:
        """The open refreshable of ``path`` (None while it cannot be opened)."""
        return self._slots[path].db

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for s in self._slots.values():
            with s.lock:
                if s.db is not None:
                    try:
                        s.db.close()
                    except Exception:  # noqa: BLE001 - closing is best effort
                        pass
                    s.db = None


def open_fleet(opts: Options, paths: Sequence[str], live: bool) -> tuple[Settings, Fleet]:
    """The services of ``paths`` (opened at their first refresh), with the --config file read once."""
    settings = load_settings(opts)

    def open_db(path: str) -> Service:
        return Service(replace(opts, path=path), settings)

    return settings, Fleet(paths, open_db, max_age=opts.interval, live=live, thresholds=settings.thresholds)


def volumes_of(results: Sequence[DatabaseResult], th: Thresholds) -> list[SharedVolume]:
    """The results grouped by the volume under each database (``st_dev``), each volume graded where
    several databases share it: they share its free bytes, which each one's own figures count again."""
    return shared_volumes([(r.path, r.snapshot, r.eta) for r in results if r.up and r.snapshot is not None], th)


def sharing(volumes: Sequence[SharedVolume]) -> dict[str, SharedVolume]:
    """path -> its volume, for the databases whose volume limits them together (``SharedVolume.limits``)."""
    return {p: v for v in volumes if v.limits for p in v.paths}


def status_of(res: DatabaseResult) -> Status:
    """OK/WARNING/CRITICAL from the warnings, UNKNOWN when the database could not be inspected."""
    return Status.of(w.severity for w in res.warnings) if res.up else Status.UNKNOWN


def worst_status(statuses: Sequence[Status]) -> Status:
    return Status.worst(statuses)


def volume_status(volumes: Sequence[SharedVolume]) -> list[Status]:
    """The statuses of the volumes' own findings (several databases outgrowing one volume)."""
    return [Status.of(f.severity for f in v.findings) for v in volumes if v.findings]
