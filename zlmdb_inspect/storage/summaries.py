"""Subtree summaries as columns: what a state file hands the next run's walk (LMDB 1.0).

A 10M-record tree has ~6,000 branch pages, and a run after a few hundred commits finds nearly
all of them unchanged. As :class:`~zlmdb_inspect.storage.walk.TreeSummary` objects they cost a
one-shot run more than the walk itself (JSON lists parsed and checked one by one, an object and a
dict of slots per page, a CRC of every page up front, the same again to save). Kept here as numpy
columns, a run decodes them in a few array operations, checks a page's CRC only when the walk
reaches that page, merges the reused ones by array sums, and writes back the rows it did not
touch as they were.

Rows are looked up by (page number, page txnid); a row is used only after the page's bytes
match its CRC-32 (a backup restored over the same file holds other pages under the same
numbers and txnids), or once the root page of the walk the rows come from (``witness``) is found
in the file as it was: that file's history passed through that tree. The checks of
:meth:`PackedSummaries.check` are those the state file's reader made of each summary, over whole
columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from zlmdb_inspect.core.slots import MAX_SLOT
from zlmdb_inspect.core.times import HOUR_NS, TIME_MAX_NS, TIME_MIN_NS
from zlmdb_inspect.storage.arrays import find_keys, has_repeats, isin, key_index, ranges, repeated_keys, unique_inverse
from zlmdb_inspect.storage.pageformat import SHORT_KEY_SLOT
from zlmdb_inspect.storage.walk import UNTIMED, SlotSpace, TreeSummary, time_rows

#: Columns of ``head`` and of ``slot_ints`` (``slot_leaf`` holds SlotSpace.leaf_pages, a float).
HEAD = ("branch_pages", "leaf_pages", "overflow_pages", "entries", "leaf_free_bytes")
SLOT_INTS = ("slot", "records", "overflow_pages", "overflow_bytes", "value_bytes", "max_value")
#: name -> (dtype, columns; 0: one-dimensional). What a file may hold, whatever it claims.
COLUMNS: dict[str, tuple[str, int]] = {
    "keys": ("<i8", 2), "parents": ("<i8", 2), "crcs": ("<i8", 0), "head": ("<i8", len(HEAD)),
    "slot_at": ("<i8", 0), "slot_ints": ("<i8", len(SLOT_INTS)), "slot_leaf": ("<f8", 0),
    "tslot_at": ("<i8", 0), "tslots": ("<i8", 0), "time_at": ("<i8", 0), "times": ("<f8", 4),
}
_I64_MAX = (1 << 63) - 1
_FIGURE_MAX = 1 << 52  # pages, records and bytes of any real file are below this: sums of rows cannot wrap


def _offsets(lens: list[int]) -> np.ndarray:
    out = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=out[1:])
    return out


@dataclass
class PackedSummaries:
    """Summaries keyed (page number, page txnid), each with its page's CRC-32, as columns.

    Row ``i``'s slot rows are ``slot_ints[slot_at[i]:slot_at[i+1]]`` (and ``slot_leaf``), its time
    slots ``tslots[tslot_at[i]:tslot_at[i+1]]`` (sorted), its time rows (slot, hour, records,
    bytes) ``times[time_at[i]:time_at[i+1]]``.
    """

    keys: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    # the key of the page above each row's page when last walked ((0, 0): the root): the rows below a
    # reused summary are still valid though the walk does not look them up
    parents: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    crcs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    head: np.ndarray = field(default_factory=lambda: np.zeros((0, len(HEAD)), dtype=np.int64))
    slot_at: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    slot_ints: np.ndarray = field(default_factory=lambda: np.zeros((0, len(SLOT_INTS)), dtype=np.int64))
    slot_leaf: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    tslot_at: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    tslots: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    time_at: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    times: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), dtype=np.float64))
    # not stored: rows whose page this process found holding their CRC (checked once)
    verified: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # (page number, txnid, CRC-32) of the main tree's root in the walk these rows come from (every row is a
    # page of that tree): where the file still holds that page, the file's history passed through that tree,
    # and every row found under its number and txnid holds what it held then (see Inspector.adopt_summaries)
    witness: tuple[int, int, int] | None = None
    _index: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _tmatch: tuple[frozenset[int], np.ndarray] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.keys)

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def pack(cls, entries: Iterable[tuple[tuple[int, int], int, TreeSummary]],
             parents: dict[tuple[int, int], tuple[int, int]] | None = None) -> PackedSummaries:
        """Columns of ``(key, crc, summary)`` rows, with each one's parent from ``parents``
        (summaries naming sub-databases are not kept: their records are walked again)."""
        parents = parents or {}
        keys: list[tuple[int, int]] = []
        ups: list[tuple[int, int]] = []
        crcs: list[int] = []
        head: list[tuple[int, ...]] = []
        slot_lens: list[int] = []
        slot_ints: list[tuple[int, ...]] = []
        slot_leaf: list[float] = []
        ts_lens: list[int] = []
        tslots: list[int] = []
        time_lens: list[int] = []
        times: list[np.ndarray] = []
        for key, crc, s in entries:
            if s.named_dbs:
                continue
            keys.append(key)
            ups.append(parents.get(key, (0, 0)))
            crcs.append(crc)
            head.append((s.branch_pages, s.leaf_pages, s.overflow_pages, s.entries, s.leaf_free_bytes))
            slot_lens.append(len(s.slots))
            for slot, sp in sorted(s.slots.items()):
                slot_ints.append((slot, sp.records, sp.overflow_pages, sp.overflow_bytes, sp.value_bytes,
                                  sp.max_value))
                slot_leaf.append(sp.leaf_pages)
            ts_lens.append(len(s.time_slots))
            tslots.extend(sorted(s.time_slots))
            rows = _summed_time_rows(s) if s.time_slots else None
            time_lens.append(0 if rows is None else len(rows))
            if rows is not None and len(rows):
                times.append(rows)
        n = len(keys)
        return cls(keys=np.array(keys, dtype=np.int64).reshape(n, 2),
                   parents=np.array(ups, dtype=np.int64).reshape(n, 2), crcs=np.array(crcs, dtype=np.int64),
                   head=np.array(head, dtype=np.int64).reshape(n, len(HEAD)), slot_at=_offsets(slot_lens),
                   slot_ints=np.array(slot_ints, dtype=np.int64).reshape(-1, len(SLOT_INTS)),
                   slot_leaf=np.array(slot_leaf, dtype=np.float64), tslot_at=_offsets(ts_lens),
                   tslots=np.array(tslots, dtype=np.int64), time_at=_offsets(time_lens),
                   times=np.concatenate(times).astype(np.float64) if times else np.zeros((0, 4)),
                   verified=np.zeros(n, dtype=bool))

    @classmethod
    def from_columns(cls, cols: dict[str, np.ndarray]) -> PackedSummaries:
        """From the columns of a file (:data:`COLUMNS`); :meth:`check` them before use."""
        return cls(keys=cols["keys"], parents=cols["parents"].copy(), crcs=cols["crcs"], head=cols["head"],
                   slot_at=cols["slot_at"],
                   slot_ints=cols["slot_ints"], slot_leaf=cols["slot_leaf"], tslot_at=cols["tslot_at"],
                   tslots=cols["tslots"], time_at=cols["time_at"], times=cols["times"],
                   verified=np.zeros(len(cols["keys"]), dtype=bool))

    def columns(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in COLUMNS}

    def select(self, rows: np.ndarray) -> PackedSummaries:
        """The rows ``rows`` (sorted indices), as a new set."""
        rows = np.asarray(rows, dtype=np.int64)

        def part(at: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            lo, hi = at[rows], at[rows + 1]
            return _offsets((hi - lo).tolist()), data[ranges(lo, hi)]

        slot_at, idx = part(self.slot_at, np.arange(len(self.slot_ints)))
        tslot_at, tslots = part(self.tslot_at, self.tslots)
        time_at, times = part(self.time_at, self.times)
        return PackedSummaries(self.keys[rows], self.parents[rows], self.crcs[rows], self.head[rows], slot_at,
                               self.slot_ints[idx], self.slot_leaf[idx], tslot_at, tslots, time_at, times,
                               self.verified[rows].copy())

    @staticmethod
    def concat(parts: list[PackedSummaries]) -> PackedSummaries:
        parts = [p for p in parts if len(p)]
        if not parts:
            return PackedSummaries()
        if len(parts) == 1:
            return parts[0]

        def at(name: str, data: str) -> np.ndarray:
            out, base = [np.zeros(1, dtype=np.int64)], 0
            for p in parts:
                out.append(getattr(p, name)[1:] + base)
                base += len(getattr(p, data))
            return np.concatenate(out)

        return PackedSummaries(
            np.concatenate([p.keys for p in parts]), np.concatenate([p.parents for p in parts]),
            np.concatenate([p.crcs for p in parts]),
            np.concatenate([p.head for p in parts]), at("slot_at", "slot_ints"),
            np.concatenate([p.slot_ints for p in parts]), np.concatenate([p.slot_leaf for p in parts]),
            at("tslot_at", "tslots"), np.concatenate([p.tslots for p in parts]), at("time_at", "times"),
            np.concatenate([p.times for p in parts]), np.concatenate([p.verified for p in parts]))

    def only(self, seen: set[tuple[int, int]]) -> PackedSummaries | None:
        """The rows whose key is in ``seen`` (None when none is)."""
        return self.only_rows(self.rows_in(seen))

    def only_rows(self, rows: np.ndarray) -> PackedSummaries | None:
        """The rows ``rows`` (sorted indices; None when there are none)."""
        if len(rows) == len(self.keys):
            return self
        return self.select(rows) if len(rows) else None

    def without(self, keys: set[tuple[int, int]]) -> PackedSummaries:
        """The rows whose key is not in ``keys``."""
        drop = self.rows_in(keys)
        if not len(drop):
            return self
        keep = np.ones(len(self.keys), dtype=bool)
        keep[drop] = False
        return self.select(np.flatnonzero(keep))

    # -- lookups ----------------------------------------------------------------------------
    # By binary search over the keys in order, not a dict of every row: a run from a state file
    # looks up thousands of keys at once, and building a dict of ~6,000 tuples (twice: the walk
    # keeps a subset) cost more than the lookups.

    def _sorted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows in key order, and their page numbers and txnids in that order (built once)."""
        if self._index is None:
            self._index = key_index(self.keys)
        return self._index

    def find(self, pgnos: np.ndarray, txnids: np.ndarray) -> np.ndarray:
        """The row of each key (``pgnos[i]``, ``txnids[i]``), -1 where there is none (keys are
        unique: :meth:`check`)."""
        return find_keys(self._sorted(), pgnos, txnids)

    def rows_in(self, keys: set[tuple[int, int]]) -> np.ndarray:
        """The rows (sorted) whose key is in ``keys``."""
        if not keys or not len(self.keys):
            return np.zeros(0, dtype=np.int64)
        q = np.array([k for k in keys if 0 <= k[0] <= _I64_MAX and 0 <= k[1] <= _I64_MAX],
                     dtype=np.int64).reshape(-1, 2)  # (a key beyond int64 is in no row)
        rows = self.find(q[:, 0], q[:, 1])
        return np.sort(rows[rows >= 0])

    def row(self, key: tuple[int, int]) -> int | None:
        if not all(0 <= k <= _I64_MAX for k in key):  # no row holds it (keys are int64)
            return None
        r = int(self.find(np.array([key[0]], dtype=np.int64), np.array([key[1]], dtype=np.int64))[0])
        return r if r >= 0 else None

    def time_match(self, time_slots: frozenset[int]) -> np.ndarray:
        """Per row: whether it was walked for exactly ``time_slots`` (a hit must be)."""
        if self._tmatch is not None and self._tmatch[0] == time_slots:
            return self._tmatch[1]
        want = np.array(sorted(time_slots), dtype=np.int64)
        lens = np.diff(self.tslot_at)
        ok = lens == len(want)
        if len(want) and ok.any():
            rows = np.nonzero(ok)[0]
            got = self.tslots[ranges(self.tslot_at[rows], self.tslot_at[rows + 1])].reshape(len(rows), len(want))
            ok[rows] = (got == want).all(axis=1)
        self._tmatch = (time_slots, ok)
        return ok

    def usable(self, crc_of: Callable[[np.ndarray], np.ndarray], rows: list[int],
               time_slots: frozenset[int]) -> list[bool]:
        """Per row (whose page the walk found holding the row's number and txnid, a branch page):
        whether its page's bytes still have its CRC (``crc_of(page numbers)``) and it was walked
        for ``time_slots``. A row found good once is not checked again (a written 1.0 page never
        changes)."""
        if not rows:
            return []
        r = np.array(rows, dtype=np.int64)
        ok = self.time_match(time_slots)[r]
        need = ok & ~self.verified[r]
        if need.any():
            idx = r[need]
            good = np.asarray(crc_of(self.keys[idx, 0]), dtype=np.int64) == self.crcs[idx]
            self.verified[idx[good]] = True
            ok[np.nonzero(need)[0][~good]] = False
        return ok.tolist()

    def summary(self, i: int) -> TreeSummary:
        """Row ``i`` as a summary (for the few pages above the bottom branch level)."""
        h = self.head[i].tolist()
        out = TreeSummary(branch_pages=h[0], leaf_pages=h[1], overflow_pages=h[2], entries=h[3],
                          leaf_free_bytes=h[4])
        lo, hi = int(self.slot_at[i]), int(self.slot_at[i + 1])
        for row, leaf in zip(self.slot_ints[lo:hi].tolist(), self.slot_leaf[lo:hi].tolist()):
            out.slots[row[0]] = SlotSpace(row[1], leaf, row[2], row[3], row[4], row[5])
        out.time_slots = frozenset(self.tslots[self.tslot_at[i]:self.tslot_at[i + 1]].tolist())
        t = self.times[self.time_at[i]:self.time_at[i + 1]]
        out.times = [t] if len(t) else []
        return out

    def merge_into(self, rows: np.ndarray, out: TreeSummary) -> None:
        """Add rows ``rows`` to ``out`` (what :meth:`TreeSummary.merge_many` does, by columns)."""
        if not len(rows):
            return
        h = self.head[rows].sum(axis=0).tolist()
        out.branch_pages += h[0]
        out.leaf_pages += h[1]
        out.overflow_pages += h[2]
        out.entries += h[3]
        out.leaf_free_bytes += h[4]
        idx = ranges(self.slot_at[rows], self.slot_at[rows + 1])
        if len(idx):
            ints, leaf = self.slot_ints[idx], self.slot_leaf[idx]
            slots, inv = unique_inverse(ints[:, 0])
            m = len(slots)
            sums = np.zeros((m, 4), dtype=np.int64)
            np.add.at(sums, inv, ints[:, 1:5])
            mx = np.zeros(m, dtype=np.int64)
            np.maximum.at(mx, inv, ints[:, 5])
            lp = np.bincount(inv, weights=leaf, minlength=m)
            for slot, s, lpg, mv in zip(slots.tolist(), sums.tolist(), lp.tolist(), mx.tolist()):
                mine = out.slots.get(slot)
                if mine is None:
                    mine = out.slots[slot] = SlotSpace()
                mine.add(SlotSpace(s[0], lpg, s[1], s[2], s[3], mv))
        t = self.times[ranges(self.time_at[rows], self.time_at[rows + 1])]
        if len(t):
            out.times.append(t)

    # -- checks of a file's columns -----------------------------------------------------------

    def check(self) -> None:
        """Every row as the state file's reader must find it; ValueError (one line) on the first doubt."""
        n = len(self.keys)
        for name, (_, cols) in COLUMNS.items():
            a = getattr(self, name)
            if a.ndim != (2 if cols else 1) or (cols and a.shape[1] != cols):
                raise ValueError(f"summary column {name} has shape {a.shape}")
        if len(self.crcs) != n or len(self.head) != n or len(self.parents) != n:
            raise ValueError("summary columns of different lengths")
        for at, data, what in ((self.slot_at, self.slot_ints, "slot"), (self.tslot_at, self.tslots, "time slot"),
                               (self.time_at, self.times, "time row")):
            if len(at) != n + 1 or at[0] != 0 or at[-1] != len(data) or (np.diff(at) < 0).any():
                raise ValueError(f"the summaries' {what} offsets are inconsistent")
        if len(self.slot_leaf) != len(self.slot_ints):
            raise ValueError("summary columns of different lengths")
        if n and ((self.keys[:, 0] < 2).any() or (self.keys[:, 1] < 0).any()):
            raise ValueError("a summary names page 0 or 1, or a negative txnid")
        self._index = key_index(self.keys)  # sorted afresh (the order kept for find())
        if repeated_keys(self._index):
            raise ValueError("two summaries name the same page and txnid")
        if (self.parents < 0).any():
            raise ValueError("a summary's parent page is negative")
        if ((self.crcs < 0) | (self.crcs > 0xFFFFFFFF)).any():
            raise ValueError("a summary's CRC is not 32 bits")
        if (self.head < 0).any() or (self.head > _FIGURE_MAX).any():
            raise ValueError("a summary holds a negative or impossible count")
        owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.slot_at))
        si = self.slot_ints
        if len(si):
            if ((si[:, 0] < SHORT_KEY_SLOT) | (si[:, 0] > MAX_SLOT)).any():
                raise ValueError("a summary's slot is out of range")
            if (si[:, 1:] < 0).any() or (si[:, 1:] > _FIGURE_MAX).any() or not np.isfinite(self.slot_leaf).all() \
                    or (self.slot_leaf < 0).any() or (self.slot_leaf > _FIGURE_MAX).any():
                raise ValueError("a summary's slot holds a negative or impossible figure")
            pair = owner * (MAX_SLOT + 2) + (si[:, 0] - SHORT_KEY_SLOT)
            if has_repeats(pair):
                raise ValueError("a summary lists a slot twice")
        records = np.bincount(owner, weights=si[:, 1].astype(np.float64), minlength=n) if n else np.zeros(0)
        if (np.abs(records - self.head[:, 3]) > 0.5).any():
            raise ValueError("a summary's slots' records do not add up to its entries")
        leaf = np.bincount(owner, weights=self.slot_leaf, minlength=n) if n else np.zeros(0)
        if (leaf > self.head[:, 1] + 1e-6 * np.maximum(1, self.head[:, 1])).any():
            raise ValueError("a summary's slots hold more leaf pages than it has")
        self._check_times(n, owner)

    def _check_times(self, n: int, slot_owner: np.ndarray) -> None:
        """Time slots in range and unique per row; time rows of one of their row's time slots, an
        hour of 2000..2262 or UNTIMED, at least one record, bytes finite and not negative, no more
        records per slot than the row counts in it."""
        ts = self.tslots
        towner = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.tslot_at))
        if len(ts):
            if ((ts < 0) | (ts > MAX_SLOT)).any():
                raise ValueError("a summary's time slot is out of range")
            if has_repeats(towner * (MAX_SLOT + 1) + ts):
                raise ValueError("a summary's time slots are repeated")
        t = self.times
        if not len(t):
            return
        if not np.isfinite(t).all() or (t != np.floor(t))[:, :3].any():
            raise ValueError("a summary's time row is not whole numbers")
        owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.time_at))
        slot, hour, records, nbytes = t[:, 0], t[:, 1], t[:, 2], t[:, 3]
        if ((slot < 0) | (slot > MAX_SLOT)).any():
            raise ValueError("a summary's time row has a slot out of range")
        pair = owner * (MAX_SLOT + 1) + slot.astype(np.int64)
        if not isin(pair, towner * (MAX_SLOT + 1) + ts).all():
            raise ValueError("a summary has a time row of a slot it was not walked for")
        hour_max = TIME_MAX_NS // HOUR_NS - 1
        ok_hour = (hour == UNTIMED) | ((hour >= TIME_MIN_NS // HOUR_NS) & (hour <= hour_max))
        if not ok_hour.all():
            raise ValueError("a summary has a time row of an impossible hour")
        if (records < 1).any() or (records > _I64_MAX).any() or (nbytes < 0).any():
            raise ValueError("a summary's time row holds an impossible count")
        # records per (row, slot) against the row's count of that slot
        have = {}
        if len(self.slot_ints):
            spair = slot_owner * (MAX_SLOT + 2) + (self.slot_ints[:, 0] - SHORT_KEY_SLOT)
            have = dict(zip(spair.tolist(), self.slot_ints[:, 1].tolist()))
        tpair = owner * (MAX_SLOT + 2) + (slot.astype(np.int64) - SHORT_KEY_SLOT)
        uniq, inv = unique_inverse(tpair)
        sums = np.bincount(inv, weights=records)
        for p, total in zip(uniq.tolist(), sums.tolist()):
            if total > have.get(p, 0):
                raise ValueError("a summary's time rows hold more records of a slot than it counts")


def _summed_time_rows(t: TreeSummary) -> np.ndarray | None:
    """A summary's time rows, each (slot, hour) summed where rows follow each other (a subtree's
    rows are its children's: without this a tree's rows are kept once per level); rows without
    records dropped."""
    if not t.times:
        return None
    a = np.concatenate(t.times) if len(t.times) > 1 else t.times[0]
    a = a[a[:, 2] > 0]
    if not len(a):
        return None
    return time_rows(a[:, 0], a[:, 1], a[:, 2], a[:, 3])
