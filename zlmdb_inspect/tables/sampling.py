"""Sampling: each table's codec learnt from a sample (first page, last page, random positions),
statistics of the sample for the health rules, and index drift (entries pointing at missing
records). Part of :class:`zlmdb_inspect.tables.catalog.TableCodecs`."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from zlmdb_inspect.core.kinds import Direction, ErrorKind
from zlmdb_inspect.core.model import Snapshot, Table
from zlmdb_inspect.core.options import Options
from zlmdb_inspect.core.slots import slot_end, slot_prefix
from zlmdb_inspect.tables.records import PREVIEW_BYTES, Codec, Record, RecordWindow, TableProfile

if TYPE_CHECKING:
    from zlmdb_inspect.storage.inspector import Inspector


class Sampler:
    """Sampling: mixed into the catalog, which provides ``codec`` and ``_note``; reads windows
    through :class:`zlmdb_inspect.tables.windows.WindowReader`."""

    if TYPE_CHECKING:  # what the catalog (:class:`zlmdb_inspect.tables.catalog.TableCodecs`) provides
        opts: Options
        _lock: threading.RLock
        _learning: threading.Lock

        def codec(self, table: Table) -> Codec:
            raise NotImplementedError

        def _note(self, table: Table, records: list[Record]) -> None:
            raise NotImplementedError

        def read_window(self, ins: Inspector, table: Table, anchor: bytes | None, direction: Direction,
                        n: int, text_filter: str | None = None, scan_limit: int = 20000,
                        preview: int | None = PREVIEW_BYTES) -> RecordWindow:
            raise NotImplementedError

    def profiled(self, ins: Inspector, table: Table) -> Codec:
        """The table's codec, with its profile learnt from a sample first if it has none."""
        codec = self.codec(table)
        if codec.profile is None and table.slot:
            with self._learning:  # one worker learns it; others wait rather than sample again (codec() never)
                if codec.profile is None:
                    self.learn(ins, table)
        return codec

    def learn(self, ins: Inspector, table: Table, n: int | None = None) -> tuple[TableProfile, list[Record]]:
        """Sample ``table`` (first page, last page, random positions), settle its codec, and
        return the profile with the sampled records decoded by it."""
        codec = self.codec(table)
        triples, where = self._sample_raw(ins, table, n or self.opts.sample)
        prof, fitted = codec.learn([(k[2:], v if size <= PREVIEW_BYTES else None) for k, v, size in triples], where)
        # each sampled key and value as the adopted codecs read them while learning: not read again
        recs = [codec.decode(k, v, PREVIEW_BYTES, fit, size) for (k, v, size), fit in zip(triples, fitted, strict=True)]
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
            end = slot_end(table.slot)
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
