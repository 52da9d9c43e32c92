"""Windows of a table's records: pages by key from an anchor in either direction, one record,
all records in key order, and positions by rank. Every read is one short read transaction
(``Inspector.read``); paging is by key with ``set_range``, so its cost does not depend on the
table's size. Part of :class:`zlmdb_inspect.tables.catalog.TableCodecs`."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from zlmdb_inspect.core.kinds import Direction
from zlmdb_inspect.core.model import Table
from zlmdb_inspect.core.options import Options
from zlmdb_inspect.core.slots import slot_end, slot_prefix
from zlmdb_inspect.tables import keys
from zlmdb_inspect.tables.records import PREVIEW_BYTES, Codec, Record, RecordWindow

if TYPE_CHECKING:
    from zlmdb_inspect.storage.inspector import Inspector


def _by_pages(ins: Inspector, fn: Callable) -> Any:
    """``fn(walker, pagefile, meta)`` in one read transaction; None where the pages cannot be walked."""
    from zlmdb_inspect.storage.pageformat import PageError

    def body(txn, pf, meta):
        try:
            return fn(ins.walker, pf, meta)
        except PageError:
            return None

    return ins.read(body, bounded=True)  # pages only


class WindowReader:
    """Reading records: mixed into the catalog, which provides ``codec``, ``profiled`` and ``_note``."""

    if TYPE_CHECKING:  # what the catalog (:class:`zlmdb_inspect.tables.catalog.TableCodecs`) provides
        opts: Options
        _lock: threading.RLock

        def codec(self, table: Table) -> Codec:
            raise NotImplementedError

        def profiled(self, ins: Inspector, table: Table) -> Codec:
            raise NotImplementedError

        def _note(self, table: Table, records: list[Record]) -> None:
            raise NotImplementedError

        def parse_key(self, table: Table, text: str) -> bytes:
            raise NotImplementedError

        def typed_key(self, table: Table, text: str) -> keys.TypedKey:
            raise NotImplementedError

    def read_window(self, ins: Inspector, table: Table, anchor: bytes | None, direction: Direction,
                    n: int, text_filter: str | None = None, scan_limit: int = 20000,
                    preview: int | None = PREVIEW_BYTES) -> RecordWindow:
        """``n`` records of ``table`` from ``anchor`` (a key after the slot prefix) in ``direction``."""
        direction = Direction(direction)
        prefix = slot_prefix(table.slot)
        end = slot_end(table.slot)
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

    def seek_key(self, ins: Inspector, table: Table, text: str) -> keys.KeySeek:
        """Where ``text`` typed as a key lands in ``table``, and whether a key there is one it names."""
        self.profiled(ins, table)  # the key layout, for what a typed key can mean
        typed = self.typed_key(table, text)
        prefix = slot_prefix(table.slot)

        def body(txn, pf, meta) -> bytes | None:
            cur = txn.cursor()
            if not cur.set_range(prefix + typed.start):
                return None
            k = cur.key()
            return k[2:] if k[:2] == prefix else None

        found = ins.read(body)
        return keys.KeySeek(typed, found, found is not None and typed.covers(found))

    def iter_records(self, ins: Inspector, table: Table, from_key: str | None,
                     limit: int | None, batch: int = 1000) -> Iterator[Record]:
        """All (or ``limit``) records with their full values, a short transaction per batch."""
        if from_key:
            self.profiled(ins, table)  # the key layout, for what a typed key can mean
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
        end = slot_end(table.slot)

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


def _has_before(cur, prefix: bytes, key: bytes) -> bool:
    if not cur.set_range(key):
        return False
    return cur.prev() and cur.key()[:2] == prefix


def _has_after(cur, prefix: bytes, key: bytes) -> bool:
    if not cur.set_range(key):
        return False
    return cur.next() and cur.key()[:2] == prefix
