"""A table's records, decoded the way the application sees them, read page by page.

With ``--import``, each slot's oid finds the application's ``@zlmdb.table``
class in ``zlmdb.TABLES_BY_UUID``; keys and values go through that class's own
decoders and each record is shown as its object's ``marshal()``. Without it,
:mod:`zlmdb_inspect.tables.decode` decodes by inspection. A record that fails either
way stays visible: the error on its row, the best built-in decoding beside it.

Every read is one short read transaction (``Inspector.read``); paging is by
key with ``set_range``, so its cost does not depend on the table's size.
"""

from __future__ import annotations

import importlib
import json
import re
import struct
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zlmdb_inspect.core.errors import InspectError
from zlmdb_inspect.core.kinds import Decoders, Direction, ErrorKind
from zlmdb_inspect.core.model import Snapshot, Table
from zlmdb_inspect.core.options import Options
from zlmdb_inspect.core.slots import slot_prefix
from zlmdb_inspect.core.times import time_hints
from zlmdb_inspect.tables import decode, flatbuffers, inference, values

if TYPE_CHECKING:
    from zlmdb_inspect.storage.inspector import Inspector

PREVIEW_BYTES = 64 * 1024  # what the TUI decodes of a value unless asked for more


@dataclass
class Record:
    raw_key: bytes  # including the 2-byte slot prefix
    key: Any
    value: Any
    decoders: Decoders
    error: str | None
    size: int  # bytes of the stored value
    fallback: Any = None  # built-in decoding of the same bytes when the application's failed
    raw_value: bytes | None = None
    truncated: bool = False
    error_kind: ErrorKind | None = None  # why ``error`` is set

    @property
    def decoder(self) -> str:
        """``key|value`` decoder names, as ``--dump`` writes them."""
        return str(self.decoders)

    def time_hints(self) -> dict[str, str]:
        """ISO times for the value's epoch-time integer fields (``{"created": "2026-…Z"}``), for display;
        the value itself stays raw."""
        return time_hints(self.value)

    def to_json(self) -> dict[str, Any]:
        d = {"key": self.key, "value": self.value, "decoder": self.decoder, "error": self.error}
        if self.error and self.fallback is not None:
            d["fallback"] = self.fallback
        return d

    @property
    def points_to(self) -> str | None:
        """For index records: the oid (UUID or OID) of the record they point to."""
        if isinstance(self.value, str) and _UUID_RE.match(self.value):
            return self.value
        if self.decoders.value.endswith("oid") and isinstance(self.value, int):
            return str(self.value)
        return None


_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass
class RecordWindow:
    """Consecutive records of one table, read by key (what the records screen shows at once)."""

    records: list[Record]
    at_start: bool  # no record of the table before the first one here
    at_end: bool  # no record after the last one
    scanned: int = 0  # records looked at (more than shown when filtering)


def _by_pages(ins: Inspector, fn: Callable) -> Any:
    """``fn(walker, pagefile, meta)`` in one read transaction; None where the pages cannot be walked."""
    from zlmdb_inspect.storage.pageformat import PageError

    def body(txn, pf, meta):
        try:
            return fn(ins.walker, pf, meta)
        except PageError:
            return None

    return ins.read(body)


@dataclass
class TableProfile:
    """What a sample of one table's records says about decoding all of them.

    ``key_codec``/``value_codec`` are the built-in codecs every record is decoded with
    (with ``--import``: those of the types the class declares, when its records fit
    them); None where the sampled records mix codecs, which is said once here rather
    than on every record.
    """

    sampled: int
    where: str  # which records were sampled
    keys: inference.Inferred
    values: inference.Inferred
    app_class: str | None = None
    declared: tuple[str | None, str | None] = (None, None)
    app_key_failed: int = 0  # sampled keys the application's key decoder raised on
    app_key_error: str | None = None
    app_value_failed: int = 0  # sampled values its decoder or marshal() raised on
    app_value_error: str | None = None
    big_values: int = 0  # sampled values too large to take part in the value inference

    @property
    def key_codec(self) -> str | None:
        return self.keys.codec

    @property
    def value_codec(self) -> str | None:
        return self.values.codec

    @property
    def app_keys_broken(self) -> bool:
        """The application's key decoder raises on every sampled key: said once, not per row."""
        return self.app_key_failed > 0 and self.app_key_failed == self.keys.sampled

    @property
    def mixed(self) -> str | None:
        parts = []
        if self.keys.codec is None and self.keys.sampled:
            parts.append(f"keys mix codecs ({self.keys.summary()})")
        if self.values.codec is None and self.values.sampled:
            parts.append(f"values mix codecs ({self.values.summary()})")
        return "; ".join(parts) + ": each record is decoded on its own" if parts else None

    def notes(self) -> list[str]:
        """One line per finding, for a table's detail (TUI) and ``--json`` ``sampled``."""
        def side(codec: str | None, declared: str | None) -> str:
            if codec is None:
                return "mixed"
            return f"{codec} ({'declared' if codec == declared else 'inferred'})"

        out = [f"keys {side(self.key_codec, self.declared[0])}, values {side(self.value_codec, self.declared[1])}"
               f", from {self.sampled} sampled records ({self.where})"]
        if self.mixed:
            out.append(self.mixed)
        for which, inf in (("keys", self.keys), ("values", self.values)):
            if inf.codec and inf.misfits:
                out.append(f"{inf.misfits} of {inf.sampled} sampled {which} are not {decode.describe(inf.codec)} "
                           f"like the rest of this table ({inf.example})")
        if self.app_keys_broken:
            how = (f"the built-in decoder of the declared type ({self.key_codec})" if self.key_codec and
                   self.key_codec == self.declared[0] else f"the inferred codec ({self.key_codec})"
                   if self.key_codec else "inspection, record by record")
            out.append(f"the application's key decoder ({self.app_class}) raises on all {self.app_key_failed} "
                       f"sampled keys ({self.app_key_error}); keys are shown by {how}")
        elif self.app_key_failed:
            out.append(f"the application's key decoder raises on {self.app_key_failed} of {self.keys.sampled} "
                       f"sampled keys ({self.app_key_error})")
        if self.app_value_failed:
            out.append(f"the application's value decoder or marshal() raises on {self.app_value_failed} of "
                       f"{self.values.sampled} sampled values ({self.app_value_error})")
        if self.big_values:
            out.append(f"{self.big_values} sampled values over {PREVIEW_BYTES // 1024} KiB were not inspected")
        return out

    def to_json(self) -> dict[str, Any]:
        return {"key_codec": self.key_codec, "value_codec": self.value_codec, "mixed": self.mixed,
                "key_misfits": self.keys.misfits if self.key_codec else 0,
                "value_misfits": self.values.misfits if self.value_codec else 0,
                "app_key_failed": self.app_key_failed, "app_key_error": self.app_key_error,
                "app_value_failed": self.app_value_failed, "app_value_error": self.app_value_error,
                "where": self.where, "notes": self.notes()}


class Codec:
    """How one table's records are decoded: the application's class (``--import``) and the
    table's built-in codecs (its :class:`TableProfile`), with inspection for the rest."""

    def __init__(self, table: Table, klass: type | None, opts: Options, fbs):
        self.table = table
        self.klass = klass
        self.allow_pickle = opts.allow_pickle
        self.fbs = fbs
        self.fbs_type = fbs.type_for(table.name, opts.fbs_types) if fbs is not None else None
        self.pmap: Any = None  # the application's PersistentMap (``--import``): its own decoders
        self.pickle = False
        self.declared: tuple[str | None, str | None] = (None, None)
        self.profile: TableProfile | None = None
        if klass is not None:
            from zlmdb import _types

            self.pickle = issubclass(klass, (_types._PickleValuesMixin, _types._Pickle5ValuesMixin))
            self.pmap = _instantiate(klass, table.slot)
            key, value = inference.declared(klass)
            if getattr(klass, "_zlmdb_compress", None):
                value = None  # compressed values: inferred from what is stored
            if value == "flatbuffers" and self.fbs_type:
                value = f"flatbuffers:{self.fbs_type}"
            self.declared = (key, value)

    @property
    def name(self) -> str:
        if self.klass is not None:
            return f"{self.klass.__module__}.{self.klass.__name__}"
        return "built-in"

    # -- the table's codec, from a sample --------------------------------------------

    def learn(self, samples: list[tuple[bytes, bytes | None]], where: str) -> TableProfile:
        """Settle the table's codecs from sampled (key after the slot prefix, value) pairs;
        a value of None was too large to inspect."""
        keys = [k for k, _ in samples]
        values = [v for _, v in samples if v is not None]
        dkey, dvalue = self.declared
        kinf = self._infer(keys, dkey, decode.key_as, inference.infer_keys)
        vinf = self._infer(values, dvalue, lambda c, b: decode.value_as(c, b, self.allow_pickle, self.fbs),
                           lambda vs: inference.infer_values(vs, self.allow_pickle, self.fbs, self.fbs_type))
        prof = TableProfile(len(samples), where, kinf, vinf, big_values=len(samples) - len(values),
                            app_class=self.name if self.klass is not None else None, declared=self.declared)
        if self.pmap is not None:
            for k in keys:
                try:
                    self.pmap._deserialize_key(k)
                except Exception as e:  # noqa: BLE001 - the application's decoder failed
                    prof.app_key_failed += 1
                    prof.app_key_error = prof.app_key_error or _exc(e)
            if not (self.pickle and not self.allow_pickle):
                for v in values:
                    try:
                        self._app_value(v)
                    except Exception as e:  # noqa: BLE001
                        prof.app_value_failed += 1
                        prof.app_value_error = prof.app_value_error or _exc(e)
        self.profile = prof
        return prof

    @staticmethod
    def _infer(samples: list[bytes], declared: str | None, fits, infer) -> inference.Inferred:
        if declared is not None:
            inf = inference.infer(samples, lambda b: [declared], fits, [])
            if inf.codec is not None or not samples:
                return inf
        return infer(samples)

    def _key(self, kb: bytes) -> tuple[Any, str, str | None]:
        codec = self.profile.key_codec if self.profile else None
        if codec is not None:
            try:
                return decode.key_as(codec, kb), codec, None
            except decode.Mismatch as e:
                # a text key that is not UTF-8 is shown as its bytes, not guessed into other parts
                k = decode.Decoded(values.hexs(kb), "bytes") if codec == "string" else decode.decode_key(kb)
                return k.value, k.decoder, f"key is not {decode.describe(codec)} like the rest of this table: {e}"
        k = decode.decode_key(kb)
        return k.value, k.decoder, k.error and f"key: {k.error}"

    def _value(self, raw_value: bytes) -> tuple[Any, str, str | None]:
        codec = self.profile.value_codec if self.profile else None
        if codec is not None:
            try:
                return decode.value_as(codec, raw_value, self.allow_pickle, self.fbs), codec, None
            except decode.Mismatch as e:
                v = decode.decode_value(raw_value, self.allow_pickle, self.fbs, self.fbs_type)
                return v.value, v.decoder, f"value is not {decode.describe(codec)} like the rest of this table: {e}"
        v = decode.decode_value(raw_value, self.allow_pickle, self.fbs, self.fbs_type)
        return v.value, v.decoder, v.error

    # -- records -------------------------------------------------------------------

    def decode(self, raw_key: bytes, raw_value: bytes, preview: int | None = None) -> Record:
        size = len(raw_value)
        truncated = preview is not None and size > preview
        value_bytes = raw_value[:preview] if truncated else raw_value
        kb = raw_key[2:]
        if truncated:
            key, kdec, kerr = self._key(kb)
            if self.pmap is not None:
                try:
                    key, kdec, kerr = values.jsonable(self.pmap._deserialize_key(kb), embeds=False), "app", None
                except Exception:  # noqa: BLE001 - the full record says why
                    pass
            value = f"({size} bytes; showing the first {preview} as hex) " + values.hexs(value_bytes)
            return Record(raw_key, key, value, Decoders(kdec, "preview"), kerr, size, raw_value=value_bytes,
                          truncated=True, error_kind=ErrorKind.CODEC if kerr else None)
        if self.pmap is None:
            key, kdec, kerr = self._key(kb)
            value, vdec, verr = self._value(raw_value)
            err = "; ".join(e for e in (kerr, verr) if e) or None
            return Record(raw_key, key, value, Decoders(kdec, vdec), err, size, raw_value=raw_value,
                          error_kind=ErrorKind.CODEC if err else None)
        return self._decode_app(raw_key, kb, raw_value, size)

    def _app_value(self, raw_value: bytes) -> tuple[Any, str]:
        data = self.pmap._decompress(raw_value)
        obj = self.pmap._deserialize_value(data)
        if hasattr(obj, "marshal") and callable(obj.marshal):
            return values.jsonable(_marshal(obj)), "app:marshal()"
        return values.jsonable(obj), "app"

    def _decode_app(self, raw_key: bytes, kb: bytes, raw_value: bytes, size: int) -> Record:
        errors: list[str] = []
        kind: ErrorKind | None = None
        try:
            key = values.jsonable(self.pmap._deserialize_key(kb), embeds=False)
            kdec = "app"
        except Exception as e:  # noqa: BLE001 - the application's decoder failed
            key, kdec, kerr = self._key(kb)
            kdec = "built-in:" + kdec
            if not (self.profile and self.profile.app_keys_broken):  # else said once for the table
                errors.append(f"key: {_exc(e)}")
                kind = ErrorKind.APP
            if kerr:
                _add(errors, kerr)
                kind = ErrorKind.CODEC
        fallback = None
        if self.pickle and not self.allow_pickle:
            value, vdec = "pickle (not loaded)", "pickle"
        else:
            try:
                value, vdec = self._app_value(raw_value)
            except Exception as e:  # noqa: BLE001 - unparseable value or failing marshal()
                errors.append(f"value: {_exc(e)}")
                value, vdec, verr = self._value(raw_value)
                vdec, fallback = "built-in:" + vdec, value
                kind = kind or ErrorKind.APP
                if verr:
                    _add(errors, verr)
                    kind = ErrorKind.CODEC
        return Record(raw_key, key, value, Decoders(kdec, vdec), "; ".join(errors) or None, size,
                      fallback=fallback, raw_value=raw_value, error_kind=kind if errors else None)


def _add(errors: list[str], builtin: str) -> None:
    """Add the built-in codec's error; it replaces the application's when it quotes the same exception."""
    last = errors[-1].split(": ", 1)[-1] if errors else None
    if last and last in builtin:
        errors[-1] = builtin
    else:
        errors.append(builtin)


def _exc(e: Exception) -> str:
    return f"{type(e).__name__}: {e}".rstrip(": ")


class MarshalError(Exception):
    pass


def _marshal(obj):
    try:
        return obj.marshal()
    except Exception as e:  # noqa: BLE001
        raise MarshalError(f"marshal() raised {type(e).__name__}: {e}") from None


def _instantiate(klass: Any, slot: int) -> Any:
    kw: dict[str, Any] = {"compress": klass._zlmdb_compress}
    if klass._zlmdb_marshal is not None or klass._zlmdb_parse is not None:
        kw.update(marshal=klass._zlmdb_marshal, unmarshal=klass._zlmdb_parse)
    elif klass._zlmdb_build is not None or klass._zlmdb_cast is not None:
        kw.update(build=klass._zlmdb_build, cast=klass._zlmdb_cast)
    try:
        return klass(slot, **kw)
    except TypeError:
        return klass(slot)


class TableCodecs:
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

    # -- reading -----------------------------------------------------------------

    def read_window(self, ins: Inspector, table: Table, anchor: bytes | None, direction: Direction,
                    n: int, text_filter: str | None = None, scan_limit: int = 20000,
                    preview: int | None = PREVIEW_BYTES) -> RecordWindow:
        """``n`` records of ``table`` from ``anchor`` (a key after the slot prefix) in ``direction``."""
        direction = Direction(direction)
        prefix = slot_prefix(table.slot)
        end = slot_prefix(table.slot + 1) if table.slot < 0xFFFF else None
        codec = self.profiled(ins, table)
        needle = text_filter.lower() if text_filter else None

        def body(txn, pf, meta) -> RecordWindow:
            cur = txn.cursor()
            out: list[Record] = []
            scanned = 0

            def in_table(k: bytes) -> bool:
                return k[:2] == prefix and len(k) >= 2

            def keep(rec: Record) -> bool:
                if needle is None:
                    return True
                text = json.dumps([rec.key, rec.value, rec.error], ensure_ascii=False, default=str).lower()
                return needle in text

            backwards = direction.backwards
            if direction is Direction.FIRST:
                ok = cur.set_range(prefix)
            elif direction is Direction.LAST:
                ok = cur.set_range(end) if end else cur.last()
                ok = cur.prev() if ok else cur.last()
            elif direction is Direction.BEFORE:
                ok = cur.set_range(prefix + (anchor or b""))
                ok = cur.prev() if ok else cur.last()
            else:
                ok = cur.set_range(prefix + (anchor or b""))
                if ok and direction is Direction.AFTER and cur.key() == prefix + (anchor or b""):
                    ok = cur.next()
            while ok and len(out) < n and scanned < scan_limit:
                k = cur.key()
                if not in_table(k):
                    break
                scanned += 1
                rec = codec.decode(k, cur.value(), preview)
                if keep(rec):
                    out.append(rec)
                ok = cur.prev() if backwards else cur.next()
            more = ok and in_table(cur.key())
            if backwards:
                out.reverse()
                at_start, at_end = not more, direction is Direction.LAST
            else:
                at_end = not more
                at_start = direction is Direction.FIRST
            if out and not backwards and not at_start:
                at_start = not _has_before(cur, prefix, out[0].raw_key)
            if out and backwards and not at_end:
                at_end = not _has_after(cur, prefix, out[-1].raw_key)
            return RecordWindow(out, at_start, at_end, scanned)

        window: RecordWindow = ins.read(body)
        self._note(table, window.records)
        return window

    def read_record(self, ins: Inspector, table: Table, raw_key: bytes,
                    preview: int | None = PREVIEW_BYTES) -> Record | None:
        """One record by its exact key, decoding at most ``preview`` bytes of its value (None: all)."""
        codec = self.profiled(ins, table)

        def body(txn, pf, meta):
            v = txn.get(raw_key)
            if v is None:
                return None
            return codec.decode(raw_key, v, preview)

        return ins.read(body)

    def iter_records(self, ins: Inspector, table: Table, from_key: str | None,
                     limit: int | None, batch: int = 1000) -> Iterator[Record]:
        """All (or ``limit``) records with their full values, a short transaction per batch."""
        anchor = self.parse_key(table, from_key) if from_key else None
        direction = Direction.FROM if anchor is not None else Direction.FIRST
        done = 0
        while limit is None or done < limit:
            want = batch if limit is None else min(batch, limit - done)
            window = self.read_window(ins, table, anchor, direction, want, scan_limit=want, preview=None)
            yield from window.records
            done += len(window.records)
            if window.at_end or not window.records:
                return
            anchor, direction = window.records[-1].raw_key[2:], Direction.AFTER

    def position(self, ins: Inspector, table: Table, raw_key: bytes) -> int | None:
        """The 0-based position of a record in its table, from the B-tree's page counts."""
        prefix = slot_prefix(table.slot)
        return _by_pages(ins, lambda w, pf, meta: w.rank(pf, meta, raw_key) - w.rank(pf, meta, prefix))

    def locate(self, ins: Inspector, table: Table, raw_key: bytes) -> tuple[int, int] | None:
        """(position of ``raw_key``, records in the table) from one read: the total stays current
        while a writer adds records, so the position shown never passes it."""
        prefix = slot_prefix(table.slot)
        end = slot_prefix(table.slot + 1) if table.slot < 0xFFFF else None

        def fn(w, pf, meta):
            first = w.rank(pf, meta, prefix)
            last = w.rank(pf, meta, end) if end is not None else meta.main.entries
            return w.rank(pf, meta, raw_key) - first, last - first

        return _by_pages(ins, fn)

    def key_at(self, ins: Inspector, table: Table, index: int) -> bytes | None:
        """The key (after the slot prefix) of the record at 0-based ``index`` of the table."""
        prefix = slot_prefix(table.slot)
        key = _by_pages(ins, lambda w, pf, meta: w.key_at(pf, meta, w.rank(pf, meta, prefix) + max(0, index)))
        return key[2:] if key is not None and key[:2] == prefix else None

    def find_target(self, ins: Inspector, target: bytes, tables: list[Table]) -> Table | None:
        """The first of ``tables`` holding a record keyed ``target`` (what an index entry points to)."""

        def body(txn, pf, meta):
            return next((t for t in tables if txn.get(slot_prefix(t.slot) + target) is not None), None)

        return ins.read(body)

    # -- sampling: each table's codec, and statistics for the health rules ---------------

    def profiled(self, ins: Inspector, table: Table) -> Codec:
        """The table's codec, with its profile learnt from a sample first if it has none."""
        codec = self.codec(table)
        if codec.profile is None and table.slot:
            with self._lock:  # one worker learns it; others wait rather than sample again
                if codec.profile is None:
                    self.learn(ins, table)
        return codec

    def learn(self, ins: Inspector, table: Table, n: int | None = None) -> tuple[TableProfile, list[Record]]:
        """Sample ``table`` (first page, last page, random positions), settle its codec, and
        return the profile with the sampled records decoded by it."""
        codec = self.codec(table)
        triples, where = self._sample_raw(ins, table, n or self.opts.sample)
        prof = codec.learn([(k[2:], v if size <= PREVIEW_BYTES else None) for k, v, size in triples], where)
        recs = []
        for k, v, size in triples:
            rec = codec.decode(k, v, PREVIEW_BYTES)
            rec.size = size
            recs.append(rec)
        self._note(table, recs)
        return prof, recs

    def _sample_raw(self, ins: Inspector, table: Table, n: int) -> tuple[list[tuple[bytes, bytes, int]], str]:
        """Up to ``n`` (key, value, value size) triples, in key order, in one short read transaction:
        all of a small table; else the first and the last quarter-``n`` records and short runs from
        random keys between them (drawn uniformly between the first and last key, so positions
        follow the key distribution; a cursor seek each, whatever the table's size or format).
        Values over the preview size are cut to it."""
        import random

        prefix = slot_prefix(table.slot)
        quarter = max(1, n // 4)
        total = table.records
        positions = max(1, min(16, (n - 2 * quarter) // 4))
        run = max(1, (n - 2 * quarter) // positions)
        rng = random.Random(table.slot * 7919 + total)

        def body(txn, pf, meta):
            cur = txn.cursor()
            got: dict[bytes, tuple[bytes, int]] = {}

            def take(ok: bool, count: int, backwards: bool = False) -> bytes | None:
                k = None
                while ok and count > 0:
                    k = cur.key()
                    if k[:2] != prefix:
                        break
                    if k not in got:
                        v = cur.value()
                        got[k] = (bytes(v[:PREVIEW_BYTES + 1]), len(v))
                    count -= 1
                    ok = cur.prev() if backwards else cur.next()
                return k

            if total <= n:
                take(cur.set_range(prefix), n)
                return got, 0
            take(cur.set_range(prefix), quarter)
            first = min(got) if got else prefix
            end = slot_prefix(table.slot + 1) if table.slot < 0xFFFF else None
            ok = cur.set_range(end) if end else cur.last()
            take(cur.prev() if ok else cur.last(), quarter, backwards=True)
            last = max(got) if got else prefix
            runs = 0
            for target in _between(first, last, positions, rng):
                if cur.set_range(target):
                    take(True, run)
                    runs += 1
            return got, runs

        got, runs = ins.read(body)
        triples = [(k, v, size) for k, (v, size) in sorted(got.items())]
        if total <= n:
            where = "all records" if len(triples) >= total else f"the first {len(triples)}"
        else:
            where = f"first {quarter}, last {quarter}, {runs} runs of {run} from random keys"
        return triples, where

    def sample(self, ins: Inspector, snap: Snapshot, n: int) -> tuple[dict[str, dict], dict[int, RecordWindow]]:
        """Learn every table's codec from a sample and decode it: errors, pickle and JSON values.

        Returns the statistics by table label (``--json`` ``sampled``), and the sampled
        records as windows (for :meth:`index_drift`).
        """
        out: dict[str, dict] = {}
        pages: dict[int, RecordWindow] = {}
        for t in snap.tables:
            if t.slot == 0 or not t.records:
                continue
            prof, recs = self.learn(ins, t, n)
            pages[t.slot] = RecordWindow(recs, True, True, len(recs))
            errors = sum(1 for r in recs if r.error)
            decs = [r.decoders.value for r in recs]
            pickle = bool(recs) and sum(1 for d in decs if "pickle" in d) * 2 >= len(recs)
            json_vals = bool(recs) and sum(1 for d in decs if d.endswith("json")) * 2 >= len(recs)
            codec = self.codec(t)
            if codec.klass is not None:
                from zlmdb import _types

                json_vals = json_vals or issubclass(codec.klass, _types._JsonValuesMixin)
                pickle = pickle or codec.pickle
            avg = sum(r.size for r in recs) / len(recs) if recs else 0
            out[t.label()] = {"slot": t.slot, "sampled": len(recs), "errors": errors,
                              "undecodable": sum(1 for r in recs if r.error_kind is ErrorKind.CODEC),
                              "app_errors": sum(1 for r in recs if r.error_kind is ErrorKind.APP),
                              "pickle": pickle, "json": json_vals,
                              "est_bytes": int(avg * t.records) + t.overflow_bytes,
                              "decoder": codec.name, **prof.to_json()}
        return out, pages

    def index_drift(self, ins: Inspector, snap: Snapshot,
                    pages: dict[int, RecordWindow]) -> list[tuple[str, str]]:
        """Index-like tables (values are oids of another table's records), checked by sampling.

        An index's target is the table whose keys hold the sampled values; entries
        whose target record is missing are drift. With ``--import`` the tables'
        declared key types make the match exact; without it, it is by content.
        """
        found: list[tuple[str, str]] = []
        by_slot = {t.slot: t for t in snap.tables if t.slot}
        for t in by_slot.values():
            page = pages.get(t.slot)
            if page is None:
                continue
            targets = [r.raw_value for r in page.records if r.raw_value is not None
                       and len(r.raw_value) in (8, 16) and r.points_to is not None]
            if not page.records or len(targets) < len(page.records):
                continue

            def probe(txn, pf, meta, targets=targets, t=t):
                hits: dict[int, int] = {}
                for slot in by_slot:
                    if slot == t.slot:
                        continue
                    prefix = slot_prefix(slot)
                    hits[slot] = sum(1 for v in targets[:20] if txn.get(prefix + v) is not None)
                best = max(hits, key=lambda s: hits[s], default=None)
                if best is None or hits[best] == 0:
                    return None, 0
                prefix = slot_prefix(best)
                return best, sum(1 for v in targets if txn.get(prefix + v) is None)

            target, missing = ins.read(probe)
            if target is None:
                continue
            tgt = by_slot[target]
            if missing:
                found.append((t.label(), f"{missing} of {len(targets)} sampled entries point to records "
                              f"missing from {tgt.label()}"))
            elif t.records > tgt.records and self.codec(t).klass is not None:
                found.append((t.label(), f"{t.records} entries for {tgt.records} records of {tgt.label()}"))
        return found


def _between(lo: bytes, hi: bytes, count: int, rng) -> list[bytes]:
    """``count`` random keys between ``lo`` and ``hi``: their common prefix, then 8 random bytes
    drawn between theirs."""
    common = 0
    while common < min(len(lo), len(hi)) and lo[common] == hi[common]:
        common += 1
    a = int.from_bytes(lo[common:common + 8].ljust(8, b"\0"), "big")
    b = int.from_bytes(hi[common:common + 8].ljust(8, b"\0"), "big")
    if b <= a + 1:
        return []
    return [lo[:common] + rng.randrange(a + 1, b).to_bytes(8, "big") for _ in range(count)]


def _has_before(cur, prefix: bytes, key: bytes) -> bool:
    if not cur.set_range(key):
        return False
    return cur.prev() and cur.key()[:2] == prefix


def _has_after(cur, prefix: bytes, key: bytes) -> bool:
    if not cur.set_range(key):
        return False
    return cur.next() and cur.key()[:2] == prefix
