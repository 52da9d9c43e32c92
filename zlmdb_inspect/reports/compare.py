"""``--compare OTHER`` (text or ``--json``; exit 0 identical, 1 not) and ``--json --checksum``.

Thin clients of the service; no Textual, no Rich. Names and keys come from the databases:
text lines pass through ``safe`` (control characters escaped), JSON through ``json_visible``.
"""

from __future__ import annotations

from zlmdb_inspect.core.errors import InspectError
from zlmdb_inspect.core.options import Options
from zlmdb_inspect.core.textsafe import safe
from zlmdb_inspect.reports.document import refresh_dict, to_json
from zlmdb_inspect.service import open_service
from zlmdb_inspect.service.compare import CompareResult, TableComparison, same_file

EXIT_SAME, EXIT_DIFFERENT = 0, 1
_KIND = {"changed": "changed", "only_in_a": "only in A", "only_in_b": "only in B"}


def compare_dict(res: CompareResult, checksums: bool) -> dict:
    """``{"identical", "tables": [{"name", "slot", "changed", "only_in_a", "only_in_b", "first_keys"}], …}``."""
    tables = []
    for t in res.tables:
        row: dict = {"name": t.name, "slot": t.slot, "records_a": t.records_a, "records_b": t.records_b,
                     "changed": t.changed, "only_in_a": t.only_in_a, "only_in_b": t.only_in_b,
                     "first_keys": t.first_keys}
        if checksums:
            row["checksum"] = {"a": t.checksum_a, "b": t.checksum_b}
        tables.append(row)
    return {"identical": res.identical, "same_file": res.same_file,
            "a": {"path": res.path_a, "format": res.format_a or None, "page_size": res.page_size_a or None,
                  "txnids": res.txnids_a, "records": res.records_a},
            "b": {"path": res.path_b, "format": res.format_b or None, "page_size": res.page_size_b or None,
                  "txnids": res.txnids_b, "records": res.records_b},
            "leaves_equal": res.leaves_equal, "records_merged": res.records_merged, "chunks": res.chunks,
            "elapsed_s": round(res.elapsed, 3), "tables": tables}


def _how(t: TableComparison) -> str:
    if t.records_a is None:
        return f"only in B ({t.records_b:,} records)"
    if t.records_b is None:
        return f"only in A ({t.records_a:,} records)"
    return f"{t.changed:,} changed, {t.only_in_a:,} only in A, {t.only_in_b:,} only in B"


def _snapshots(txnids: list[int]) -> str:
    if len(txnids) == 1:
        return f"txnid {txnids[0]}"
    return f"txnids {txnids[0]}..{txnids[-1]} (changed while read: each chunk read the snapshot of its moment)"


def compare_lines(res: CompareResult) -> list[str]:
    """The text report: a verdict, each differing table with its first keys, and how both were read."""
    if res.same_file:
        return [safe(f"identical: {res.path_a} and {res.path_b} are the same data.mdb (nothing compared)")]
    differing = [t for t in res.tables if t.differs]
    lines = []
    if not differing:
        n = len(res.tables)
        lines.append(f"identical: {n} table{'s' if n != 1 else ''}, {res.records_a:,} records hold the same keys "
                     "and values")
    else:
        lines.append(f"different: {len(differing)} of {len(res.tables)} tables differ")
        for t in differing:
            lines.append(safe(f"  {t.label()} (slot {t.slot}): {_how(t)}"))
            for k in t.first_keys:
                lines.append(safe(f"    {_KIND[k['difference']]}: {k['key']}"))
    lines.append(safe(f"A: {res.path_a} ({res.format_a}, page size {res.page_size_a}, {_snapshots(res.txnids_a)})"))
    lines.append(safe(f"B: {res.path_b} ({res.format_b}, page size {res.page_size_b}, {_snapshots(res.txnids_b)})"))
    return lines


def run_compare(opts: Options, other: str, table: str | None, as_json: bool, checksums: bool) -> int:
    """Exit 0 when every table (or ``table``) holds the same records, 1 when not."""
    try:
        same = same_file(opts.path, other)
    except InspectError as e:
        raise InspectError(f"--compare {e}" if not str(e).startswith(opts.path) else str(e)) from None
    if same:
        res = CompareResult(opts.path, other, same_file=True)
        print(to_json(compare_dict(res, checksums)) if as_json else "\n".join(compare_lines(res)))
        return EXIT_SAME
    a = open_service(opts)
    try:
        try:
            b = open_service(Options(path=other, imports=opts.imports, fbs=opts.fbs, fbs_types=opts.fbs_types,
                                     allow_pickle=opts.allow_pickle))
        except InspectError as e:
            raise InspectError(f"--compare {e}") from None
        try:
            res = a.compare(b, table, checksums)
        finally:
            b.close()
    finally:
        a.close()
    if as_json:
        print(to_json(compare_dict(res, checksums)))
    else:
        print("\n".join(compare_lines(res)))
    return EXIT_SAME if res.identical else EXIT_DIFFERENT


def run_checksum(opts: Options, table: str | None) -> int:
    """``--json --checksum`` on one database: the report, each table with ``checksum``."""
    service = open_service(opts)
    try:
        ref = service.refresh()
        sums = {t.slot: s for t, s in service.checksums(table)}
    finally:
        service.close()
    doc = refresh_dict(ref, live=False)
    for row in doc.get("tables", []):
        if row.get("slot") in sums:
            row["checksum"] = sums[row["slot"]]
    print(to_json(doc))
    return 0
