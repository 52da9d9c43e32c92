"""Open a zlmdb environment strictly read-only and take short snapshots of it.

Rules this module keeps, because the database belongs to a live system:

* nothing is created: the path must already hold ``data.mdb``; without a
  ``lock.mdb``, or when no process has the environment open, LMDB runs
  without locking (opening with locking as the only user would make LMDB
  re-initialise ``lock.mdb`` and so clear its reader table);
* the map size is adopted from the writer (``map_size=0``), and re-adopted
  with ``set_mapsize(0)`` when the writer has grown it;
* each snapshot is one read transaction, closed before the snapshot returns.
"""

from __future__ import annotations

import os
import stat as stat_mod
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import cbor2
import numpy as np

from zlmdb_inspect.core.errors import DamagedError, InspectError, NotWalkedError
from zlmdb_inspect.core.kinds import ProblemKind
from zlmdb_inspect.core.model import Capacity, LmdbFigures, NamedDb, Problem, Reader, Snapshot, Table
from zlmdb_inspect.core.slots import slot_of
from zlmdb_inspect.storage import binding, lockfile
from zlmdb_inspect.storage.compact import compact_figures
from zlmdb_inspect.storage.freeruns import free_runs
from zlmdb_inspect.storage.freetree import FreeTree
from zlmdb_inspect.storage.leaves import LeafWalk, largest_in_slot
from zlmdb_inspect.storage.pageformat import P_BRANCH, PAGE_KINDS, SHORT_KEY_SLOT, Meta, PageError, PageFile
from zlmdb_inspect.storage.procmaps import ProcMaps, process_start
from zlmdb_inspect.storage.summaries import PackedSummaries
from zlmdb_inspect.storage.volume import Volume, disk_available
from zlmdb_inspect.storage.walk import (
    TimeBuckets,
    TreeSummary,
    TreeWalker,
    WalkResult,
    hourly,
    unwritten_pages_are_free,
)

T = TypeVar("T")


def check_path(path: str) -> tuple[str, str]:
    """Resolve ``path`` to (directory, data.mdb) or raise with what is wrong."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        raise InspectError(f"{path}: no such file or directory") from None
    except PermissionError:
        raise InspectError(f"{path}: permission denied (a parent directory cannot be searched)") from None
    except OSError as e:
        raise InspectError(f"{path}: {e.strerror or e}") from None
    real = os.path.realpath(path)
    if not os.path.exists(real):
        raise InspectError(f"{path}: a symbolic link to {real}, which does not exist")
    if os.path.basename(real) == "data.mdb" and os.path.isfile(real):  # the file itself: its directory
        real = os.path.dirname(real)
    if not os.path.isdir(real):
        raise InspectError(f"{path}: not a directory (an LMDB environment is a directory holding data.mdb)")
    data = os.path.join(real, "data.mdb")
    try:
        st = os.stat(data)
    except FileNotFoundError:
        raise InspectError(f"{path}: no data.mdb in this directory, so no LMDB database here") from None
    except PermissionError:
        raise InspectError(f"{path}: permission denied (the directory cannot be searched)") from None
    if not stat_mod.S_ISREG(st.st_mode):
        raise InspectError(f"{data}: not a regular file")
    if not os.access(data, os.R_OK):
        raise InspectError(f"{data}: permission denied")
    if st.st_size == 0:
        raise InspectError(f"{data}: the file is empty (0 bytes)")
    return real, data


def parse_slot_metadata(key: bytes, value: bytes) -> tuple[dict | None, str | None]:
    """A slot-0 record as (fields, None), or (None, why it cannot be read)."""
    if len(key) != 4:
        return None, f"metadata key {key.hex()} is {len(key)} bytes, not 4"
    try:
        data = cbor2.loads(value)
    except Exception as e:  # noqa: BLE001 - any decoder failure is a finding
        return None, f"metadata for slot {slot_of(key[2:4])} is not CBOR ({type(e).__name__}: {e})"
    slot = slot_of(key[2:4])
    if not isinstance(data, dict):
        return None, f"metadata for slot {slot} is a CBOR {type(data).__name__}, not a map"
    oid = data.get("oid")
    try:
        oid = str(uuid.UUID(str(oid))) if oid is not None else None
    except ValueError:
        return None, f"metadata for slot {slot} has an invalid oid {oid!r}"
    if oid is None:
        return None, f"metadata for slot {slot} has no oid"
    if data.get("slot") not in (None, slot):
        return None, f"metadata under slot {slot} claims slot {data.get('slot')!r}"
    for k in ("name", "description", "creator"):
        if data.get(k) is not None and not isinstance(data.get(k), str):
            return None, f"metadata for slot {slot} has a non-text {k}"
    return {"slot": slot, "oid": oid, "name": data.get("name"),
            "description": data.get("description"), "creator": data.get("creator")}, None


def parse_readers(text: str) -> list[Reader]:
    out = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        txnid = int(parts[2]) if parts[2].isdigit() else None
        out.append(Reader(pid=int(parts[0]), thread=parts[1], txnid=txnid))
    return out


class Inspector:
    """One read-only view of an environment. Calls are serialised by a lock (workers share it)."""

    SNAPSHOT_RETRIES = 5

    def __init__(self, path: str):
        self.path = path
        self.dir, self.data_path = check_path(path)
        self.lock_path = os.path.join(self.dir, "lock.mdb")
        self._env: Any = None  # zlmdb.lmdb.Environment, opened read-only
        self._locking = False
        self._pf: PageFile | None = None
        self.walker = TreeWalker()
        self._lock = threading.Lock()
        self.procmaps = ProcMaps(self.data_path)
        self.volume = Volume(self.dir, self.data_path)
        self._last: _Seen | None = None  # the reads of the last full snapshot
        self._next_walk = 0.0  # monotonic time from which a changed database is walked again
        self._force_walk = False
        self._adopted = False  # the walker holds summaries from a state file (not yet proven by a walk)
        self._hours: tuple[WalkResult, TimeBuckets] | None = None  # key_times() of that walk
        self.check_reads = 0  # pages read to check adopted summaries
        # the last free runs, by (snapshot identity, oldest reader, depth), and whether a state file gave them
        # (an unchanged database's next one-shot run takes them instead of merging 650k pages again)
        self._runs: tuple[tuple, dict | None, bool] | None = None
        self.runs_reused = 0  # free runs taken from a state file's
        self._short_ok: tuple[tuple, bool] | None = None  # a file shorter than last_pgno: only free pages past it?
        self._proven: PageFile | None = None  # the page file a walk found no page of the tree past the end of
        self._largest: dict[int, tuple] = {}  # slot -> (its figures, largest values, monotonic time)
        try:
            self._open_pagefile()
        except PageError as e:
            raise InspectError(f"{path}: {e}") from None
        self._open_env()

    # -- opening -------------------------------------------------------------

    def _open_pagefile(self) -> PageFile:
        size = os.stat(self.data_path).st_size
        if self._pf is None or self._pf.file_size != size:
            old = self._pf
            self._pf = PageFile(self.data_path)
            if old is not None:
                old.close()
        return self._pf

    def _open_env(self) -> None:
        lmdb = binding.lmdb()  # imported late, and without the rest of zlmdb where it can be
        self._locking = lockfile.in_use(self.lock_path)
        if self._locking:  # one descriptor to lock.mdb for as long as LMDB holds locks on it (lockfile)
            lockfile.hold(self.lock_path)
        try:
            self._env = lmdb.open(
                self.dir, readonly=True, map_size=0, create=False, lock=self._locking,
                max_spare_txns=0, max_dbs=0, readahead=False)
        except lmdb.Error as e:
            self._close_env()
            raise InspectError(f"{self.path}: LMDB cannot open it: {_lmdb_message(e)}") from None
        except OSError as e:
            self._close_env()
            raise InspectError(f"{self.path}: {e.strerror or e}") from None

    def _close_env(self) -> None:
        """Close LMDB's environment, then let go of our descriptor to its lock file."""
        if self._env is not None:
            self._env.close()
            self._env = None
        if self._locking:
            lockfile.release(self.lock_path)
            self._locking = False

    def close(self) -> None:
        with self._lock:
            self._close_env()
            if self._pf is not None:
                self._pf.close()
                self._pf = None

    def __enter__(self) -> Inspector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def locking(self) -> bool:
        return self._locking

    def _adopt_writer_changes(self) -> None:
        """Adopt what a live writer changed since the last snapshot."""
        if not self._locking and lockfile.in_use(self.lock_path):
            # a process opened the database after us: take part in its locking now
            self._close_env()
            self._open_env()
        pf = self._open_pagefile()
        meta = pf.current_meta()
        if meta.map_size and meta.map_size != self._env.info()["map_size"]:
            self._env.set_mapsize(0)

    # -- transactions ----------------------------------------------------------

    def read(self, fn: Callable[..., T], bounded: bool = False) -> T:
        """Run ``fn(txn, pagefile, meta)`` inside one short read transaction. ``bounded``: ``fn`` reads
        pages only through the page file's bounds checks (or LMDB's cursors only after a walk of the
        snapshot succeeded), so a file shorter than its meta page says is no danger to it."""
        lmdb = binding.lmdb()  # imported late, and without the rest of zlmdb where it can be
        with self._lock:
            if self._env is None:
                raise InspectError(f"{self.path}: the inspector was closed")
            try:
                self._adopt_writer_changes()
            except PageError as e:
                raise DamagedError(f"{self.path}: {e}") from None
            except OSError as e:  # the database went away or became unreadable
                raise InspectError(f"{self.path}: {e.strerror or e}") from None
            last_err: Exception | None = None
            for _ in range(self.SNAPSHOT_RETRIES):
                try:
                    txn = self._env.begin(buffers=False)
                except lmdb.MapResizedError:
                    self._env.set_mapsize(0)
                    continue
                except lmdb.Error as e:
                    raise InspectError(f"{self.path}: cannot start a read transaction: {_lmdb_message(e)}") from None
                try:
                    pf = self._open_pagefile()
                    try:
                        meta = pf.meta_for(txn.id())
                    except PageError as e:  # the writer overwrote that meta already
                        last_err = e
                        continue
                    if meta.last_pgno >= pf.pages_in_file:  # LMDB's cursors must not touch a page past the end
                        self._check_short_file(pf, meta, bounded)
                    return fn(txn, pf, meta)
                finally:
                    txn.abort()
            raise InspectError(f"{self.path}: could not find the snapshot's meta page ({last_err})")

    def _check_short_file(self, pf: PageFile, meta: Meta, bounded: bool) -> None:
        """A file shorter than its meta page's ``last_pgno`` says (a map past the end of a file: SIGBUS
        where touched). Healthy when only free pages lie past its end: LMDB allocated them and freed
        them again in the same transaction, so never wrote them (common after a table is emptied).
        Then page reads go on (they check the file's end), and LMDB's cursors once a walk of this
        file has found no page of the tree past its end (a process that has walked before walks now:
        1.0 from its summaries, in milliseconds, 0.9 the whole tree; before the first walk the caller
        reads pages instead); else the file is truncated: damaged."""
        key = (pf, meta.txnid, meta.last_pgno, meta.free.root)
        if self._short_ok is None or self._short_ok[0] != key:  # once a snapshot
            self._short_ok = (key, unwritten_pages_are_free(pf, meta))
        if not self._short_ok[1]:
            raise DamagedError(f"{self.path}: data.mdb holds {pf.pages_in_file} pages, its meta page "
                               f"says {meta.last_pgno + 1} are in use (truncated?)")
        if bounded or self._proven is pf:
            return
        if self._last is None:
            raise NotWalkedError(f"{self.path}: data.mdb holds {pf.pages_in_file} pages, fewer than the "
                                 f"{meta.last_pgno + 1} its meta page counts; those past its end are free "
                                 "(LMDB never wrote them), but no walk has shown yet that the tree uses none")
        try:  # e.g. the file grew, still short, between two refreshes of a live view
            self._walk(pf, meta, read_free=False)
        except PageError as e:
            raise DamagedError(f"{self.path}: the page walk stopped: {e}") from None

    def _walk(self, pf: PageFile, meta: Meta, read_free: bool = True, remember: bool = True) -> WalkResult:
        """The walker's walk of this snapshot; a walk that stops while using summaries from a state file
        is done again from scratch before anything is called damage (``PageError``). A walk that
        finishes found no page of the tree past the file's end: LMDB's cursors may read it."""
        try:
            walk = self.walker.walk(pf, meta, read_free=read_free, remember=remember)
        except PageError:
            if not self._adopted and self.walker.saved is None:
                raise
            self.walker.forget()  # summaries from a state file never make a tree look damaged
            self._adopted = False
            walk = self.walker.walk(pf, meta, read_free=read_free, remember=remember)
        self._adopted = False
        self._proven = pf
        return walk

    # -- snapshot --------------------------------------------------------------

    def snapshot(self, remember: bool = True) -> Snapshot:
        """A snapshot; what cannot have changed since the last one is not read again.

        The reader table, the environment's info and process liveness are read every time
        (they change without a commit); the walk, the catalog and the counts are reused
        while the meta page's txnid, the map size and the file are what the last full
        snapshot saw, and, where every walk is a full one (0.9 format) and it is expensive,
        until the next is due (see ``DEFER_ABOVE_S`` and ``WALK_SHARE``). ``remember``: False
        where no snapshot follows (a one-shot run): nothing is kept for an incremental walk.
        """
        t_start = time.time()

        def take(txn, pf: PageFile, meta: Meta) -> _Seen:
            return self._take(txn, pf, meta, remember)

        seen = self.read(take, bounded=True)  # LMDB's cursors only after its walk
        if seen.fresh and seen.walk is None and not self._locking and lockfile.in_use(self.lock_path):
            # a writer started while we read without a reader slot: pages may have been
            # reused under us; read again, now taking part in its locking
            seen = self.read(take, bounded=True)
        if seen.walk is not None and (seen.fresh or (self._last is not None and self._last.key == seen.key)):
            # a new walk, or the same snapshot (its free lists still hold: another oldest reader, other runs)
            seen.free_runs = self._free_runs(seen.pf, seen.meta, seen.walk, seen.readers, seen.ident)
        if seen.fresh:
            if seen.walk is None:
                seen.counts = self._cursor_count_subprocess(seen.problems)
            seen.counts_at = t_start
            self._counted(seen)
        return self._assemble(t_start, seen)

    #: Walks that cost less CPU time than this run at every refresh that saw a new transaction.
    #: 0.9-format walks are full walks; a 1.0-format walk reads only what changed since the
    #: last one (its first, full, walk never delays the next), so it is this expensive only
    #: under heavy churn.
    DEFER_ABOVE_S = 0.1
    #: Otherwise the counts are taken again once the walk's share of time since the last one
    #: falls to this (0.03: walking costs at most ~3 % of a core under a busy writer; the rest of a
    #: refresh and drawing what changed add about 2 %, and the TUI stays within 5 %).
    WALK_SHARE = 0.03
    #: Counts are never older than this (the first walk of a mapping also pays its page faults,
    #: and would otherwise put the next one far off).
    DEFER_MAX_S = 15.0

    def count_now(self) -> None:
        """Walk at the next snapshot even if the counts are not due yet (the TUI's ``r``)."""
        self._force_walk = True

    def _counted(self, seen: _Seen) -> None:
        """Keep a pristine copy of a fresh snapshot's reads, and schedule the next walk."""
        self._last = replace(seen, problems=list(seen.problems), readers=[])
        cost = seen.walk_s
        self._next_walk = (time.monotonic() + min(cost / self.WALK_SHARE, self.DEFER_MAX_S)
                           if cost >= self.DEFER_ABOVE_S and not seen.walk_first else 0.0)
        self._force_walk = False

    def _file_key(self, pf: PageFile, meta: Meta, st: os.stat_result) -> tuple:
        """What must be unchanged for a snapshot to be reused whole."""
        return (id(pf), st.st_ino, st.st_size, st.st_mtime_ns, meta.txnid, meta.map_size,
                meta.last_pgno, self._locking)

    def _take(self, txn, pf: PageFile, meta: Meta, remember: bool = True) -> _Seen:
        """Everything read inside the one read transaction of a snapshot."""
        t0 = time.perf_counter()
        info = self._env.info()
        readers = parse_readers(self._env.readers()) if self._locking else []
        st = os.stat(self.data_path)
        key = self._file_key(pf, meta, st)
        last = self._last
        if last is not None and not self._force_walk and (
                last.key == key or time.monotonic() < self._next_walk):
            # unchanged (or a walk is not due yet): only what changes without a commit is read
            seen = replace(last, pf=pf, meta=meta, info=info, readers=readers,
                           problems=list(last.problems), fresh=False, key=key,
                           counts_next=self._next_walk if last.key != key else None,
                           ident=last.ident if last.key == key else None)
            seen.txn_s = time.perf_counter() - t0
            return seen
        seen = _Seen(pf=pf, meta=meta, info=info, readers=readers, key=key)
        seen.walk_first = pf.has_txnid and not self.walker.reusable  # a 1.0 walk with nothing to reuse
        cpu0 = time.thread_time()  # CPU, not wall time: a busy machine does not make walks rarer
        try:
            seen.walk = self._walk(pf, meta, remember=remember)
            seen.counts = seen.walk.summary.slots
        except PageError as e:
            seen.problems.append(Problem(ProblemKind.DAMAGED, f"the page walk stopped: {e}"))
        seen.walk_s = time.thread_time() - cpu0
        if seen.walk is not None:  # LMDB's cursor is not trusted on a damaged tree
            seen.catalog, problems = self._catalog(txn)
            seen.problems += problems
            seen.ident = snapshot_identity(pf, meta, st)
        seen.counts_txnid = meta.txnid
        seen.txn_s = time.perf_counter() - t0
        return seen

    def _free_runs(self, pf: PageFile, meta: Meta, walk: WalkResult | None, readers: list[Reader],
                   ident: tuple | None = None) -> dict | None:
        """Free runs over the pages reusable now, kept per (snapshot, oldest reader): after the read
        transaction (the walk's copies of the free database's lists, no page of the file). ``ident``: the
        snapshot's :func:`snapshot_identity`, under which they are kept (and a state file's are found)."""
        if walk is None:
            return None
        oldest = min([r.txnid for r in readers if r.txnid is not None] + [meta.txnid])
        key = (*ident, oldest, meta.main.depth) if ident is not None else None
        with self._lock:  # (what is kept, with export_runs_memo(); not the work)
            kept = self._runs
            if key is not None and kept is not None and kept[0] == key:
                if kept[2]:  # a state file's: taken once, this process's from then on
                    self.runs_reused += 1
                    self._runs = (key, kept[1], False)
                return kept[1]
        try:
            runs: dict | None = free_runs(walk, oldest, meta.last_pgno, meta.main.depth)
        except PageError:
            runs = None
        if key is not None:
            with self._lock:
                self._runs = (key, runs, False)
        return runs

    def identity(self, txnid: int) -> tuple[int, ...] | None:
        """The :func:`snapshot_identity` of the last snapshot when it was walked at ``txnid`` (None otherwise)."""
        with self._lock:
            last = self._last
            ident = last.ident if last is not None else None
            return ident if ident is not None and ident[0] == txnid else None

    def export_runs_memo(self) -> tuple[tuple, dict] | None:
        """The last free runs with the key they hold under (snapshot identity, oldest reader, depth), for
        a state file; None before any."""
        with self._lock:
            kept = self._runs
            return (kept[0], kept[1]) if kept is not None and kept[1] is not None else None

    def adopt_runs_memo(self, key: tuple, runs: dict) -> None:
        """A state file's free runs: used where a snapshot has that identity, oldest reader and depth."""
        with self._lock:
            self._runs = (tuple(key), runs, True)

    def _catalog(self, txn) -> tuple[list[dict], list[Problem]]:
        cat, problems = [], []
        cur = txn.cursor()
        ok = cur.set_range(b"")
        while ok:
            key = cur.key()
            if key[:2] > b"\0\0" and len(key) >= 2:
                break
            if len(key) < 2:
                ok = cur.next()
                continue
            meta, err = parse_slot_metadata(key, cur.value())
            if err or meta is None:
                slot = slot_of(key[2:4]) if len(key) >= 4 else None
                problems.append(Problem(ProblemKind.BAD_METADATA, err or "no metadata", slot))
            else:
                cat.append(meta)
            ok = cur.next()
        return cat, problems

    def _cursor_count_subprocess(self, problems: list[Problem]) -> dict:
        """Count through LMDB's cursor in a child process, so a crash cannot take us down."""
        import subprocess  # only here: ~5 ms of every one-shot run's start otherwise

        from zlmdb_inspect.storage.walk import SlotSpace

        cmd = [sys.executable, "-m", "zlmdb_inspect.storage.cursor_count", self.dir,
               "1" if self._locking else "0"]
        try:
            out = subprocess.run(cmd, capture_output=True, timeout=10, text=True)
        except subprocess.TimeoutExpired:
            problems.append(Problem(ProblemKind.DAMAGED, "counting through LMDB's cursor did not finish in 10 s"))
            return {}
        if out.returncode != 0:
            why = (f"LMDB crashed reading the tree (signal {-out.returncode})" if out.returncode < 0
                   else (out.stderr.strip().splitlines() or ["failed"])[-1])
            problems.append(Problem(ProblemKind.DAMAGED, f"counting through LMDB's cursor failed: {why}"))
            return {}
        problems.append(Problem(ProblemKind.COUNT_FALLBACK,
                                "records were counted through LMDB's cursor, not the page walk"))
        import json

        return {int(k): SlotSpace(records=v) for k, v in json.loads(out.stdout).items()}

    def _assemble(self, t_start: float, seen: _Seen) -> Snapshot:
        pf, meta, info, readers, problems = seen.pf, seen.meta, seen.info, seen.readers, seen.problems
        catalog, counts, walk = seen.catalog, seen.counts, seen.walk
        psize = pf.page_size
        library = ".".join(str(x) for x in self._env.lib_version())
        figures = LmdbFigures(
            format=pf.format, library=library, page_size=psize, depth=meta.main.depth,
            branch_pages=meta.main.branch_pages, leaf_pages=meta.main.leaf_pages,
            overflow_pages=meta.main.overflow_pages, entries=meta.main.entries,
            last_pgno=meta.last_pgno, last_txnid=meta.txnid,
            max_readers=info["max_readers"], num_readers=info["num_readers"] if self._locking else 0,
            locking=self._locking)
        alive = lockfile.pids_alive(self.lock_path, sorted({r.pid for r in readers}))
        cap = self._capacity(meta, info, psize, pf.file_size, walk, readers, alive)
        self._disk(cap, psize, seen.free_runs)
        if walk is not None:  # issue 29 item 4
            cap.compact = compact_figures(pf, meta, walk)
        found = sorted(walk.summary.named_dbs, key=lambda kr: kr[0]) if walk else []  # in key order, as LMDB lists them
        named = [NamedDb(name=k.rstrip(b"\0").decode("utf-8", "backslashreplace"), entries=r.entries,
                         depth=r.depth, branch_pages=r.branch_pages, leaf_pages=r.leaf_pages,
                         overflow_pages=r.overflow_pages) for k, r in found]
        method = "cursor" if walk is None else "pages+cache" if walk.cached_subtrees else "pages"

        by_slot = {c["slot"]: c for c in catalog}
        tables: list[Table] = []
        short = 0
        for slot in sorted(set(counts) | set(by_slot)):
            if slot == SHORT_KEY_SLOT:
                short = counts[slot].records
                continue
            sp = counts.get(slot)
            c = by_slot.get(slot)
            t = Table(slot=slot, oid=c["oid"] if c else None, name=c["name"] if c else None,
                      description=c["description"] if c else None,
                      creator=c["creator"] if c else None,
                      records=sp.records if sp else 0, metadata=c is not None or slot == 0,
                      kind="catalog" if slot == 0 else "slot")
            if slot == 0:
                t.name, t.description = "(zlmdb catalog)", "one metadata record per table"
            if sp is not None:
                t.pages = round(sp.leaf_pages, 2)
                t.overflow_pages = sp.overflow_pages
                t.overflow_bytes = sp.overflow_bytes
                t.max_value = sp.max_value
                t.bytes = int(round((sp.leaf_pages + sp.overflow_pages) * psize))
            tables.append(t)
        if short:
            problems.append(Problem(ProblemKind.SHORT_KEYS,
                                    f"{short} records have keys shorter than 2 bytes (no slot)"))
        for r in readers:
            if r.txnid is not None:
                r.lag = meta.txnid - r.txnid
        me = os.getpid()
        live = {pid for pid in alive if alive[pid]}  # a process's threads hold a slot each: /proc read once a pid
        names = {pid: lockfile.process_name(pid) for pid in live}
        starts = {pid: process_start(pid) for pid in live}
        for r in readers:
            r.alive = alive.get(r.pid)
            r.name = names.get(r.pid) if r.alive else None
            r.started = starts.get(r.pid) if r.alive else None
            r.own = r.pid == me and r.txnid == meta.txnid
        if walk is not None:
            reader_space(readers, walk, meta.txnid, psize)
        return Snapshot(
            path=self.path, taken_at=t_start, txn_ms=round(seen.txn_s * 1000, 3), lmdb=figures,
            capacity=cap, tables=tables, databases=named, readers=readers, problems=problems,
            zlmdb=bool(catalog), count_method=method,
            page_reads=walk.page_reads if walk else 0, short_key_records=short,
            counts_txnid=seen.counts_txnid or meta.txnid, counts_at=seen.counts_at or t_start,
            counts_next_at=(None if seen.counts_next is None
                            else round(time.time() + max(0.0, seen.counts_next - time.monotonic()), 3)))


    # -- summaries carried between runs (service.state) -------------------------------

    def current_meta(self) -> tuple[int, int, str]:
        """(the newest meta page's txnid, page size, format "0.9"/"1.0"): what a state file must agree with."""
        with self._lock:
            pf = self._open_pagefile()
            return pf.current_meta().txnid, pf.page_size, pf.format

    def key_times(self) -> tuple[frozenset[int], TimeBuckets]:
        """The last walk's time slots and their records and bytes per hour of the key's time
        (``TreeWalker.time_slots``; empty when the counts did not come from a walk)."""
        with self._lock:
            walk = self._last.walk if self._last is not None else None
            if walk is None:
                return frozenset(), {}
            if self._hours is None or self._hours[0] is not walk:  # a refresh that reused the walk: the same
                self._hours = (walk, hourly(walk.summary.times))
            return walk.summary.time_slots, self._hours[1]

    def export_summaries(self) -> PackedSummaries:
        """The walker's summaries with the CRC-32 of each one's page, read in one read transaction:
        1.0, every summary this process built whose page still holds that txnid, and the state
        file's rows it did not replace (each checked when a walk reaches it); 0.9, the main tree's
        when the snapshot is still the newest."""
        walker = self.walker
        Rows = list[tuple[tuple[int, int], int, TreeSummary]]

        def take(txn, pf: PageFile, meta: Meta) -> tuple[Rows, dict, PackedSummaries | None,
                                                         tuple[int, int, int] | None]:
            """Only what needs the snapshot: which summaries still hold, their CRCs, the witness."""
            if not pf.has_txnid:
                if walker.whole is not None and walker.whole[0][:2] == (meta.main.root, meta.txnid):
                    crc = _page_crc(pf, meta, meta.main.root)
                    if crc is not None and crc == walker.whole[0][2]:
                        return [((meta.main.root, meta.txnid), crc, walker.whole[1])], {}, None, None
                return [], {}, None, None
            saved = walker.saved if isinstance(walker.saved, PackedSummaries) and len(walker.saved) else None
            items = [(key, summary) for key, summary in list(walker.cache.items())
                     if summary.time_slots == walker.time_slots or saved is None or saved.row(key) is None]
            # (a summary walked for other time slots is left out where the saved row may be for these)
            new: Rows = []
            if items:  # each page still holding its txnid, its headers read at once (pread: most were copies)
                keys = np.array([key for key, _ in items], dtype=np.int64).reshape(-1, 2)
                pg = keys[:, 0]
                inside = np.flatnonzero((pg >= 2) & (pg <= meta.last_pgno) & (pg < pf.pages_in_file))
                words = pf.header_words(pg[inside], True)
                stored, flags, lower, upper = pf.headers(pg[inside], words)
                holds = (stored == pg[inside]) & ((flags & PAGE_KINDS) == P_BRANCH) & (lower <= upper) & \
                    (words[:, 1] == keys[inside, 1].astype(np.uint64))
                held = inside[holds].tolist()
                known = [walker.crcs.get(items[i][0]) for i in held]
                unknown = [j for j, crc in enumerate(known) if crc is None]
                computed = dict(zip(unknown, pf.page_crcs(pg[[held[j] for j in unknown]]).tolist()))
                new = [(items[i][0], crc if crc is not None else computed[j], items[i][1])
                       for j, (i, crc) in enumerate(zip(held, known))]
            walker.crcs = {key: crc for key, crc, _ in new}  # only what is still cached (else it grows)
            witness = None
            if walker.root is not None and (new or saved is not None):  # the last walk's root, still in the file
                pgno, txnid = walker.root
                crc = _page_crc(pf, meta, pgno, txnid)
                witness = (pgno, txnid, crc) if crc is not None else None
            return new, {key: walker.parents[key] for key, _, _ in new if key in walker.parents}, saved, witness

        new, parents, saved, witness = self.read(take, bounded=True)
        packed = PackedSummaries.pack(new, parents)  # outside the read transaction and the lock
        if saved is not None:
            packed = PackedSummaries.concat([packed, saved.without({key for key, _, _ in new})])
        if len(packed):
            packed.witness = witness
        return packed

    def export_free(self) -> FreeTree | None:
        """1.0: the free database as the last walk read it (its pages, records and lists), for a state file."""
        with self._lock:
            return self.walker.free

    def adopt_summaries(self, packed: PackedSummaries, free: FreeTree | None = None) -> int:
        """Hand the walker a state file's summaries (and, 1.0, its free database). 1.0: all of them,
        each used only once a walk reaches its page and finds the page's number, txnid and CRC-32
        (a restored backup holds other pages under the same numbers); 0.9: the main tree's, when the
        snapshot, its root page's CRC and its entries are the same. How many were handed over."""
        walker = self.walker

        ahead: list[np.ndarray] = []  # 1.0: the saved rows' pages inside the snapshot

        def take(txn, pf: PageFile, meta: Meta) -> int:
            if pf.has_txnid and free is not None and len(free):
                walker.free = free
            if not len(packed):
                return 0
            if pf.has_txnid and packed.witness is not None:
                # The root of the walk the rows come from, where the file still holds it (the writer freed it
                # since; nothing reused it): this file's history passed through that tree, so a page found
                # under a row's number and txnid (<= the root's) is the page the row describes: no row needs
                # its page's CRC. A backup restored over the file, or the page reused, and each row is checked.
                pgno, txnid, crc = packed.witness
                self.check_reads += 1
                if _page_crc(pf, meta, pgno, txnid) == crc and int(packed.keys[:, 1].max()) <= txnid:
                    packed.verified[:] = True
            if pf.has_txnid:
                pgnos = packed.keys[:, 0]
                top = min(meta.last_pgno, pf.pages_in_file - 1)
                root = meta.main.root
                # an unchanged root: the walk takes its summary and reads no page below it (reading the rows'
                # pages ahead cost an unchanged run on a cold file ~40 MiB and 0.2 s of CPU for nothing)
                row = packed.row((root, int(pf.np_headers[root, 1]))) if 2 <= root <= top else None
                unchanged = row is not None and (bool(packed.verified[row]) or
                                                 _page_crc(pf, meta, root) == int(packed.crcs[row]))
                if not unchanged:
                    ahead.append(pgnos[(pgnos >= 2) & (pgnos <= top)])
                walker.saved = packed
                self._adopted = True
                return len(packed)
            if len(packed) != 1 or tuple(packed.keys[0].tolist()) != (meta.main.root, meta.txnid):
                return 0
            self.check_reads += 1
            summary = packed.summary(0)
            if summary.entries == meta.main.entries \
                    and _page_crc(pf, meta, meta.main.root) == int(packed.crcs[0]):
                walker.whole = ((meta.main.root, meta.txnid, int(packed.crcs[0])), summary)
                self._adopted = True
                return 1
            return 0

        n = self.read(take, bounded=True)
        if ahead:  # on a cold file, read the saved rows' pages at once (one mincore pass, merged requests), after
            # the read transaction, rather than a fault each as the walk reaches them (per walk level: 1 s more at 10M)
            from zlmdb_inspect.storage.prefetch import read_missing

            with self._lock:  # the mapping is not replaced meanwhile (no read transaction is open)
                pf = self._open_pagefile()  # (read_missing reads single scattered pages: no readahead)
                read_missing(pf, ahead[0][ahead[0] < pf.pages_in_file])
        return n

    LARGEST_BUDGET_S = 0.2  # time spent per table naming its largest records (cached afterwards)
    LARGEST_EVERY_S = 60.0

    def largest_values(self, snap: Snapshot, min_bytes: int,
                       n: int = 3) -> dict[int, tuple[list[tuple[str, int]], bool]]:
        """For each table holding a value of ``min_bytes`` or more: its ``n`` largest records as
        (key in words, value bytes), and whether the scan was cut short. Read from the leaves' node
        headers (no value is read), only for such tables, cached while the table's figures stay
        the same."""
        cache = self._largest
        out: dict[int, tuple[list[tuple[str, int]], bool]] = {}
        wanted = [t for t in snap.tables if t.max_value >= min_bytes and t.slot >= 0]
        todo = []
        now = time.monotonic()
        for t in wanted:
            key = (t.max_value, t.records, t.overflow_pages, t.overflow_bytes)
            old = cache.get(t.slot)
            # again when the largest value changed; for other changes of a live table, once a minute
            if old and (old[0] == key or (old[0][0] == key[0] and now - old[2] < self.LARGEST_EVERY_S)):
                out[t.slot] = old[1]
            else:
                todo.append((t.slot, key))
        if not todo:
            return out

        def scan(txn, pf: PageFile, meta: Meta):
            walk = LeafWalk(pf, meta)
            by_slot: dict[int, tuple[list[tuple[str, int]], bool]] = {}
            for slot, _ in todo:
                best, cut = largest_in_slot(walk, slot, n, self.LARGEST_BUDGET_S)
                by_slot[slot] = ([(_key_words(k[2:]), size) for size, k in best if size >= min_bytes], cut)
            return by_slot

        try:
            found = self.read(scan, bounded=True)  # pages only
        except (InspectError, PageError):
            return out
        for slot, key in todo:
            cache[slot] = (key, found[slot], now)
            out[slot] = found[slot]
        return out

    def _disk(self, cap: Capacity, psize: int, runs: dict | None) -> None:
        """The volume beside the map: available_bytes becomes the smaller of what each allows."""
        cap.map_available_bytes = cap.available_bytes
        cap.free_runs = runs
        fs = self.volume.figures()
        cap.filesystem = fs
        if fs is None:
            return
        disk = disk_available(fs, cap.used_bytes, (cap.reusable_pages or 0) * psize)
        cap.disk_available_bytes = disk
        if disk < cap.available_bytes:
            cap.available_bytes, cap.limit = disk, "disk"


    def _capacity(self, meta: Meta, info: dict, psize: int, file_size: int, walk: WalkResult | None,
                  readers: list[Reader], alive: dict[int, bool]) -> Capacity:
        """Capacity against the effective limit: the smallest map of a live process that can write."""
        meta_size = meta.map_size or info["map_size"]
        known = {r.pid for r in readers if alive.get(r.pid)}
        if self._locking:
            known.add(lockfile.holder(self.lock_path) or 0)
        maps = self.procmaps.processes(known - {0})
        used = (meta.last_pgno + 1) * psize
        # A writer mapping less than the data written cannot write before it adopts the new size
        # (LMDB fails its next write transaction with MDB_MAP_RESIZED; set_mapsize(0) adopts the
        # meta page's), so it is no limit. Read-only processes never limit writes.
        writers = [m for m in maps if m.map_size and m.writable is not False and m.map_size >= used]
        if writers:
            map_size, source = min(m.map_size or 0 for m in writers), "writer"  # all measured
            note = None
            if map_size != meta_size:
                note = "the smallest map among live processes that can write; the meta page keeps the largest ever set"
        else:
            map_size, source = meta_size, "meta"
            note = ("no live process can write: the next writer's map size decides "
                    "(LMDB maps at least the meta page's size only when opened with map_size=0)")
        unmeasured = [m for m in maps if m.map_size is None]
        if unmeasured:
            pids = ", ".join(str(m.pid) for m in unmeasured)
            note = ((note + "; ") if note else "") + (
                f"not measured here (see maps[].reason): pid {pids}; their maps may be smaller")
        map_size = max(map_size, used)  # LMDB never maps less than the data already written
        others = [r for r in readers if r.txnid is not None and r.txnid < meta.txnid]  # not ours: ours is current
        oldest = min([r.txnid for r in readers if r.txnid is not None] + [meta.txnid])
        reusable = pinned = None
        pinned_by = None
        if walk is not None:
            reusable = walk.free_pages_between(0, oldest)
            pinned = 0
            if others:
                # pages freed after the oldest reader's snapshot, which only that snapshot keeps from reuse
                r = min(others, key=lambda x: x.txnid or 0)  # all have one
                since = r.txnid or 0
                pinned = walk.free_pages_between(since, meta.txnid)
                if pinned:
                    pinned_by = {"pid": r.pid, "thread": r.thread, "txnid": r.txnid, "lag": meta.txnid - since,
                                 "alive": alive.get(r.pid),
                                 "name": lockfile.process_name(r.pid) if alive.get(r.pid) else None}
        reuse_bytes = (reusable or 0) * psize
        in_use = used - reuse_bytes
        available = max(0, map_size - used) + reuse_bytes
        return Capacity(
            map_size=map_size, file_size=file_size, used_bytes=used,
            headroom_bytes=map_size - used,
            headroom_pct=round(100.0 * (map_size - used) / map_size, 3) if map_size else 0.0,
            free_pages=walk.free_pages if walk else None, reusable_pages=reusable,
            free_db_pages=walk.free_db_pages if walk else None,
            used_pct=round(100.0 * in_use / map_size, 3) if map_size else 100.0,
            map_size_meta=meta_size, map_source=source, map_note=note,
            maps=[m.to_dict() for m in maps], in_use_bytes=in_use, available_bytes=available,
            pinned_pages=pinned, pinned_by=pinned_by,
            last_commit_freed_pages=walk.free_pages_between(int(walk.free_records[:, 0].max()), meta.txnid + 1)
            if walk is not None and len(walk.free_records) else None)


def reader_space(readers: list[Reader], walk: WalkResult, txnid: int, psize: int) -> None:
    """Set each reader's ``pins_bytes`` and ``releases_bytes`` (issue 29 item 3).

    A free-list record of transaction t is reusable once t is older than every snapshot still
    read (LMDB's mdb_find_oldest, which starts from the last commit ``txnid``). A reader at
    snapshot s therefore keeps the pages freed by s <= t < txnid from reuse; ending it alone
    releases only what no other slot keeps: the records up to the next snapshot still read, so
    that is non-zero for the (unique) oldest only. A dead process's slot pins like a live one
    until it is cleared. An idle slot (no txnid) pins nothing.
    """
    # the free list sorted by txnid once, with running page counts: pages freed by first <= t < end
    # are two look-ups, for all readers at once (a full reader table over ~30k records: ~1 ms, not 8)
    recs = walk.free_records
    order = np.argsort(recs[:, 0], kind="stable")
    ts = recs[order, 0]
    cum = np.concatenate(([0], np.cumsum(recs[order, 1])))
    snaps = sorted(r.txnid for r in readers if r.txnid is not None)
    active: list[Reader] = []
    for r in readers:
        if r.txnid is None or r.txnid >= txnid:
            r.pins_bytes = r.releases_bytes = 0
        else:
            active.append(r)
    if not active:
        return
    firsts = np.array([r.txnid for r in active], dtype=np.int64)
    # the next snapshot still read once this one ends: the oldest of the others (the second oldest
    # for the oldest slot, itself again where two slots read it), the last commit if none is older
    nxts = np.array([min(txnid, snaps[1] if r.txnid == snaps[0] and len(snaps) > 1 else
                         snaps[0] if r.txnid != snaps[0] else txnid) for r in active], dtype=np.int64)
    at_first = cum[np.searchsorted(ts, firsts)]
    pins = (cum[np.searchsorted(ts, txnid)] - at_first) * psize
    releases = np.where(nxts > firsts, (cum[np.searchsorted(ts, nxts)] - at_first) * psize, 0)
    for r, p, rel in zip(active, pins.tolist(), releases.tolist()):
        r.pins_bytes, r.releases_bytes = p, rel


@dataclass
class _Seen:
    """What one read transaction saw, before it is turned into a :class:`Snapshot`."""

    pf: PageFile
    meta: Meta
    info: dict
    readers: list[Reader]
    walk: WalkResult | None = None  # None: the page walk failed (damage)
    counts: dict = field(default_factory=dict)
    catalog: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    txn_s: float = 0.0
    key: tuple = ()  # see Inspector._file_key
    fresh: bool = True  # False: walk, catalog and counts are the last full snapshot's
    walk_s: float = 0.0  # CPU time of the walk
    walk_first: bool = False  # a 1.0-format walk without a cache: its cost says nothing of the next
    counts_txnid: int = 0  # the transaction the counts are from
    counts_at: float = 0.0  # time.time() of the snapshot that counted them
    counts_next: float | None = None  # monotonic time the stale counts are taken again
    free_runs: dict | None = None  # storage.freeruns over the pages reusable at this snapshot
    ident: tuple | None = None  # snapshot_identity() of a walked snapshot (None: not walked, or damaged)


def snapshot_identity(pf: PageFile, meta: Meta, st: os.stat_result) -> tuple[int, ...]:
    """What tells one snapshot of a file from any other: the txnid and high-water mark, each tree's root
    page, entries and root page's CRC-32 (-1: an empty tree), and the file's modification and change
    times. A later commit changes the txnid; a copy written over the file (a restore) changes its times,
    even where its root pages are byte for byte the same (two copies of one database, each changed by
    one commit of a same-size value: allocation is deterministic). Readers never change them."""
    out = [meta.txnid, meta.last_pgno]
    for db in (meta.main, meta.free):
        crc = _page_crc(pf, meta, db.root)
        out += [db.root, db.entries, -1 if crc is None else crc]
    return (*out, st.st_mtime_ns, st.st_ctime_ns)


def _page_crc(pf: PageFile, meta: Meta, pgno: int, txnid: int | None = None) -> int | None:
    """CRC-32 of page ``pgno``'s bytes; None when it lies outside the snapshot's pages, or (1.0,
    ``txnid`` given) its header holds another txnid: or no header at all (freed and reused since, the
    page may hold anything, e.g. the middle of a value on overflow pages)."""
    if not 2 <= pgno <= meta.last_pgno or pgno >= pf.pages_in_file:
        return None
    if txnid is not None and int(pf.np_headers[pgno, 1]) != txnid:  # (not pf.txnids: any word is an answer)
        return None
    return int(pf.page_crcs(np.array([pgno]))[0])


def _key_words(key: bytes) -> str:
    """A record key as an operator would name it: UUID, OID, text, or hex (shown through textsafe)."""
    if len(key) == 16:
        return str(uuid.UUID(bytes=key))
    if len(key) == 8:
        return str(struct.unpack(">Q", key)[0])
    try:
        text = key.decode("utf-8")
        if text.isprintable() and text:
            return repr(text)
    except UnicodeDecodeError:
        pass
    return "hex:" + key[:24].hex() + ("…" if len(key) > 24 else "")


def _lmdb_message(e: Exception) -> str:
    msg = str(e)
    return msg.split(": ", 1)[1] if msg.startswith(("b'", "/")) and ": " in msg else msg
