"""Every table's codec in one catalog: the application's classes (``--import``) found by oid,
the built-in decoders otherwise, tables resolved by name or slot, keys typed by a user parsed,
and what was seen failing. Reading windows (:mod:`~zlmdb_inspect.tables.windows`) and sampling
(:mod:`~zlmdb_inspect.tables.sampling`) are mixed in.
"""

from __future__ import annotations

import importlib
import re
import struct
import threading
import uuid
from typing import TYPE_CHECKING, Any

from zlmdb_inspect.core.errors import InspectError
from zlmdb_inspect.core.kinds import ErrorKind
from zlmdb_inspect.core.model import Snapshot, Table
from zlmdb_inspect.core.options import Options
from zlmdb_inspect.tables import decode, flatbuffers
from zlmdb_inspect.tables.records import Codec, Record
from zlmdb_inspect.tables.sampling import Sampler
from zlmdb_inspect.tables.windows import WindowReader

if TYPE_CHECKING:
    pass


class TableCodecs(WindowReader, Sampler):
    """Every table's codec: resolves tables to codecs; reads windows of records, samples and dumps.

    One instance per database, owned by the service; the state it learns (profiles, records
    seen failing) is shared by the service's worker threads under its own lock.
    """

    def __init__(self, opts: Options):
        self.opts = opts
        self._lock = threading.RLock()
        self.classes: dict[str, Any] = {}
        for mod in opts.imports:  # before any Database exists: some choose txaio's framework here
            try:
                importlib.import_module(mod)
            except Exception as e:  # noqa: BLE001
                raise InspectError(f"--import {mod}: {type(e).__name__}: {e}") from None
        if opts.imports:
            import zlmdb

            for oid, klass in zlmdb.TABLES_BY_UUID.items():
                self.classes[str(oid)] = klass
        self.fbs = None
        if opts.fbs:
            try:
                self.fbs = flatbuffers.FbsSchemas(opts.fbs)
            except (OSError, ValueError) as e:
                raise InspectError(f"--fbs: {e}") from None
        self._codecs: dict[tuple, Codec] = {}
        # records that failed to decode, seen while browsing, dumping or sampling:
        # table label -> {raw key: whose decoder failed}, and the first error of each kind
        self.failed: dict[str, dict[bytes, ErrorKind]] = {}
        self.failed_example: dict[tuple[str, ErrorKind], str] = {}

    def _note(self, table: Table, records: list[Record]) -> None:
        with self._lock:
            for r in records:
                if r.error and r.error_kind:
                    seen = self.failed.setdefault(table.label(), {})
                    if len(seen) < 10_000:
                        seen[r.raw_key] = r.error_kind
                    self.failed_example.setdefault((table.label(), r.error_kind), r.error)

    def failures(self, table: str, kind: ErrorKind) -> int:
        """Records of ``table`` seen failing so far with errors of ``kind``."""
        with self._lock:
            return list(self.failed.get(table, {}).values()).count(kind)

    def failed_tables(self) -> list[str]:
        with self._lock:
            return list(self.failed)

    def failed_example_of(self, table: str, kind: ErrorKind) -> str | None:
        with self._lock:
            return self.failed_example.get((table, kind))

    def notes(self, table: Table) -> list[str]:
        """What sampling found about the table's decoding, one line each (empty before the first sample)."""
        prof = self.codec(table).profile
        return prof.notes() if prof is not None else []

    def class_for(self, table: Table) -> type | None:
        if not self.classes:
            return None
        if table.oid and table.oid in self.classes:
            return self.classes[table.oid]
        if table.name:  # fully qualified (package.module.Class) or a bare class name
            bare = table.name.rsplit(".", 1)[-1]
            for k in self.classes.values():
                if f"{k.__module__}.{k.__qualname__}" == table.name or k.__name__ == bare:
                    return k
        return None

    def codec(self, table: Table) -> Codec:
        key = (table.slot, table.oid, table.name)
        with self._lock:
            c = self._codecs.get(key)
            if c is None:
                c = self._codecs[key] = Codec(table, self.class_for(table), self.opts, self.fbs)
            return c

    def resolve_table(self, snap: Snapshot, ref: str) -> Table:
        """A table by full name, bare class name (also of the ``--import`` class), or slot number;
        names match case-insensitively when that leaves one table."""
        tables = [t for t in snap.tables if t.slot]
        if ref.isdigit():
            for t in snap.tables:
                if t.slot == int(ref):
                    return t
            raise InspectError(f"no table in slot {ref}")

        def names(t: Table) -> set[str]:
            out = {t.name} if t.name else set()
            if t.name:
                out.add(t.name.rsplit(".", 1)[-1])
            klass = self.class_for(t)
            if klass is not None:
                out |= {klass.__name__, f"{klass.__module__}.{klass.__qualname__}"}
            return out

        for match in (lambda t: t.name == ref, lambda t: ref in names(t),
                      lambda t: ref.casefold() in {n.casefold() for n in names(t)}):
            found = [t for t in tables if match(t)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise InspectError(f"{ref!r} names {len(found)} tables: " +
                                   ", ".join(f"{t.label()} (slot {t.slot})" for t in found))
        listed = ", ".join(t.name or f"slot {t.slot}" for t in tables)
        raise InspectError(f"no table named {ref!r} (tables: {listed})")

    # -- key parsing for jumps -------------------------------------------------

    def parse_key(self, table: Table, text: str) -> bytes:
        """What a user types as a key, as bytes after the slot prefix (a prefix is fine)."""
        text = text.strip()
        if text.startswith("hex:"):
            return bytes.fromhex(text[4:])
        codec = self.codec(table)
        _check_time_input(table, codec, text)
        if codec.pmap is not None:
            for attempt in self._app_key_candidates(text):
                try:
                    return codec.pmap._serialize_key(attempt)
                except Exception:  # noqa: BLE001
                    continue
        try:
            return uuid.UUID(text).bytes
        except ValueError:
            pass
        if re.fullmatch(r"\d+", text):
            return struct.pack(">Q", int(text))
        if re.fullmatch(r"\d{4}-\d\d-\d\d([T ][0-9:.]+)?Z?", text):
            import numpy as np

            ns = int(np.datetime64(text.rstrip("Z"), "ns").astype("int64"))
            return struct.pack(">q", ns)
        return text.encode("utf-8")

    @staticmethod
    def _app_key_candidates(text: str):
        try:
            yield uuid.UUID(text)
        except ValueError:
            pass
        if text.isdigit():
            yield int(text)
        yield text


_ISO_TIME = re.compile(r"\d{4}-\d\d(-\d\d([T ][0-9:.]+)?Z?)?")


def _check_time_input(table: Table, codec: Codec, text: str) -> None:
    """A time typed as a start or end key of a table whose keys are not ordered by time first (cfxdb's
    Events: an OID, then a little-endian time) would be compared with the first part: an empty or
    wrong answer that looks like a right one. Say what the key is and how to filter by its time."""
    if not _ISO_TIME.fullmatch(text) or codec.profile is None or not codec.profile.key_codec:
        return
    parts = decode.key_parts(codec.profile.key_codec)
    if not parts or parts[0] == "timestamp":  # keys in time order: a time is a key prefix
        return
    layout = ", ".join(parts)
    times = [i for i, p in enumerate(parts) if p.startswith("timestamp")]
    how = (f"; to filter by its time use --where '.key[{times[0]}] >= \"{text}\"' (or search jq:.key[{times[0]}] "
           f">= \"{text}\")" if times and len(parts) > 1 else
           "; to filter by a time field use --where on the value" if not times else
           " (a little-endian time, not in key order)")
    raise ValueError(f"{text!r} is a time, but the keys of {table.label()} are ({layout}), ordered by their "
                     f"{parts[0]} first, so a time cannot start or end a range of them{how}")
