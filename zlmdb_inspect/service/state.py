"""State between runs: one file per database, so one-shot runs have a history and repeat walks.

Monitoring starts a fresh process every minute (``--check`` from Nagios, ``--prometheus
--output`` from cron, ``--json``); alone each sees one snapshot: no rate, no time to full, no
"writes stopped". This module keeps, per database, the figures of recent runs (the samples
:class:`~zlmdb_inspect.health.history.Monitor` keeps) and, for the LMDB 1.0 format, the subtree
summaries of the incremental walk, and of the free database, so the next run reads only what changed.

Why it is built this way:

- **Found by real path, valid for one file.** The file name is a hash of the real path; inside,
  the device and inode say which file it described. A database replaced or restored at the same
  path is another file: its state is dropped and the run says so.
- **Untrusted input.** The file may be truncated, foreign, hand-edited or from a clock that went
  back: :func:`parse` validates every field's type and range and rejects the whole file on the
  first doubt (:class:`StateError`, one line), never a traceback. Summaries are reused only for a
  page whose number, txnid and CRC-32 all match what the file holds now (a backup restored over
  the same inode carries other pages under the same numbers), checked when a walk reaches it.
- **Summaries as columns.** ~6,000 of them for a 10M-record tree: as JSON lists they cost a repeat
  run more than its walk (0.11 s to parse, 0.07 s to write); as numpy columns
  (:mod:`zlmdb_inspect.storage.summaries`) a few milliseconds, checked by whole columns. The file is
  one line of JSON (everything else, and each column's length), a newline, then the columns' bytes
  (little-endian, in :data:`COLUMNS` order): as base64 inside the JSON, decoding and parsing them
  was ~5 ms of a 10M-record repeat run's 7.5 ms state read (1.3 MB); now the read is ~3.5 ms.
- **Never next to the database.** The state directory is the user's (``$XDG_STATE_HOME``), made
  0700; files are 0600 (they hold table names), written to a temporary file and renamed, under
  an ``fcntl`` lock on a lock file in the state directory, so overlapping runs merge their
  samples instead of losing one.
- **The free database too.** Its pages, records and page lists as the last walk read them
  (:mod:`zlmdb_inspect.storage.freetree`), as columns after the summaries': a repeat run reads only
  its changed pages, and the free runs take the lists from here rather than from ~1,700 pages of the
  file.
- **Bounded.** At most ``MAX_BYTES`` per database: the free database's columns go first, then the
  summaries, then the oldest samples.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from zlmdb_inspect.core.digests import sha256
from zlmdb_inspect.core.slots import MAX_SLOT
from zlmdb_inspect.health.history import HeldKey, Sample
from zlmdb_inspect.service import memo as memos
from zlmdb_inspect.service.memo import Memo
from zlmdb_inspect.service.strict import StateError
from zlmdb_inspect.service.strict import listed as _list
from zlmdb_inspect.service.strict import number as _num
from zlmdb_inspect.service.strict import whole as _int
from zlmdb_inspect.storage.freetree import COLUMNS as FREE_COLUMNS
from zlmdb_inspect.storage.freetree import FreeTree
from zlmdb_inspect.storage.summaries import COLUMNS, PackedSummaries

FORMAT = "zlmdb-inspect-state"
VERSION = 6  # 2: summaries as columns; 3: their bytes after the JSON line; 4: max_value of overflow values only;
# 5: the free database's pages, records and lists; 6: shared leaves' shares in whole SHARE_UNITs (exact sums)
MAX_BYTES = 32 * 1024 * 1024  # per database
MAX_AGE_S = 3600.0  # samples older than this are dropped: never a rate across such a gap
MAX_SAMPLES = 600  # the live Monitor's ring
FUTURE_SLACK_S = 5.0  # clocks of overlapping runs differ a little; more is a clock that went back


def default_dir() -> str:
    """``$XDG_STATE_HOME/zlmdb-inspect`` (``~/.local/state/zlmdb-inspect``)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "zlmdb-inspect")


@dataclass(frozen=True)
class Identity:
    """Which file a state describes."""

    dev: int
    ino: int
    path: str  # real path of data.mdb
    page_size: int
    format: str  # "0.9" or "1.0"

    @classmethod
    def of(cls, data_path: str, page_size: int, fmt: str) -> Identity:
        st = os.stat(data_path)
        return cls(st.st_dev, st.st_ino, os.path.realpath(data_path), page_size, fmt)


@dataclass
class State:
    identity: Identity
    written_at: float
    samples: list[Sample] = field(default_factory=list)
    summaries: PackedSummaries = field(default_factory=PackedSummaries)  # 1.0: per branch page; 0.9: the tree's
    readers: dict[HeldKey, float] = field(default_factory=dict)  # held snapshots -> first seen (see Monitor)
    free: FreeTree | None = None  # 1.0: the free database as the last walk read it
    memo: Memo | None = None  # what the last one-shot run worked out from its snapshot alone (service.memo)


# -- encoding ---------------------------------------------------------------------------

_SAMPLE_INTS = ("last_txnid", "entries", "used_bytes", "map_size", "readers", "file_size", "in_use_bytes",
                "available_bytes", "pinned_bytes", "counts_txnid", "need_bytes", "page_size")


def _sample_dict(s: Sample) -> dict[str, Any]:
    d = {f.name: getattr(s, f.name) for f in fields(Sample)}
    d["tables"] = sorted([int(k), int(v)] for k, v in s.tables.items())
    return d


def _raw(a: np.ndarray, dtype: str) -> np.ndarray:
    """``a``'s bytes as ``dtype`` (little-endian), without a copy where it is that already."""
    return np.ascontiguousarray(a, dtype=dtype).reshape(-1).view(np.uint8)


def _write_columns(cols: dict[str, np.ndarray], spec: dict[str, tuple[str, int]], doc: dict[str, Any]) \
        -> list[np.ndarray]:
    """Each column of ``spec`` (name -> dtype, width) as its dtype's little-endian bytes, in ``spec``'s
    order; ``doc`` gets each one's length in bytes."""
    parts = []
    for name, (dtype, _) in spec.items():
        raw = _raw(cols[name], dtype)
        doc[name] = len(raw)
        parts.append(raw)
    return parts


def _read_columns(v: dict[str, Any], blob: bytes | memoryview, spec: dict[str, tuple[str, int]],
                  what: str) -> tuple[dict[str, np.ndarray], int]:
    """The columns of ``spec`` one after the other from ``blob``, each of the dtype and width ``spec``
    says (whatever the file claims) and of the length in bytes ``v`` gives (views, not copies), and
    where they end in ``blob``."""
    cols: dict[str, np.ndarray] = {}
    at = 0
    for name, (dtype, width) in spec.items():
        item = np.dtype(dtype).itemsize
        size = _int(v[name], f"the length of {what} column {name}", 0, len(blob))
        if size % (item * max(1, width)):
            raise StateError(f"{what} column {name} holds a partial row")
        if at + size > len(blob):
            raise StateError(f"{what} column {name} runs past the file's end")
        a = np.frombuffer(blob, dtype=dtype, count=size // item, offset=at)
        cols[name] = a.reshape(-1, width) if width else a
        at += size
    return cols, at


def _columns(p: PackedSummaries) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The summaries' columns as little-endian int64/float64 bytes, one after the other in
    :data:`COLUMNS` order, and the JSON that says how many rows and bytes each has."""
    doc: dict[str, Any] = {"rows": len(p), "witness": list(p.witness) if p.witness is not None else None}
    return doc, _write_columns(p.columns(), COLUMNS, doc)


def _free_spec(lists_dtype: str) -> dict[str, tuple[str, int]]:
    """The free database's columns (:data:`FREE_COLUMNS`, then the lists in the width given)."""
    return {**FREE_COLUMNS, "lists": (lists_dtype, 0)}


def _free_columns(tree: FreeTree | None) -> tuple[dict[str, Any] | None, list[np.ndarray]]:
    """The free database's columns after the summaries' (:data:`FREE_COLUMNS`, then the lists in
    their own width), and the JSON that says how many rows, records and bytes each has."""
    if tree is None:
        return None, []
    cols = tree.columns()
    width = "<i4" if cols["lists"].dtype == np.int32 else "<i8"
    doc: dict[str, Any] = {"rows": len(tree), "records": len(tree.txnids), "lists_dtype": width}
    return doc, _write_columns(cols, _free_spec(width), doc)


def split(data: bytes) -> tuple[bytes, memoryview]:
    """A state file's JSON line and the column bytes after it (none where there is no newline;
    a view, not a copy: they are megabytes)."""
    end = data.find(b"\n")
    view = memoryview(data)
    return (data, view[:0]) if end < 0 else (data[:end], view[end + 1:])


def encode(state: State, max_bytes: int = MAX_BYTES) -> bytes:
    """The file's bytes: the free database's and the summaries' columns dropped first, then the oldest
    samples, to stay within ``max_bytes``."""
    return b"".join(_encoded(state, max_bytes)[0])


def _encoded(state: State, max_bytes: int) -> tuple[list, State]:
    """:func:`encode` as parts to write one after the other (the columns are not copied), and the
    state they hold (what was dropped to fit, gone)."""
    ident = state.identity
    head = {"format": FORMAT, "version": VERSION, "written_at": state.written_at,
            "database": {"dev": ident.dev, "ino": ident.ino, "path": ident.path, "page_size": ident.page_size,
                         "format": ident.format}}
    kept = state.summaries
    summaries, blob = _columns(kept)
    free = state.free
    free_doc, free_blob = _free_columns(free)
    samples = [_sample_dict(s) for s in state.samples]
    head["readers"] = [[*key, first] for key, first in sorted(state.readers.items())]
    memo = state.memo
    memo_doc = memos.encode(memo)
    while True:
        # one line: json.dumps escapes every newline inside strings
        line = json.dumps({**head, "samples": samples, "summaries": summaries, "free": free_doc, "memo": memo_doc},
                          separators=(",", ":"), allow_nan=False).encode()
        if len(line) + 1 + sum(len(b) for b in blob) + sum(len(b) for b in free_blob) <= max_bytes:
            break
        if memo_doc is not None:  # the cheapest to lose: an unchanged database's next run recomputes it
            memo, memo_doc = None, None
        elif free is not None:
            free = None
            free_doc, free_blob = _free_columns(free)
        elif summaries["rows"]:
            kept = PackedSummaries()
            summaries, blob = _columns(kept)
        elif samples:
            samples = samples[len(samples) // 4 + 1:]
        else:
            break
    return [line + b"\n", *blob, *free_blob], State(ident, state.written_at,
                                                    state.samples[len(state.samples) - len(samples):], kept,
                                                    state.readers, free, memo)


# -- strict decoding ---------------------------------------------------------------------

def _sample(d: Any, i: int) -> Sample:
    what = f"sample {i}"
    if type(d) is not dict:
        raise StateError(f"{what} is not an object")
    want = {f.name for f in fields(Sample)}
    if set(d) != want:
        raise StateError(f"{what} has fields {sorted(set(d) ^ want)} it should not have or lacks")
    ints = {k: _int(d[k], f"{what}'s {k}") for k in _SAMPLE_INTS}
    if ints["page_size"] < 512 or ints["page_size"] > 65536:
        raise StateError(f"{what}'s page_size is impossible")
    free = d["free_pages"]
    tables: dict[int, int] = {}
    for pair in _list(d["tables"], f"{what}'s tables"):
        slot, n = _list(pair, f"{what}'s tables entry", 2)
        tables[_int(slot, f"{what}'s slot", 0, MAX_SLOT)] = _int(n, f"{what}'s record count")
    if type(d["writer"]) is not bool:
        raise StateError(f"{what}'s writer is not true or false")
    return Sample(t=_num(d["t"], f"{what}'s time"), tables=tables, writer=d["writer"],
                  free_pages=None if free is None else _int(free, f"{what}'s free_pages"), **ints)


def _summaries(v: Any, blob: bytes | memoryview) -> tuple[PackedSummaries, int]:
    """The summaries' columns from the bytes after the JSON line, each of the dtype and width its
    name says (whatever the file claims), checked together (:meth:`PackedSummaries.check`), and
    where they end in ``blob``."""
    if type(v) is not dict or set(v) != {"rows", "witness", *COLUMNS}:
        raise StateError("its summaries are not the expected columns")
    rows = _int(v["rows"], "summary rows", 0, 1 << 24)
    witness = None
    if v["witness"] is not None:
        pgno, txnid, crc = _list(v["witness"], "the summaries' witness", 3)
        witness = (_int(pgno, "the witness's page", 2, (1 << 48) - 1), _int(txnid, "the witness's txnid"),
                   _int(crc, "the witness's CRC", 0, (1 << 32) - 1))
    cols, at = _read_columns(v, blob, COLUMNS, "summary")
    if len(cols["keys"]) != rows:
        raise StateError(f"its summaries hold {len(cols['keys'])} rows, not {rows}")
    packed = PackedSummaries.from_columns(cols)
    try:
        packed.check()
    except ValueError as e:
        raise StateError(str(e)) from None
    packed.witness = witness
    return packed, at


def _free(v: Any, blob: bytes | memoryview) -> FreeTree | None:
    """The free database's columns from the bytes after the summaries' (all of them, exactly),
    as :func:`_summaries` reads those, checked together (:meth:`FreeTree.check`)."""
    if v is None:
        if blob:
            raise StateError(f"{len(blob)} bytes after the summary columns")
        return None
    if type(v) is not dict or set(v) != {"rows", "records", "lists_dtype", *FREE_COLUMNS, "lists"}:
        raise StateError("its free database is not the expected columns")
    if v["lists_dtype"] not in ("<i4", "<i8"):
        raise StateError("its free database's lists have an unknown width")
    rows = _int(v["rows"], "free database rows", 0, 1 << 24)
    records = _int(v["records"], "free database records", 0, 1 << 32)
    cols, at = _read_columns(v, blob, _free_spec(v["lists_dtype"]), "free database")
    if at != len(blob):
        raise StateError(f"{len(blob) - at} bytes after the free database's columns")
    if len(cols["keys"]) != rows or len(cols["txnids"]) != records:
        raise StateError("its free database holds other numbers of rows or records than it says")
    tree = FreeTree.from_columns(cols)
    try:
        tree.check()
    except ValueError as e:
        raise StateError(str(e)) from None
    return tree


def _readers(v: Any) -> dict[HeldKey, float]:
    """The held snapshots (absent in files written before they were kept: none)."""
    out: dict[HeldKey, float] = {}
    for i, row in enumerate(_list([] if v is None else v, "readers")):
        pid, started, thread, txnid, first = _list(row, f"reader {i}", 5)
        if type(thread) is not str or len(thread) > 64:
            raise StateError(f"reader {i}'s thread is not a short text")
        key = (_int(pid, f"reader {i}'s pid", 1, (1 << 32) - 1), _int(started, f"reader {i}'s process start"),
               thread, _int(txnid, f"reader {i}'s txnid"))
        if key in out:
            raise StateError(f"reader {i} is listed twice")
        out[key] = _num(first, f"reader {i}'s first sight")
    return out


def _reject_constant(name: str) -> float:
    raise StateError(f"{name} is not a number")


def parse(data: bytes) -> State:
    """A state file's contents, validated strictly; :class:`StateError` on the first doubt."""
    line, blob = split(data)
    try:
        doc = json.loads(line, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        if isinstance(e, StateError):
            raise
        raise StateError("not a state file (unreadable JSON)") from None
    if type(doc) is not dict or doc.get("format") != FORMAT:
        raise StateError("not a zlmdb-inspect state file")
    if doc.get("version") != VERSION:
        raise StateError(f"state format version {doc.get('version')!r}, not {VERSION}")
    db = doc.get("database")
    if type(db) is not dict or type(db.get("path")) is not str or db.get("format") not in ("0.9", "1.0"):
        raise StateError("its database identity is malformed")
    ident = Identity(_int(db.get("dev"), "device"), _int(db.get("ino"), "inode"), db["path"],
                     _int(db.get("page_size"), "page size", 512, 65536), db["format"])
    state = State(ident, _num(doc.get("written_at"), "written_at"))
    samples = [_sample(d, i) for i, d in enumerate(_list(doc.get("samples"), "samples"))]
    if any(b.t < a.t for a, b in zip(samples, samples[1:])):
        raise StateError("its samples are not in time order")
    state.samples = samples
    state.readers = _readers(doc.get("readers"))
    state.summaries, at = _summaries(doc.get("summaries"), blob)
    state.free = _free(doc.get("free"), blob[at:])
    state.memo = memos.parse(doc.get("memo"))
    return state


# -- the store ---------------------------------------------------------------------------

@dataclass
class Loaded:
    """What a run starts from: the earlier samples and summaries it may use, and why not more."""

    samples: list[Sample] = field(default_factory=list)
    summaries: PackedSummaries = field(default_factory=PackedSummaries)
    note: str | None = None  # one line: the state file was ignored or cut, and why
    readers: dict[HeldKey, float] = field(default_factory=dict)  # snapshots held at the last run, first seen
    free: FreeTree | None = None  # 1.0: the free database's pages, records and lists at the last run
    memo: Memo | None = None  # the last one-shot run's results at its snapshot (service.memo)


class StateStore:
    """The state files of a state directory (one per database, found by its real path)."""

    def __init__(self, directory: str, max_bytes: int = MAX_BYTES):
        self.directory = os.path.abspath(directory)
        self.max_bytes = max_bytes
        # the last file parsed or written, by (path, device, inode, size, mtime): a run's save finds the
        # file its load read, a live process's next save the file it wrote (parsing 13,000 summaries
        # again cost 0.24 s of CPU at 10M records); a file another run wrote in its place is parsed
        self._parsed: tuple[tuple, State] | None = None

    def file_for(self, data_path: str) -> str:
        digest = sha256(os.path.realpath(data_path).encode("utf-8", "surrogateescape")).hexdigest()[:32]
        return os.path.join(self.directory, f"{digest}.json")

    @contextlib.contextmanager
    def locked(self, data_path: str) -> Iterator[None]:
        """An exclusive ``fcntl`` lock on the database's lock file in the state directory."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        fd = os.open(self.file_for(data_path)[:-5] + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def read(self, data_path: str) -> State | None:
        """The state file as it is (None: there is none); :class:`StateError` when it is unusable."""
        path = self.file_for(data_path)
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                sig = _signature(path, st)
                if self._parsed is not None and self._parsed[0] == sig:
                    return self._parsed[1]
                data = f.read(min(st.st_size, self.max_bytes) + 1)  # (not a buffer of max_bytes)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StateError(f"cannot read it: {e.strerror or e}") from None
        if len(data) > self.max_bytes:
            raise StateError(f"larger than {self.max_bytes} bytes")
        state = parse(data)
        self._parsed = (sig, state)
        return state

    def load(self, ident: Identity, now: float | None = None) -> Loaded:
        """What the run may use of the earlier state of ``ident``'s file (never raises for a bad file)."""
        now = time.time() if now is None else now
        try:
            state = self.read(ident.path)
        except StateError as e:
            return Loaded(note=f"state file {self.file_for(ident.path)} ignored ({e}); starting again")
        if state is None:
            return Loaded()
        return usable(state, ident, now, self.file_for(ident.path))

    def save(self, ident: Identity, samples: list[Sample], summaries: PackedSummaries, now: float | None = None,
             readers: dict[HeldKey, float] | None = None, free: FreeTree | None = None,
             memo: Memo | None = None) -> None:
        """Merge ``samples`` with what overlapping runs wrote meanwhile, keep ``summaries`` and the
        ``readers`` this run saw (each from its earliest sight by any run), write atomically
        (temporary file in the state directory, then rename), mode 0600."""
        readers = dict(readers or {})
        path = self.file_for(ident.path)
        with self.locked(ident.path):
            # the time of writing, taken once the lock is held: a run that waited for it (a disk stalled by
            # another writer's dirty pages) must not take the samples of runs that saved meanwhile for
            # samples from the future, and drop them
            now = time.time() if now is None else now
            try:  # (the file this store wrote last is not parsed again: read() knows it by its signature)
                earlier = self.read(ident.path)
            except StateError:  # unusable: this run's samples alone
                earlier = None
            merged = {round(s.t, 6): s for s in samples}
            if earlier is not None and earlier.identity == ident:
                for s in earlier.samples:
                    merged.setdefault(round(s.t, 6), s)
                for key, first in earlier.readers.items():
                    if key in readers:
                        readers[key] = min(readers[key], first)
            keep = [s for _, s in sorted(merged.items()) if now - MAX_AGE_S <= s.t <= now + FUTURE_SLACK_S]
            keep = _monotonic_txnids(keep)[-MAX_SAMPLES:]
            data, wrote = _encoded(State(ident, now, keep, summaries, readers, free, memo), self.max_bytes)
            fd, tmp = _temporary(self.directory)
            try:
                with os.fdopen(fd, "wb") as f:
                    for part in data:
                        f.write(part)
                    f.flush()
                    st = os.fstat(f.fileno())  # a rename keeps inode and mtime
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            self._parsed = (_signature(path, st), wrote)


def _temporary(directory: str) -> tuple[int, str]:
    """A new file in ``directory`` for the next state, mode 0600, made as ``tempfile.mkstemp`` makes
    it (``tempfile`` imports ``shutil``, with ``bz2`` and ``lzma``: ~5 ms of every one-shot run)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        path = os.path.join(directory, f".state-{os.urandom(6).hex()}")
        try:
            return os.open(path, flags, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free name for a temporary file", directory)


def _signature(path: str, st: os.stat_result) -> tuple:
    """What tells a state file from the next one written in its place."""
    return (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _monotonic_txnids(samples: list[Sample]) -> list[Sample]:
    """Samples after the last one whose txnid went backwards (overlapping runs of different
    files cannot meet here, but a restore between runs can)."""
    start = 0
    for i in range(1, len(samples)):
        if samples[i].last_txnid < samples[i - 1].last_txnid:
            start = i
    return samples[start:]


def usable(state: State, ident: Identity, now: float, where: str = "state file") -> Loaded:
    """What of a parsed state applies to the file ``ident`` at time ``now``."""
    old = state.identity
    if (old.dev, old.ino) != (ident.dev, ident.ino) or old.path != ident.path:
        return Loaded(note=f"{where} describes another file (device/inode {old.dev}/{old.ino}, now "
                           f"{ident.dev}/{ident.ino}: replaced or restored); starting again")
    if old.page_size != ident.page_size or old.format != ident.format:
        return Loaded(note=f"{where} was written for page size {old.page_size}, format {old.format}; "
                           "starting again")
    if state.written_at > now + FUTURE_SLACK_S or any(s.t > now + FUTURE_SLACK_S for s in state.samples):
        return Loaded(note=f"{where} holds times in the future (the clock went back?); starting again")
    if any(s.page_size != ident.page_size for s in state.samples):
        return Loaded(note=f"{where} holds samples of another page size; starting again")
    recent = [s for s in state.samples if now - s.t <= MAX_AGE_S]
    note = None
    if len(recent) < len(state.samples) and not recent:
        note = f"{where}'s samples are older than {MAX_AGE_S / 60:.0f} min; starting again"
    # a reader last seen long ago may have ended and begun again on the same txnid meanwhile
    readers = state.readers if now - state.written_at <= MAX_AGE_S else {}
    return Loaded(samples=recent, summaries=state.summaries, note=note, readers=readers, free=state.free,
                  memo=state.memo)


def check_txnid(loaded: Loaded, txnid: int, where: str = "state file") -> Loaded:
    """Drop everything when the database's txnid is behind the state's (a restore from an older backup)."""
    ahead = max((s.last_txnid for s in loaded.samples), default=0)
    keys = loaded.summaries.keys
    ahead = max([ahead, int(keys[:, 1].max()) if len(keys) else 0] + [k[3] for k in loaded.readers])
    if loaded.summaries.witness is not None:
        ahead = max(ahead, loaded.summaries.witness[1])
    free = loaded.free
    if free is not None and len(free):  # its pages' txnids, and the records' (each freed by a commit)
        ahead = max(ahead, int(free.keys[:, 1].max()), int(free.txnids[-1]) if len(free.txnids) else 0)
    if loaded.memo is not None:
        ahead = max(ahead, loaded.memo.txnid())
    if ahead > txnid:
        return Loaded(note=f"{where} saw txnid {ahead:,}, ahead of the database's {txnid:,} (restored from an "
                           "older copy?); starting again")
    return loaded


