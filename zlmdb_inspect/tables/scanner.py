"""A query over one table, chunk by chunk: the table's leaf pages walked by key in short read
transactions (a time budget each, resumed by key), never one long transaction, with progress,
cancellable between chunks.

Speed comes from not decoding: where :func:`raw_prefilter` says it is sound, a leaf page whose
bytes lack the query's literal (:mod:`zlmdb_inspect.tables.query`) is skipped undecoded, and only
the records it hits are decoded and matched exactly. Damage or an unusual tree falls back to
LMDB's cursor.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from zlmdb_inspect.core.slots import slot_end, slot_prefix
from zlmdb_inspect.storage.leaves import LeafBatch, LeafWalk, leaf_groups
from zlmdb_inspect.storage.pageformat import PageError
from zlmdb_inspect.tables.query import Compiled, Query, QueryError, compile_query

if TYPE_CHECKING:
    from zlmdb_inspect.core.model import Table
    from zlmdb_inspect.storage.inspector import Inspector
    from zlmdb_inspect.tables.catalog import TableCodecs
    from zlmdb_inspect.tables.records import Codec, Record


# -- which tables the raw prefilter is sound for ---------------------------------------

#: Value codecs whose strings are the stored UTF-8 (``cbor``, ``string``) or whose JSON text
#: holds no stored text at all (fixed-size keys as values: UUIDs, OIDs, times, hex).
_VERBATIM_VALUES = {"cbor", "string", "bytes", "empty"}
#: First bytes of values the inspection fallback may decode into text that is not stored as
#: such: zlib (0x78), JSON with escapes ({ [ "), numpy arrays of unicode (0x93).
_FALLBACK_FIRST = frozenset(b"x{[\"\x93")
_FALLBACK_FIRST_LIST = sorted(_FALLBACK_FIRST)
#: CBOR text in chunks: 0x7f, then text chunks (0x60-0x7b) or the break (0xff) right away.
_INDEFINITE_TEXT = re.compile(b"\x7f[\x60-\x7b\xff]")


def raw_prefilter(codec: Codec) -> Callable[[bytes], bool] | None:
    """For tables where it is sound, ``forced(value)``: whether a value must be decoded even
    without the literal (it may decode into text not stored as such). None: decode every record.

    Sound only without the application's decoder (``--import``: ``marshal()`` may build any
    text), without unpickling, and for value codecs that keep strings verbatim. Keys are
    always verbatim or derived: key codecs read strings as UTF-8 and everything else as
    numbers, UUIDs, times or hex, and so does the inspection fallback for keys.
    """
    from zlmdb_inspect.tables import decode

    if codec.klass is not None or codec.allow_pickle or codec.profile is None:
        return None
    vc = codec.profile.value_codec
    if vc is None or not (vc in _VERBATIM_VALUES or decode.key_parts(vc) is not None):
        return None
    indefinite = vc == "cbor"  # CBOR text in chunks (0x7f) is not contiguous in the bytes

    def forced(v: bytes) -> bool:
        return bool(v) and (v[0] in _FALLBACK_FIRST or (indefinite and _INDEFINITE_TEXT.search(v) is not None))

    return forced


# -- scanning --------------------------------------------------------------------------

@dataclass
class Progress:
    scanned: int = 0  # records looked at
    decoded: int = 0  # of those, decoded (candidates of the prefilter)
    matches: int = 0
    elapsed: float = 0.0
    total: int | None = None  # the table's record count, for the ETA
    done: bool = False
    cancelled: bool = False
    last_key: bytes | None = None  # where the scan is (full key)
    chunks: int = 0  # read transactions so far
    longest_txn_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.scanned / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if self.done or not self.total or not self.rate:
            return None
        return max(0.0, (self.total - self.scanned) / self.rate)


@dataclass
class Scan:
    """One query over one table, from ``start`` to ``stop`` (bytes after the slot prefix)."""

    ins: Inspector
    catalog: TableCodecs
    table: Table
    compiled: Compiled
    start: bytes | None = None
    stop: bytes | None = None
    chunk_s: float = 0.03  # a read transaction's time budget
    chunk_max: int = 50_000  # and its most records
    prefilter: bool = True
    pages: bool = True  # read leaf pages (False: LMDB's cursor)
    progress: Progress = field(default_factory=Progress)
    _cancel: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        """Stop at the end of the current chunk (callable from any thread)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def records(self, limit: int | None = None,
                on_progress: Callable[[Progress], None] | None = None) -> Iterator[Record]:
        """Matching records in key order, each chunk's after its transaction ended."""

        codec = self.catalog.profiled(self.ins, self.table)
        prefix = slot_prefix(self.table.slot)
        end = prefix + self.stop if self.stop is not None else (
            slot_end(self.table.slot))
        lit = self.compiled.literal if self.prefilter else None
        forced = raw_prefilter(codec) if lit is not None else None
        if forced is None:
            lit = None
        prog = self.progress
        prog.total = self.table.records
        t0 = time.perf_counter()
        resume = prefix + (self.start or b"")
        first = True
        while not self._cancel.is_set():
            chunk, resume, finished, txn_s = self._chunk(resume, first, end, prefix, lit, forced)
            first = False
            prog.chunks += 1
            prog.longest_txn_s = max(prog.longest_txn_s, txn_s)
            for k, v in chunk:
                prog.decoded += 1
                rec = codec.decode(k, v, None)
                if self.compiled.match({"key": rec.key, "value": rec.value}):
                    prog.matches += 1
                    yield rec
                    if limit is not None and prog.matches >= limit:
                        finished = True
                        break
            prog.last_key = resume
            prog.elapsed = time.perf_counter() - t0
            prog.done = finished
            if on_progress is not None:
                on_progress(prog)
            if finished:
                return
        prog.cancelled = True
        prog.elapsed = time.perf_counter() - t0
        if on_progress is not None:
            on_progress(prog)

    def _chunk(self, resume: bytes, first: bool, end: bytes | None, prefix: bytes, lit: bytes | None,
               forced: Callable[[bytes], bool] | None) -> tuple[list[tuple[bytes, bytes]], bytes, bool, float]:
        """Candidates from one short read transaction: (candidates, last key, finished, seconds)."""
        prog = self.progress
        budget, most = self.chunk_s, self.chunk_max

        def by_cursor(txn) -> tuple[list[tuple[bytes, bytes]], bytes, bool, float]:
            t = time.perf_counter()
            cur = txn.cursor()
            out: list[tuple[bytes, bytes]] = []
            last, n, finished = resume, 0, True
            if cur.set_range(resume):
                for k, v in cur.iternext():
                    if (end is not None and k >= end) or k[:2] != prefix:
                        break
                    if k == resume and not first:
                        continue  # where the previous chunk stopped
                    n += 1
                    last = k
                    if lit is None or lit in k.lower() or lit in v.lower() or forced(v):  # type: ignore[misc]
                        out.append((k, v))
                    if n & 255 == 0 and (n >= most or time.perf_counter() - t > budget):
                        finished = False
                        break
            prog.scanned += n
            return out, last, finished, time.perf_counter() - t

        check_7f = forced is not None and forced(b"\x7f\xff")  # CBOR: values with text in chunks are decoded

        def by_pages(pf, meta) -> tuple[list[tuple[bytes, bytes]], bytes, bool, float]:
            """The same from the leaf pages, many at once: the literal is searched in each page as
            a whole; only the records it hits (and values the prefilter forces) are read."""
            t = time.perf_counter()
            walk = LeafWalk(pf, meta)
            out: list[tuple[bytes, bytes]] = []
            last, n, finished = resume, 0, True
            at_start = True
            for group in leaf_groups(walk.leaves(resume), 64):
                lb = LeafBatch(walk, group)
                chosen = np.zeros(len(lb.off), dtype=bool)
                if lit is not None:
                    chosen |= lb.big
                    chosen |= np.isin(lb.first_byte, _FALLBACK_FIRST_LIST)
                    if check_7f:
                        pos = lb.byte_positions(0x7F)
                        nxt = pf.np[np.minimum(pos + 1, len(pf.np) - 1)]
                        chosen[lb.nodes_at(pos[((nxt >= 0x60) & (nxt <= 0x7B)) | (nxt == 0xFF)])] = True
                    hits = []
                    for lf in group:
                        base = lf.pgno * pf.page_size
                        low = bytes(pf.buf[base:base + pf.page_size]).lower()
                        p = low.find(lit)
                        while p >= 0:
                            hits.append(base + p)
                            p = low.find(lit, p + 1)
                    chosen[lb.nodes_at(hits)] = True
                else:
                    chosen[:] = True
                for j, lf in enumerate(group):
                    a0 = int(lb.first[j])
                    hi_key = lb.key(a0 + lf.n - 1)
                    if not at_start and (end is None or hi_key < end):  # the whole page is in range
                        n += lf.n
                        last = hi_key
                        for i in np.flatnonzero(chosen[a0:a0 + lf.n]).tolist():
                            k, v = lb.key(a0 + i), lb.value(walk, j, a0 + i)
                            if lit is None or lit in k.lower() or lit in v.lower() or forced(v):  # type: ignore[misc]
                                out.append((k, v))
                    else:
                        for i in range(a0, a0 + lf.n):
                            k = lb.key(i)
                            if k < resume or (k == resume and not first):
                                continue
                            if (end is not None and k >= end) or k[:2] != prefix:
                                prog.scanned += n
                                return out, last, True, time.perf_counter() - t
                            n += 1
                            last = k
                            if chosen[i]:
                                v = lb.value(walk, j, i)
                                if lit is None or lit in k.lower() or lit in v.lower() or forced(v):  # type: ignore[misc]
                                    out.append((k, v))
                    at_start = False
                    if n >= most or time.perf_counter() - t > budget:
                        # the rest of the group is read again by the next chunk
                        finished = False
                        break
                if not finished:
                    break
            prog.scanned += n
            return out, last, finished, time.perf_counter() - t

        def body(txn, pf, meta):
            if self.pages:
                try:
                    return by_pages(pf, meta)
                except PageError:
                    pass  # damage or an unusual tree: LMDB's cursor reads it (nothing was counted)
            return by_cursor(txn)

        return self.ins.read(body)


def key_range(catalog: TableCodecs, table: Table, q: Query) -> tuple[bytes | None, bytes | None]:
    """``q``'s from/to as key bytes after the slot prefix (the syntax of ``--from``): from its first
    key; to before itself when typed in full, after its prefix or period otherwise (``--to 2026-01``:
    the end of January)."""
    try:
        start = catalog.typed_key(table, q.start).start if q.start else None
        stop = catalog.typed_key(table, q.stop).stop if q.stop else None
    except ValueError as e:
        raise QueryError(f"bad key in the range: {e}") from None
    return start, stop


def scan(ins: Inspector, catalog: TableCodecs, table: Table, q: Query, **kw: Any) -> Scan:
    """A :class:`Scan` for ``q`` (compiled, its range parsed)."""
    if q.start or q.stop:
        catalog.profiled(ins, table)  # the key layout, for what a typed key can mean
    start, stop = key_range(catalog, table, q)
    return Scan(ins, catalog, table, compile_query(q), start, stop, **kw)
