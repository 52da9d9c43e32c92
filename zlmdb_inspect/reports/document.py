"""The report modes' output: JSON document and Nagios check lines (metrics: :mod:`zlmdb_inspect.reports.prometheus`)."""

from __future__ import annotations

import json
from typing import Any

from zlmdb_inspect.core.fmt import fmt_bytes, plain
from zlmdb_inspect.core.kinds import Severity
from zlmdb_inspect.core.model import Capacity, Snapshot
from zlmdb_inspect.core.options import Thresholds
from zlmdb_inspect.core.textsafe import json_visible, safe
from zlmdb_inspect.health import worst
from zlmdb_inspect.health.findings import Finding
from zlmdb_inspect.service import Refresh, TimeToFull, perfdata
from zlmdb_inspect.service.database import Rates


def report_dict(snap: Snapshot, warnings: list[Finding], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    d = snap.to_dict()
    d["warnings"] = [w.to_dict() for w in warnings]
    d["status"] = worst(warnings)
    if extra:
        d.update(extra)
    return d


def refresh_dict(ref: Refresh, live: bool) -> dict[str, Any]:
    """The ``--json`` document of a refresh; ``live`` (``--watch``) adds rates and time to full."""
    extra: dict[str, Any] = {"writer": ref.writer.to_json() if ref.writer is not None else None,
                             "read_bytes": ref.read_bytes}
    if ref.state is not None:  # state between runs: which file, how much history it gave, why it was ignored
        extra["state"] = ref.state
        if ref.state.get("note"):
            extra["notes"] = [ref.state["note"]]
    if live or ref.history:
        extra["batching"] = ref.batching.to_dict() if ref.batching is not None else None
        r = ref.rates
        extra["rates"] = {"txns_per_s": r.txns_per_s, "records_per_s": r.records_per_s,
                          "bytes_per_s": r.bytes_per_s, "file_bytes_per_s": r.file_bytes_per_s,
                          "window_s": r.window_s,
                          "tables_per_s": {str(k): round(v, 3) for k, v in r.tables_per_s.items()}}
        extra["eta_full_s"] = ref.eta.seconds if ref.eta is not None else None
        if ref.eta is not None:
            extra["eta"] = ref.eta.to_dict()
    if ref.verify_problems is not None:
        extra["verify"] = {"problems": ref.verify_problems, "ok": not ref.verify_problems}
    if ref.sampled:
        extra["sampled"] = ref.sampled
    return report_dict(ref.snapshot, ref.warnings, extra)


def to_json(doc: dict[str, Any], indent: int | None = 2) -> str:
    # valid JSON with no raw DEL, C1 or bidi control from the data (json.dumps escapes C0 itself)
    return json_visible(json.dumps(doc, indent=indent, ensure_ascii=False, default=str, allow_nan=False))


def other_readers(snap: Snapshot) -> int | None:
    """Reader slots of processes other than this inspector; None: the reader table was not read."""
    if not snap.lmdb.locking:
        return None
    return sum(1 for r in snap.readers if not r.own)


def _rate(v: float | None, unit: str = "") -> str:
    return "U" if v is None else f"{plain(round(v, 3))}{unit}"


def check_lines(snap: Snapshot, warnings: list[Finding], thresholds: Thresholds | None = None,
                eta: TimeToFull | None = None, rates: Rates | None = None, shared: str | None = None,
                state: dict | None = None) -> list[str]:
    """Nagios/Icinga plugin output: a status line with performance data, then one line per warning.
    ``rates``: over the history (earlier runs' state), None without one (perfdata ``U``). ``shared``: the
    volume's free bytes as several databases share them ("shares /srv (10.3 MiB free) with 2 other
    databases", a fleet report), said in place of this database's own share of them. ``state``: the
    refresh's state between runs; a save that failed is said in the status line (every run would
    say "measuring" and no rate or time to full would ever warn), its note as a last line."""
    th = thresholds or Thresholds()
    eta = eta or TimeToFull()
    status = worst(warnings).upper()
    cap = snap.capacity
    counts = {s: sum(1 for w in warnings if w.severity == s) for s in Severity}
    readers = other_readers(snap)
    perf = (f"used_pct={cap.used_pct:.2f}%;{plain(th.map_used_warning_pct)};{plain(th.map_used_critical_pct)};0;100 "
            f"available_bytes={cap.available_bytes}B;;;0;{cap.map_size} "
            f"headroom_bytes={cap.headroom_bytes}B;;;0;{cap.map_size} "
            f"map_size={cap.map_size}B map_size_meta={cap.map_size_meta}B "
            f"free_pages={'U' if cap.free_pages is None else cap.free_pages} "
            f"reusable_pages={'U' if cap.reusable_pages is None else cap.reusable_pages} "
            f"readers={'U' if readers is None else readers} "
            f"last_txnid={snap.lmdb.last_txnid}c "
            f"txns_per_s={_rate(rates.txns_per_s if rates else None)} "
            f"growth_bytes_per_s={_rate(rates.bytes_per_s if rates else None, 'B')} "
            f"{perfdata(eta, th.map_eta_warning_s, th.map_eta_critical_s)}"
            f"{_disk_perfdata(cap)}"
            # issue 23: growth from the records' own time (7 days), U without time-ordered tables or history
            f" growth_bytes_per_day={_rate(cap.growth.bytes_per_day if cap.growth else None, 'B')}")
    if cap.compact is not None:  # issue 29 item 4
        perf += (f" compact_copy_bytes={cap.compact['copy_bytes']}B"
                 f" compact_rewrite_bytes={cap.compact['rewrite_bytes']}B")
    limit = cap.mismatch_text() or f"map {fmt_bytes(cap.map_size)} ({cap.limit_text()})"
    available = fmt_bytes(cap.available_bytes)
    if cap.disk_text():  # issue 29: the volume allows less than the map
        limit = f"limit: {f'the disk — {shared}' if shared else cap.disk_text()}; {limit}"
    elif shared:
        available += f" ({shared})"
    unsaved = " (state not saved: no history for the next run)" if state and state.get("saved") is False else ""
    head = (f"ZLMDB {status} - {safe(snap.path)}: {cap.used_pct:.1f}% of map in use, "
            f"{safe(available)} available; {safe(limit)}; {eta.headline(cap.limit)}{unsaved}; "
            f"{counts[Severity.CRITICAL]} critical, {counts[Severity.WARNING]} warning"
            f"{'' if counts[Severity.WARNING] == 1 else 's'}, {counts[Severity.INFO]} info | {perf}")
    note = [f"NOTE: {safe(state['note'])}"] if state and state.get("note") else []
    return [head] + [f"{w.severity.upper()}: [{w.id}] {safe(w.message)}" for w in warnings] + note


def _disk_perfdata(cap: Capacity) -> str:
    """Issue 29: the volume's free bytes and the longest run of reusable pages a write finds."""
    fs = cap.filesystem
    free = "U" if fs is None else f"{fs['free_bytes']}B;;;0;{fs['size_bytes']}"
    run = "U" if cap.free_runs is None else str(cap.free_runs["largest_pages"])
    return f" fs_free_bytes={free} largest_free_run_pages={run}"


def unknown_line(path: str | None, why: str) -> str:
    """The status line for a check that could not inspect the database (exit 3)."""
    return f"ZLMDB UNKNOWN - {safe(path or '(no path)')}: {safe(why)}"
