"""Report modes over many databases: one JSON document, one Nagios check.

The per-database document and status line are the single-database ones (passed in as callables),
so a fleet report says of each database exactly what a run on that database alone says, except
where several databases share one volume: there the free bytes are the volume's, said once
("shares /srv (10.3 MiB free) with 2 other databases"), and the volume has its own findings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from zlmdb_inspect.core.kinds import Status
from zlmdb_inspect.core.textsafe import safe
from zlmdb_inspect.service.fleet import DatabaseResult, SharedVolume, status_of, volume_status, worst_status


def fleet_document(results: Sequence[DatabaseResult], doc_of: Callable[[DatabaseResult], dict[str, Any]],
                   volumes: Sequence[SharedVolume] = ()) -> dict[str, Any]:
    """``{"databases": [doc, ...], "volumes": [...], "status": worst}``; a database that cannot be
    inspected is ``{"path", "error", "status": "unknown"}``. ``volumes``: those several databases
    share; a database on one gets ``"volume": {"mount", "free_bytes", "shared_with", "limits", "text"}``."""
    shared = {p: v for v in volumes if v.shared for p in v.paths}
    docs = []
    for r in results:
        if not r.up:
            docs.append({"path": r.path, "error": r.error, "status": "unknown"})
            continue
        doc = doc_of(r)
        v = shared.get(r.path)
        if v is not None:
            doc["volume"] = {"mount": v.mount, "free_bytes": v.free_bytes,
                             "shared_with": [p for p in v.paths if p != r.path], "limits": v.limits,
                             "text": v.text(r.path)}
        docs.append(doc)
    statuses = [status_of(r) for r in results] + volume_status(volumes)
    return {"databases": docs, "volumes": [v.to_dict() for v in volumes if v.shared],
            "status": worst_status(statuses)}


def fleet_check(results: Sequence[DatabaseResult],
                line_of: Callable[[DatabaseResult], str | list[str]],
                volumes: Sequence[SharedVolume] = ()) -> tuple[list[str], int]:
    """A summary status line, then one line per database, then one per shared volume with findings;
    the exit code of the worst status (CRITICAL > WARNING > UNKNOWN > OK: a database that cannot be
    read is less urgent than one that is filling up, and more than one that is fine).

    ``line_of`` gives a database's own check lines (its status line, then one per warning, worst
    first), which follow indented, so the long output names each problem with its rule id; the
    status line's performance data is dropped, because Nagios reads performance data after the
    first ``|`` of the long output only once. (Several databases that share a volume whose free bytes
    their maps could outgrow say so in their own lines: ``check_lines(shared=…)``.)
    """
    statuses = [status_of(r) for r in results]
    vol_statuses = volume_status(volumes)
    worst = worst_status(statuses + vol_statuses)
    counts = {s.value: statuses.count(s) for s in sorted(Status, key=lambda s: s.rank)}
    parts = [f"{counts['critical']} critical", f"{counts['warning']} warning"]
    if counts["unknown"]:
        parts.append(f"{counts['unknown']} unknown")
    bad_volumes = [v for v in volumes if v.findings]
    if bad_volumes:
        vw = worst_status(vol_statuses)
        parts.append(f"{len(bad_volumes)} shared volume{'' if len(bad_volumes) == 1 else 's'} {vw}")
    perf = " ".join(f"{s}={counts[s]}" for s in ("critical", "warning", "unknown", "ok"))
    head = f"ZLMDB {worst.upper()} - {len(results)} databases: {', '.join(parts)} | databases={len(results)} {perf}"
    lines = [head]
    for r in results:
        if r.up:
            own = line_of(r)
            own = [own] if isinstance(own, str) else own
            lines.append(own[0].rsplit(" | ", 1)[0])
            lines.extend(f"  {line}" for line in own[1:])  # its warnings, worst first: rule id and message
        else:
            lines.append(f"ZLMDB UNKNOWN - {safe(r.path)}: {safe(r.error or 'cannot inspect')}")
    for v in bad_volumes:
        st = Status.of(f.severity for f in v.findings)
        lines.append(f"ZLMDB {st.upper()} - volume {safe(v.summary())}")
        lines.extend(f"  {f.severity.upper()}: [{f.id}] {safe(f.message)}" for f in v.findings)
    return lines, worst.exit_code
