"""``--compare`` and ``--checksum`` as plain data: two databases' tables compared record by record,
named from both catalogs, their first differing keys decoded as the record view decodes them."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from zlmdb_inspect.core.errors import InspectError
from zlmdb_inspect.core.model import Snapshot, Table
from zlmdb_inspect.core.slots import slot_range
from zlmdb_inspect.storage.inspector import Inspector, check_path
from zlmdb_inspect.storage.pageformat import PageError
from zlmdb_inspect.tables.compare import Checksums, Comparison, TableSum, checksums, compare

KeyText = Callable[[Table, bytes], str]  # a key after the slot prefix, as the record view shows it


@dataclass
class TableComparison:
    """One table (slot) of either database: its records on each side and what differs."""

    slot: int
    name: str | None
    records_a: int | None  # None: no such table in A
    records_b: int | None
    changed: int = 0
    only_in_a: int = 0
    only_in_b: int = 0
    first_keys: list[dict] = field(default_factory=list)  # {"key", "key_hex", "difference"}
    checksum_a: dict | None = None  # {"sha256", "records", "txnid", "txnids"}
    checksum_b: dict | None = None

    @property
    def differs(self) -> bool:
        return bool(self.changed or self.only_in_a or self.only_in_b)

    def label(self) -> str:
        return self.name or f"slot {self.slot}"


@dataclass
class CompareResult:
    """What ``--compare`` reports; ``same_file``: both paths are one data.mdb (nothing was read)."""

    path_a: str
    path_b: str
    same_file: bool = False
    tables: list[TableComparison] = field(default_factory=list)
    format_a: str = ""
    format_b: str = ""
    page_size_a: int = 0
    page_size_b: int = 0
    txnids_a: list[int] = field(default_factory=list)
    txnids_b: list[int] = field(default_factory=list)
    records_a: int = 0
    records_b: int = 0
    leaves_equal: int = 0
    records_merged: int = 0
    chunks: int = 0
    elapsed: float = 0.0

    @property
    def identical(self) -> bool:
        return self.same_file or not any(t.differs for t in self.tables)


@dataclass
class Side:
    """One database as the comparison needs it (the service hands its parts over)."""

    path: str
    inspector: Inspector
    snapshot: Snapshot
    resolve: Callable[[Snapshot, str], Table]
    key_text: KeyText


def same_file(path_a: str, path_b: str) -> bool:
    """Both paths are one ``data.mdb`` (LMDB opens an environment once per process: say so instead)."""
    return os.path.samefile(check_path(path_a)[1], check_path(path_b)[1])


def checked(path: str, snap: Snapshot) -> Snapshot:
    if snap.damaged:
        raise InspectError(f"{path}: the database is damaged ({snap.problems[0].message}); "
                           "records are not compared from a damaged tree")
    return snap


def _table_slot(a: Side, b: Side, ref: str) -> int:
    """The slot ``ref`` names on either side (the same on both where both have it)."""
    found: dict[str, Table] = {}
    errors = []
    for label, side in (("A", a), ("B", b)):
        try:
            found[label] = side.resolve(side.snapshot, ref)
        except InspectError as e:
            errors.append(f"{side.path}: {e}")
    if not found:
        raise InspectError(f"table {ref!r} is in neither database ({'; '.join(errors)})")
    slots = {t.slot for t in found.values()}
    if len(slots) > 1:
        raise InspectError(f"table {ref!r} is slot {found['A'].slot} in {a.path} but slot {found['B'].slot} in "
                           f"{b.path}: records are compared by their keys, which start with the slot")
    return slots.pop()


def _decoded(side: Side, table: Table, key: bytes) -> str:
    try:
        return side.key_text(table, key[2:])
    except Exception:  # noqa: BLE001 - a key no decoder reads is shown as hex
        return "hex:" + key[2:].hex()


def _sum_dict(sums: Checksums, slot: int) -> dict:
    ts = sums.sums.get(slot) or TableSum(slot)  # a slot with no records: the digest of nothing
    one = sums.txnids[0] if len(sums.txnids) == 1 else None
    return {"sha256": ts.hexdigest, "records": ts.records, "txnid": one, "txnids": list(sums.txnids)}


def run_compare(a: Side, b: Side, table: str | None = None, with_checksums: bool = False) -> CompareResult:
    """A against B (every table, or ``table``); ``InspectError`` when either cannot be read."""
    res = CompareResult(a.path, b.path)  # one file on both sides was told by same_file() before opening
    snap_a, snap_b = checked(a.path, a.snapshot), checked(b.path, b.snapshot)
    res.format_a, res.format_b = snap_a.lmdb.format, snap_b.lmdb.format
    res.page_size_a, res.page_size_b = snap_a.lmdb.page_size, snap_b.lmdb.page_size
    start, end = b"", None
    only: int | None = None
    if table is not None:
        only = _table_slot(a, b, table)
        start, end = slot_range(only)
    try:
        cmp: Comparison = compare(a.inspector, b.inspector, start, end)
    except PageError as e:
        raise InspectError(f"the records could not be read ({e}): a damaged database") from None
    res.txnids_a, res.txnids_b = cmp.txnids_a, cmp.txnids_b
    res.records_a, res.records_b = cmp.records_a, cmp.records_b
    res.leaves_equal, res.records_merged, res.chunks, res.elapsed = (cmp.leaves_equal, cmp.records_merged,
                                                                     cmp.chunks, cmp.elapsed)
    by_a = {t.slot: t for t in snap_a.tables}
    by_b = {t.slot: t for t in snap_b.tables}
    slots = [only] if only is not None else sorted(set(by_a) | set(by_b) | set(cmp.diffs))
    sums_a = sums_b = None
    if with_checksums:
        try:
            sums_a = checksums(a.inspector, start, end)
            sums_b = checksums(b.inspector, start, end)
        except PageError as e:
            raise InspectError(f"the records could not be read ({e}): a damaged database") from None
    for slot in slots:
        ta, tb = by_a.get(slot), by_b.get(slot)
        some = ta or tb or Table(slot=slot, oid=None, name=None, description=None, creator=None, records=0,
                                 metadata=False)
        row = TableComparison(slot, some.name, ta.records if ta else None, tb.records if tb else None)
        d = cmp.diffs.get(slot)
        if d is not None:
            row.changed, row.only_in_a, row.only_in_b = d.changed, d.only_in_a, d.only_in_b
            for kind, key in d.first:
                side, t = (b, tb or some) if kind == "only_in_b" else (a, ta or some)
                row.first_keys.append({"key": _decoded(side, t, key), "key_hex": key[2:].hex(),
                                       "difference": kind})
        if sums_a is not None and sums_b is not None:
            row.checksum_a, row.checksum_b = _sum_dict(sums_a, slot), _sum_dict(sums_b, slot)
        res.tables.append(row)
    return res


def run_checksums(side: Side, table: str | None = None) -> list[tuple[Table, dict]]:
    """Per table of one database (or ``table``): its checksum (see ``tables.compare.TableSum``)."""
    snap = checked(side.path, side.snapshot)
    start, end = b"", None
    tables = snap.tables
    if table is not None:
        t = side.resolve(snap, table)
        start, end = slot_range(t.slot)
        tables = [t]
    try:
        sums = checksums(side.inspector, start, end)
    except PageError as e:
        raise InspectError(f"{side.path}: the records could not be read ({e}): a damaged database") from None
    return [(t, _sum_dict(sums, t.slot)) for t in tables]
