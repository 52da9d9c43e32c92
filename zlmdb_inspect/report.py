"""The report modes' output: JSON document, Nagios check lines, Prometheus text."""

from __future__ import annotations

import json
import math
from typing import Any

from zlmdb_inspect.health import Warning, worst
from zlmdb_inspect.model import Snapshot
from zlmdb_inspect.textsafe import json_visible, safe, visible


def report_dict(snap: Snapshot, warnings: list[Warning], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    d = snap.to_dict()
    d["warnings"] = [w.to_dict() for w in warnings]
    d["status"] = worst(warnings)
    if extra:
        d.update(extra)
    return d


def to_json(doc: dict[str, Any], indent: int | None = 2) -> str:
    # valid JSON with no raw DEL, C1 or bidi control from the data (json.dumps escapes C0 itself)
    return json_visible(json.dumps(doc, indent=indent, ensure_ascii=False, default=str, allow_nan=False))


def check_lines(snap: Snapshot, warnings: list[Warning], thresholds=None) -> list[str]:
    """Nagios/Icinga plugin output: a status line with performance data, then one line per warning."""
    from zlmdb_inspect.health import Thresholds

    th = thresholds or Thresholds()
    status = worst(warnings).upper()
    cap = snap.capacity
    counts = {s: sum(1 for w in warnings if w.severity == s) for s in ("critical", "warning", "info")}
    perf = (f"used_pct={cap.used_pct:.2f}%;{th.map_used_warning_pct:g};{th.map_used_critical_pct:g};0;100 "
            f"headroom_bytes={cap.headroom_bytes}B;;;0;{cap.map_size} "
            f"free_pages={'U' if cap.free_pages is None else cap.free_pages} readers={len(snap.readers)} "
            f"last_txnid={snap.lmdb.last_txnid}c")
    head = (f"ZLMDB {status} - {snap.path}: {cap.used_pct:.1f}% of map used, "
            f"{counts['critical']} critical, {counts['warning']} warning{'' if counts['warning'] == 1 else 's'}, "
            f"{counts['info']} info | {perf}")
    # table names and paths may hold control characters: escaped, so no line drives a terminal
    return [safe(head)] + [safe(f"{w.severity.upper()}: [{w.id}] {w.message}") for w in warnings]


def _label(v: Any) -> str:
    """A label value: control characters written visibly (``\\x1b`` once parsed), then Prometheus escapes."""
    return visible(v).replace("\\", "\\\\").replace('"', '\\"')


def prometheus_text(snap: Snapshot, warnings: list[Warning]) -> str:
    """Prometheus text exposition format (for node_exporter's textfile collector)."""
    lines: list[str] = []
    path = _label(snap.path)

    def metric(name: str, kind: str, help_: str, samples: list[tuple[dict[str, Any], float]]) -> None:
        lines.append(f"# HELP zlmdb_{name} {help_}")
        lines.append(f"# TYPE zlmdb_{name} {kind}")
        for labels, value in samples:
            all_labels = {"path": path, **{k: _label(v) for k, v in labels.items()}}
            lab = ",".join(f'{k}="{v}"' for k, v in all_labels.items())
            val = "NaN" if value is None or (isinstance(value, float) and math.isnan(value)) else repr(value) if isinstance(value, float) else str(int(value))
            lines.append(f"zlmdb_{name}{{{lab}}} {val}")

    cap, env = snap.capacity, snap.lmdb
    metric("map_size_bytes", "gauge", "Map size set by the writer.", [({}, cap.map_size)])
    metric("used_bytes", "gauge", "High-water mark: (last_pgno + 1) * page size.", [({}, cap.used_bytes)])
    metric("headroom_bytes", "gauge", "Map size minus used bytes.", [({}, cap.headroom_bytes)])
    metric("used_ratio", "gauge", "Used bytes over map size.", [({}, round(cap.used_pct / 100.0, 6))])
    metric("file_size_bytes", "gauge", "Size of data.mdb.", [({}, cap.file_size)])
    metric("free_pages", "gauge", "Pages on LMDB's freelist.", [({}, cap.free_pages)])
    metric("page_size_bytes", "gauge", "LMDB page size.", [({}, env.page_size)])
    metric("entries", "gauge", "Entries in the main database.", [({}, env.entries)])
    metric("last_txnid", "counter", "Id of the last committed transaction.", [({}, env.last_txnid)])
    metric("table_records", "gauge", "Records per table (slot).",
           [({"table": t.name or f"slot-{t.slot}", "slot": t.slot}, t.records) for t in snap.tables])
    metric("table_bytes", "gauge", "Bytes of leaf and overflow pages per table (slot).",
           [({"table": t.name or f"slot-{t.slot}", "slot": t.slot}, t.bytes) for t in snap.tables])
    metric("readers", "gauge", "Reader slots in use.", [({}, len(snap.readers))])
    metric("max_readers", "gauge", "Reader slots available.", [({}, env.max_readers)])
    lag = max((r.lag for r in snap.readers if r.lag is not None and not r.own), default=0)
    metric("reader_max_lag_txns", "gauge", "Largest lag of a reader behind the last transaction.", [({}, lag)])
    metric("stale_readers", "gauge", "Reader slots whose process is not alive.",
           [({}, sum(1 for r in snap.readers if r.alive is False))])
    metric("warnings", "gauge", "Warnings by severity.",
           [({"severity": s}, sum(1 for w in warnings if w.severity == s)) for s in ("critical", "warning", "info")])
    metric("up", "gauge", "1 if the database could be inspected.", [({}, 1)])
    return "\n".join(lines) + "\n"


def prometheus_down(path: str) -> str:
    return (f"# HELP zlmdb_up 1 if the database could be inspected.\n# TYPE zlmdb_up gauge\n"
            f'zlmdb_up{{path="{_label(path)}"}} 0\n')
