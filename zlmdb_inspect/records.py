"""A table's records, decoded the way the application sees them, read page by page.

With ``--import``, each slot's oid finds the application's ``@zlmdb.table``
class in ``zlmdb.TABLES_BY_UUID``; keys and values go through that class's own
decoders and each record is shown as its object's ``marshal()``. Without it,
:mod:`zlmdb_inspect.decode` decodes by inspection. A record that fails either
way stays visible: the error on its row, the best built-in decoding beside it.

Every read is one short read transaction (``Inspector.read``); paging is by
key with ``set_range``, so its cost does not depend on the table's size.
"""

from __future__ import annotations

import importlib
import re
import struct
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

from zlmdb_inspect import decode
from zlmdb_inspect.errors import InspectError
from zlmdb_inspect.model import Snapshot, Table

if TYPE_CHECKING:
    from zlmdb_inspect.cli import Options
    from zlmdb_inspect.inspector import Inspector

PREVIEW_BYTES = 64 * 1024  # what the TUI decodes of a value unless asked for more


@dataclass
class Record:
    raw_key: bytes  # including the 2-byte slot prefix
    key: Any
    value: Any
    decoder: str
    error: str | None
    size: int  # bytes of the stored value
    fallback: Any = None  # built-in decoding of the same bytes when the application's failed
    raw_value: bytes | None = None
    truncated: bool = False

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
        if self.decoder.endswith("oid") and isinstance(self.value, int):
            return str(self.value)
        return None


_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass
class Page:
    records: list[Record]
    at_start: bool  # no record of the table before the first one here
    at_end: bool  # no record after the last one
    scanned: int = 0  # records looked at (more than shown when filtering)


def _slot_prefix(slot: int) -> bytes:
    return struct.pack(">H", slot)


def _by_pages(ins: "Inspector", fn: Callable) -> Any:
    """``fn(walker, pagefile, meta)`` in one read transaction; None where the pages cannot be walked."""
    from zlmdb_inspect.pages import PageError

    def body(txn, pf, meta):
        try:
            return fn(ins.walker, pf, meta)
        except PageError:
            return None

    return ins.read(body)


class Codec:
    """How one table's records are decoded."""

    def __init__(self, table: Table, klass: type | None, opts: "Options", fbs):
        self.table = table
        self.klass = klass
        self.allow_pickle = opts.allow_pickle
        self.fbs = fbs
        self.fbs_type = fbs.type_for(table.name, opts.fbs_types) if fbs is not None else None
        self.pmap = None
        self.pickle = False
        if klass is not None:
            from zlmdb import _types

            self.pickle = issubclass(klass, (_types._PickleValuesMixin, _types._Pickle5ValuesMixin))
            self.pmap = _instantiate(klass, table.slot)

    @property
    def name(self) -> str:
        if self.klass is not None:
            return f"{self.klass.__module__}.{self.klass.__name__}"
        return "built-in"

    def decode(self, raw_key: bytes, raw_value: bytes, preview: int | None = None) -> Record:
        size = len(raw_value)
        truncated = preview is not None and size > preview
        value_bytes = raw_value[:preview] if truncated else raw_value
        kb = raw_key[2:]
        if truncated:
            d = decode.Decoded(f"({size} bytes; showing the first {preview} as hex) " +
                               decode.hexs(value_bytes), "preview")
            return Record(raw_key, decode.decode_key(kb).value, d.value, d.decoder, None, size,
                          raw_value=value_bytes, truncated=True)
        if self.pmap is None:
            k = decode.decode_key(kb)
            v = decode.decode_value(raw_value, self.allow_pickle, self.fbs, self.fbs_type)
            err = "; ".join(e for e in (k.error and f"key: {k.error}", v.error) if e) or None
            return Record(raw_key, k.value, v.value, f"{k.decoder}|{v.decoder}", err, size,
                          raw_value=raw_value)
        return self._decode_app(raw_key, kb, raw_value, size)

    def _decode_app(self, raw_key: bytes, kb: bytes, raw_value: bytes, size: int) -> Record:
        errors = []
        try:
            key = decode.jsonable(self.pmap._deserialize_key(kb))
            kdec = "app"
        except Exception as e:  # noqa: BLE001 - the application's decoder failed
            errors.append(f"key: {type(e).__name__}: {e}".rstrip(": "))
            k = decode.decode_key(kb)
            key, kdec = k.value, k.decoder
        fallback = None
        if self.pickle and not self.allow_pickle:
            value, vdec = "pickle (not loaded)", "pickle"
        else:
            try:
                data = self.pmap._decompress(raw_value)
                obj = self.pmap._deserialize_value(data)
                if hasattr(obj, "marshal") and callable(obj.marshal):
                    value, vdec = decode.jsonable(_marshal(obj)), "app:marshal()"
                else:
                    value, vdec = decode.jsonable(obj), "app"
            except Exception as e:  # noqa: BLE001 - unparseable value or failing marshal()
                errors.append(f"value: {type(e).__name__}: {e}")
                d = decode.decode_value(raw_value, self.allow_pickle, self.fbs, self.fbs_type)
                value, vdec, fallback = d.value, "built-in:" + d.decoder, d.value
        return Record(raw_key, key, value, f"{kdec}|{vdec}", "; ".join(errors) or None, size,
                      fallback=fallback, raw_value=raw_value)


class MarshalError(Exception):
    pass


def _marshal(obj):
    try:
        return obj.marshal()
    except Exception as e:  # noqa: BLE001
        raise MarshalError(f"marshal() raised {type(e).__name__}: {e}") from None


def _instantiate(klass: type, slot: int):
    kw: dict[str, Any] = {"compress": klass._zlmdb_compress}
    if klass._zlmdb_marshal is not None or klass._zlmdb_parse is not None:
        kw.update(marshal=klass._zlmdb_marshal, unmarshal=klass._zlmdb_parse)
    elif klass._zlmdb_build is not None or klass._zlmdb_cast is not None:
        kw.update(build=klass._zlmdb_build, cast=klass._zlmdb_cast)
    try:
        return klass(slot, **kw)
    except TypeError:
        return klass(slot)


class Catalog:
    """Resolves tables to codecs; reads pages, samples and dumps."""

    def __init__(self, opts: "Options"):
        self.opts = opts
        self.classes: dict[str, type] = {}
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
                self.fbs = decode.FbsSchemas(opts.fbs)
            except (OSError, ValueError) as e:
                raise InspectError(f"--fbs: {e}") from None
        self._codecs: dict[tuple, Codec] = {}
        # keys of records that failed to decode, seen while browsing, dumping or sampling
        self.failed: dict[str, set[bytes]] = {}

    def _note(self, table: Table, records: list[Record]) -> None:
        bad = {r.raw_key for r in records if r.error}
        if bad:
            self.failed.setdefault(table.label(), set()).update(list(bad)[:10_000])

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
        c = self._codecs.get(key)
        if c is None:
            c = self._codecs[key] = Codec(table, self.class_for(table), self.opts, self.fbs)
        return c

    def resolve_table(self, snap: Snapshot, ref: str) -> Table:
        """A table by full name, bare class name, or slot number."""
        tables = [t for t in snap.tables]
        if ref.isdigit():
            for t in tables:
                if t.slot == int(ref):
                    return t
            raise InspectError(f"no table in slot {ref}")
        for t in tables:
            if t.name == ref:
                return t
        bare = [t for t in tables if t.name and t.name.rsplit(".", 1)[-1] == ref]
        if len(bare) == 1:
            return bare[0]
        if len(bare) > 1:
            raise InspectError(f"{ref!r} names {len(bare)} tables: " + ", ".join(t.name or "" for t in bare))
        names = ", ".join(t.name or f"slot {t.slot}" for t in tables if t.slot)
        raise InspectError(f"no table named {ref!r} (tables: {names})")

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

    def read_page(self, ins: "Inspector", table: Table, anchor: bytes | None, direction: str,
                  n: int, text_filter: str | None = None, scan_limit: int = 20000,
                  preview: int | None = PREVIEW_BYTES) -> Page:
        """``n`` records of ``table``.

        direction: ``first``; ``last``; ``from`` (keys >= anchor); ``after`` (keys > anchor);
        ``before`` (the n records before anchor, in key order).
        """
        prefix = _slot_prefix(table.slot)
        end = _slot_prefix(table.slot + 1) if table.slot < 0xFFFF else None
        codec = self.codec(table)
        needle = text_filter.lower() if text_filter else None

        def body(txn, pf, meta) -> Page:
            cur = txn.cursor()
            out: list[Record] = []
            scanned = 0

            def in_table(k: bytes) -> bool:
                return k[:2] == prefix and len(k) >= 2

            def keep(rec: Record) -> bool:
                if needle is None:
                    return True
                import json

                text = json.dumps([rec.key, rec.value, rec.error], ensure_ascii=False, default=str).lower()
                return needle in text

            backwards = direction in ("last", "before")
            if direction == "first":
                ok = cur.set_range(prefix)
            elif direction == "last":
                ok = cur.set_range(end) if end else cur.last()
                ok = cur.prev() if ok else cur.last()
            elif direction == "before":
                ok = cur.set_range(prefix + (anchor or b""))
                ok = cur.prev() if ok else cur.last()
            else:
                ok = cur.set_range(prefix + (anchor or b""))
                if ok and direction == "after" and cur.key() == prefix + (anchor or b""):
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
                at_start, at_end = not more, direction == "last"
            else:
                at_end = not more
                at_start = direction == "first"
            if out and not backwards and not at_start:
                at_start = not _has_before(cur, prefix, out[0].raw_key)
            if out and backwards and not at_end:
                at_end = not _has_after(cur, prefix, out[-1].raw_key)
            return Page(out, at_start, at_end, scanned)

        page = ins.read(body)
        self._note(table, page.records)
        return page

    def read_record(self, ins: "Inspector", table: Table, raw_key: bytes,
                    preview: int | None = PREVIEW_BYTES) -> Record | None:
        """One record by its exact key, decoding at most ``preview`` bytes of its value (None: all)."""
        codec = self.codec(table)

        def body(txn, pf, meta):
            v = txn.get(raw_key)
            if v is None:
                return None
            return codec.decode(raw_key, v, preview)

        return ins.read(body)

    def iter_records(self, ins: "Inspector", table: Table, from_key: str | None,
                     limit: int | None, batch: int = 1000) -> Iterator[Record]:
        """All (or ``limit``) records with their full values, a short transaction per batch."""
        anchor = self.parse_key(table, from_key) if from_key else None
        direction = "from" if anchor is not None else "first"
        done = 0
        while limit is None or done < limit:
            want = batch if limit is None else min(batch, limit - done)
            page = self.read_page(ins, table, anchor, direction, want, scan_limit=want, preview=None)
            yield from page.records
            done += len(page.records)
            if page.at_end or not page.records:
                return
            anchor, direction = page.records[-1].raw_key[2:], "after"

    def position(self, ins: "Inspector", table: Table, raw_key: bytes) -> int | None:
        """The 0-based position of a record in its table, from the B-tree's page counts."""
        prefix = _slot_prefix(table.slot)
        return _by_pages(ins, lambda w, pf, meta: w.rank(pf, meta, raw_key) - w.rank(pf, meta, prefix))

    def locate(self, ins: "Inspector", table: Table, raw_key: bytes) -> tuple[int, int] | None:
        """(position of ``raw_key``, records in the table) from one read: the total stays current
        while a writer adds records, so the position shown never passes it."""
        prefix = _slot_prefix(table.slot)
        end = _slot_prefix(table.slot + 1) if table.slot < 0xFFFF else None

        def fn(w, pf, meta):
            first = w.rank(pf, meta, prefix)
            last = w.rank(pf, meta, end) if end is not None else meta.main.entries
            return w.rank(pf, meta, raw_key) - first, last - first

        return _by_pages(ins, fn)

    def key_at(self, ins: "Inspector", table: Table, index: int) -> bytes | None:
        """The key (after the slot prefix) of the record at 0-based ``index`` of the table."""
        prefix = _slot_prefix(table.slot)
        key = _by_pages(ins, lambda w, pf, meta: w.key_at(pf, meta, w.rank(pf, meta, prefix) + max(0, index)))
        return key[2:] if key is not None and key[:2] == prefix else None

    def find_target(self, ins: "Inspector", target: bytes, tables: list[Table]) -> Table | None:
        """The first of ``tables`` holding a record keyed ``target`` (what an index entry points to)."""

        def body(txn, pf, meta):
            return next((t for t in tables if txn.get(_slot_prefix(t.slot) + target) is not None), None)

        return ins.read(body)

    # -- sampling for health rules -------------------------------------------------

    def sample(self, ins: "Inspector", snap: Snapshot, n: int) -> tuple[dict[str, dict], dict[int, Page]]:
        """Decode the first ``n`` records of every table: errors, pickle and JSON values.

        Returns the statistics by table label, and the pages read (for :meth:`index_drift`).
        """
        out: dict[str, dict] = {}
        pages: dict[int, Page] = {}
        for t in snap.tables:
            if t.slot == 0 or not t.records:
                continue
            page = pages[t.slot] = self.read_page(ins, t, None, "first", n)
            recs = page.records
            errors = sum(1 for r in recs if r.error)
            decs = [r.decoder.split("|")[-1] for r in recs]
            pickle = bool(recs) and sum(1 for d in decs if "pickle" in d) * 2 >= len(recs)
            json_vals = bool(recs) and sum(1 for d in decs if d.endswith("json")) * 2 >= len(recs)
            codec = self.codec(t)
            if codec.klass is not None:
                from zlmdb import _types

                json_vals = json_vals or issubclass(codec.klass, _types._JsonValuesMixin)
                pickle = pickle or codec.pickle
            avg = sum(r.size for r in recs) / len(recs) if recs else 0
            out[t.label()] = {"slot": t.slot, "sampled": len(recs), "errors": errors,
                              "pickle": pickle, "json": json_vals,
                              "est_bytes": int(avg * t.records) + t.overflow_bytes,
                              "decoder": codec.name}
        return out, pages

    def index_drift(self, ins: "Inspector", snap: Snapshot, pages: dict[int, Page]) -> list[tuple[str, str]]:
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

            def probe(txn, pf, meta, targets=targets):
                hits: dict[int, int] = {}
                for slot in by_slot:
                    if slot == t.slot:
                        continue
                    prefix = _slot_prefix(slot)
                    hits[slot] = sum(1 for v in targets[:20] if txn.get(prefix + v) is not None)
                best = max(hits, key=hits.get, default=None)
                if best is None or hits[best] == 0:
                    return None, 0
                prefix = _slot_prefix(best)
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


def _has_before(cur, prefix: bytes, key: bytes) -> bool:
    if not cur.set_range(key):
        return False
    return cur.prev() and cur.key()[:2] == prefix


def _has_after(cur, prefix: bytes, key: bytes) -> bool:
    if not cur.set_range(key):
        return False
    return cur.next() and cur.key()[:2] == prefix
