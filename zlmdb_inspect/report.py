"""The report modes' output: JSON document, Nagios check lines, Prometheus text."""

from __future__ import annotations

import json
import math
from typing import Any

from zlmdb_inspect.findings import Finding
from zlmdb_inspect.fmt import fmt_bytes
from zlmdb_inspect.health import worst
from zlmdb_inspect.kinds import Severity
from zlmdb_inspect.model import Snapshot
from zlmdb_inspect.monitor import Eta
from zlmdb_inspect.options import Thresholds
from zlmdb_inspect.service import Refresh
from zlmdb_inspect.textsafe import json_visible, safe, visible


def report_dict(snap: Snapshot, warnings: list[Finding], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    d = snap.to_dict()
    d["warnings"] = [w.to_dict() for w in warnings]
    d["status"] = worst(warnings)
    if extra:
        d.update(extra)
    return d


def refresh_dict(ref: Refresh, live: bool) -> dict[str, Any]:
    """The ``--json`` document of a refresh; ``live`` (``--watch``) adds rates and time to full."""
    extra: dict[str, Any] = {"writer": ref.writer.to_json() if ref.writer is not None else None}
    if live:
        extra["batching"] = ref.batching.to_dict() if ref.batching is not None else None
        r = ref.rates
        extra["rates"] = {"txns_per_s": r.txns_per_s, "records_per_s": r.records_per_s,
                          "bytes_per_s": r.bytes_per_s, "file_bytes_per_s": r.file_bytes_per_s,
                          "window_s": r.window_s,
                          "tables_per_s": {str(k): round(v, 3) for k, v in r.tables_per_s.items()}}
        extra["eta_full_s"] = ref.eta_full_s
        if ref.eta is not None:
            extra["eta"] = {"state": ref.eta.state, "window_s": ref.eta.window_s,
                            "bytes_per_s": ref.eta.bytes_per_s, "pinned_share": ref.eta.pinned_share}
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


def check_lines(snap: Snapshot, warnings: list[Finding], thresholds: Thresholds | None = None) -> list[str]:
    """Nagios/Icinga plugin output: a status line with performance data, then one line per warning."""
    th = thresholds or Thresholds()
    status = worst(warnings).upper()
    cap = snap.capacity
    counts = {s: sum(1 for w in warnings if w.severity == s) for s in Severity}
    readers = other_readers(snap)
    perf = (f"used_pct={cap.used_pct:.2f}%;{th.map_used_warning_pct:g};{th.map_used_critical_pct:g};0;100 "
            f"available_bytes={cap.available_bytes}B;;;0;{cap.map_size} "
            f"headroom_bytes={cap.headroom_bytes}B;;;0;{cap.map_size} "
            f"map_size={cap.map_size}B map_size_meta={cap.map_size_meta}B "
            f"free_pages={'U' if cap.free_pages is None else cap.free_pages} "
            f"reusable_pages={'U' if cap.reusable_pages is None else cap.reusable_pages} "
            f"readers={'U' if readers is None else readers} "
            f"last_txnid={snap.lmdb.last_txnid}c")
    limit = cap.mismatch_text() or f"map {fmt_bytes(cap.map_size)} ({cap.limit_text()})"
    head = (f"ZLMDB {status} - {safe(snap.path)}: {cap.used_pct:.1f}% of map in use, "
            f"{fmt_bytes(cap.available_bytes)} available; {safe(limit)}; "
            f"{counts[Severity.CRITICAL]} critical, {counts[Severity.WARNING]} warning"
            f"{'' if counts[Severity.WARNING] == 1 else 's'}, {counts[Severity.INFO]} info | {perf}")
    return [head] + [f"{w.severity.upper()}: [{w.id}] {safe(w.message)}" for w in warnings]


def unknown_line(path: str | None, why: str) -> str:
    """The status line for a check that could not inspect the database (exit 3)."""
    return f"ZLMDB UNKNOWN - {safe(path or '(no path)')}: {safe(why)}"


def _label(v: Any) -> str:
    """A label value: control characters written visibly (``\\x1b`` once parsed), then Prometheus escapes."""
    return visible(v).replace("\\", "\\\\").replace('"', '\\"')


def _value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NaN"
    if isinstance(value, float) and math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value) if isinstance(value, float) else str(int(value))


def prometheus_text(snap: Snapshot, warnings: list[Finding], eta: Eta | None = None) -> str:
    """Prometheus text exposition format (for node_exporter's textfile collector).

    A figure that was not measured (reader table not read, no history for a time to full) is
    left out rather than shown as 0. ``eta`` is a :class:`monitor.Eta` when there is history.
    """
    lines: list[str] = []
    path = _label(snap.path)

    def metric(name: str, kind: str, help_: str, samples: list[tuple[dict[str, Any], Any]]) -> None:
        samples = [(lab, v) for lab, v in samples if v is not None]
        if not samples:
            return
        lines.append(f"# HELP zlmdb_{name} {help_}")
        lines.append(f"# TYPE zlmdb_{name} {kind}")
        for labels, value in samples:
            all_labels = {"path": path, **{k: _label(v) for k, v in labels.items()}}
            lab = ",".join(f'{k}="{v}"' for k, v in all_labels.items())
            lines.append(f"zlmdb_{name}{{{lab}}} {_value(value)}")

    cap, env = snap.capacity, snap.lmdb
    metric("map_size_bytes", "gauge",
           "Effective map size: the smallest map of a live process that can write, else the meta page's.",
           [({}, cap.map_size)])
    metric("map_size_meta_bytes", "gauge", "Map size stored in the meta page (the largest any writer set).",
           [({}, cap.map_size_meta)])
    metric("map_live_writer", "gauge", "1 if a live process that can write sets the map size, 0 if the meta page does.",
           [({}, 1 if cap.map_source == "writer" else 0)])
    metric("process_map_bytes", "gauge", "Length of each live process's mapping of data.mdb (/proc/PID/maps).",
           [({"pid": m["pid"], "process": m.get("name") or "", "writer": "1" if m.get("writable") else "0"},
             m["map_size"]) for m in cap.maps if m.get("map_size")])
    metric("used_bytes", "gauge", "High-water mark: (last_pgno + 1) * page size.", [({}, cap.used_bytes)])
    metric("in_use_bytes", "gauge", "High-water mark minus reusable free pages.", [({}, cap.in_use_bytes)])
    metric("available_bytes", "gauge", "Effective map size minus pages in use: room left before MapFullError.",
           [({}, cap.available_bytes)])
    metric("headroom_bytes", "gauge", "Effective map size minus the high-water mark.", [({}, cap.headroom_bytes)])
    metric("used_ratio", "gauge", "Pages in use over the effective map size.", [({}, round(cap.used_pct / 100.0, 6))])
    metric("file_size_bytes", "gauge", "Size of data.mdb.", [({}, cap.file_size)])
    metric("free_pages", "gauge", "Pages on LMDB's freelist.", [({}, cap.free_pages)])
    metric("reusable_pages", "gauge", "Free pages the writer can reuse now.", [({}, cap.reusable_pages)])
    metric("pinned_pages", "gauge", "Free pages the oldest reader's snapshot keeps from reuse.",
           [({}, cap.pinned_pages if env.locking else None)])
    if eta is not None and eta.state != "measuring":
        metric("time_to_full_seconds", "gauge", "Seconds until pages in use reach the map (+Inf: not growing).",
               [({}, float(eta.seconds) if eta.seconds is not None else math.inf)])
    metric("page_size_bytes", "gauge", "LMDB page size.", [({}, env.page_size)])
    metric("entries", "gauge", "Entries in the main database.", [({}, env.entries)])
    metric("last_txnid", "gauge", "Id of the last committed transaction.", [({}, env.last_txnid)])
    metric("transactions_total", "counter", "Write transactions committed (the last transaction id).",
           [({}, env.last_txnid)])
    metric("table_records", "gauge", "Records per table (slot).",
           [({"table": t.name or f"slot-{t.slot}", "slot": t.slot}, t.records) for t in snap.tables])
    metric("table_bytes", "gauge", "Bytes of leaf and overflow pages per table (slot).",
           [({"table": t.name or f"slot-{t.slot}", "slot": t.slot}, t.bytes) for t in snap.tables])
    readers = other_readers(snap)
    metric("readers", "gauge", "Reader slots in use by processes other than this inspector.", [({}, readers)])
    metric("max_readers", "gauge", "Reader slots available.", [({}, env.max_readers)])
    if readers is not None:
        others = [r for r in snap.readers if not r.own]
        lag = max((r.lag for r in others if r.lag is not None), default=0)
        metric("reader_max_lag_txns", "gauge", "Largest lag of a reader behind the last transaction.", [({}, lag)])
        held = [r.held_s for r in others if r.held_s is not None]
        metric("reader_longest_hold_seconds", "gauge", "Longest time a reader has held one snapshot (observed).",
               [({}, float(max(held)) if held else (0.0 if not others else None))])
        metric("stale_readers", "gauge", "Reader slots whose process is not alive.",
               [({}, sum(1 for r in snap.readers if r.alive is False))])
    metric("warnings", "gauge", "Warnings by severity.",
           [({"severity": s}, sum(1 for w in warnings if w.severity == s)) for s in Severity])
    active: dict[tuple, int] = {}
    for w in warnings:  # one series per (id, severity, subject); two damage findings count 2
        k = (w.id, w.severity, w.subject or "")
        active[k] = active.get(k, 0) + 1
    metric("warning", "gauge", "Active warnings (1 each) by rule id, severity and subject.",
           [({"id": i, "severity": sev, "subject": sub}, n) for (i, sev, sub), n in active.items()])
    metric("up", "gauge", "1 if the database could be inspected.", [({}, 1)])
    return "\n".join(lines) + "\n"


def prometheus_down(path: str) -> str:
    return (f"# HELP zlmdb_up 1 if the database could be inspected.\n# TYPE zlmdb_up gauge\n"
            f'zlmdb_up{{path="{_label(path)}"}} 0\n')
