"""Every table's codec in one catalog: the application's classes (``--import``) found by oid,
the built-in decoders otherwise, tables resolved by name or slot, keys typed by a user parsed,
and what was seen failing. Reading windows (:mod:`~zlmdb_inspect.tables.windows`) and sampling
(:mod:`~zlmdb_inspect.tables.sampling`) are mixed in.
"""

from __future__ import annotations

import importlib
import threading
import uuid
from typing import Any

from zlmdb_inspect.core.errors import InspectError
from zlmdb_inspect.core.kinds import ErrorKind
from zlmdb_inspect.core.model import Snapshot, Table
from zlmdb_inspect.core.options import Options
from zlmdb_inspect.tables import flatbuffers, keys
from zlmdb_inspect.tables.records import Codec, Record
from zlmdb_inspect.tables.sampling import Sampler
from zlmdb_inspect.tables.windows import WindowReader


class TableCodecs(WindowReader, Sampler):
    """Every table's codec: resolves tables to codecs; reads windows of records, samples and dumps.

    One instance per database, owned by the service; the state it learns (profiles, records
    seen failing) is shared by the service's worker threads under its own lock.
    """

    def __init__(self, opts: Options):
        self.opts = opts
        self._lock = threading.RLock()  # what is learnt and noted: held for dict work only
        self._learning = threading.Lock()  # one sample read at a time, without holding up codec()
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

    FAILED_KEPT = 10_000  # records of a table kept as seen failing (the count stops there)

    def _note(self, table: Table, records: list[Record]) -> None:
        with self._lock:
            for r in records:
                if r.error and r.error_kind:
                    seen = self.failed.setdefault(table.label(), {})
                    if len(seen) < self.FAILED_KEPT:
                        seen[r.raw_key] = r.error_kind
                    self.failed_example.setdefault((table.label(), r.error_kind), r.error)

    def failed_rows(self) -> tuple[dict[str, list[tuple[bytes, str]]], list[tuple[str, str, str]]]:
        """The records seen failing ({label: [(raw key, kind)]}) and each (label, kind)'s first error: for
        the state file, so the next run at the same snapshot takes them with the sample."""
        with self._lock:
            return ({label: [(k, kind.value) for k, kind in seen.items()] for label, seen in self.failed.items()},
                    [(label, kind.value, text) for (label, kind), text in self.failed_example.items()])

    def restore_failed(self, rows: dict[str, list[tuple[bytes, str]]], examples: list[tuple[str, str, str]]) -> None:
        """Records an earlier run saw failing at this very snapshot (:meth:`failed_rows`), as if seen now."""
        with self._lock:
            for label, keys in rows.items():
                seen = self.failed.setdefault(label, {})
                for k, kind in keys:
                    if len(seen) < self.FAILED_KEPT:
                        seen.setdefault(k, ErrorKind(kind))
            for label, kind, text in examples:
                self.failed_example.setdefault((label, ErrorKind(kind)), text)

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
        """A table by full name, bare class name (also of the ``--import`` class), or slot number
        (also as listed, "slot N"); names match case-insensitively when that leaves one table."""
        tables = [t for t in snap.tables if t.slot]
        words = ref.split()
        if len(words) == 2 and words[0].casefold() == "slot" and words[1].isdigit() and \
                not any(t.name == ref for t in tables):
            ref = words[1]  # a table without a metadata record, as listed: "slot N"
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

    # -- keys as typed -----------------------------------------------------------

    def typed_key(self, table: Table, text: str) -> keys.TypedKey:
        """What a user types as a key, read by the table's key layout (see :mod:`.keys`)."""
        codec = self.codec(table)
        layout = codec.profile.key_codec if codec.profile is not None else None
        stripped = text.strip()
        if keys.key_parts_of(layout) is None and codec.pmap is not None and not stripped.startswith(("hex:", "text:")):
            for attempt in self._app_key_candidates(stripped):  # the application's own key type
                try:
                    raw = codec.pmap._serialize_key(attempt)
                except Exception:  # noqa: BLE001
                    continue
                return keys.TypedKey(stripped, raw, keys.after_prefix(raw), False, type(attempt).__name__)
        return keys.parse_typed(text, layout, table.label())

    def parse_key(self, table: Table, text: str) -> bytes:
        """Where a typed key starts, as bytes after the slot prefix."""
        return self.typed_key(table, text).start

    @staticmethod
    def _app_key_candidates(text: str):
        try:
            yield uuid.UUID(text)
        except ValueError:
            pass
        if text.isdigit():
            yield int(text)
        yield text
