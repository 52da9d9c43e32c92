"""Report modes over many databases: one JSON document, one Nagios check.

The per-database document and status line are the single-database ones (passed in as callables),
so a fleet report says of each database exactly what a run on that database alone says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from zlmdb_inspect.core.kinds import Status
from zlmdb_inspect.core.textsafe import safe
from zlmdb_inspect.service.fleet import DatabaseResult, status_of, worst_status


def fleet_document(results: Sequence[DatabaseResult], doc_of: Callable[[DatabaseResult], dict[str, Any]]
                   ) -> dict[str, Any]:
    """``{"databases": [doc, ...], "status": worst}``; a database that cannot be inspected is
    ``{"path", "error", "status": "unknown"}``."""
    docs = [doc_of(r) if r.up else {"path": r.path, "error": r.error, "status": "unknown"} for r in results]
    return {"databases": docs, "status": worst_status([status_of(r) for r in results])}


def fleet_check(results: Sequence[DatabaseResult],
                line_of: Callable[[DatabaseResult], str | list[str]]) -> tuple[list[str], int]:
    """A summary status line, then one line per database; the exit code of the worst status
    (CRITICAL > WARNING > UNKNOWN > OK: a database that cannot be read is less urgent than one
    that is filling up, and more than one that is fine).

    ``line_of`` gives a database's own check lines (its status line, then one per warning, worst
    first), which follow indented, so the long output names each problem with its rule id; the
    status line's performance data is dropped, because Nagios reads performance data after the
    first ``|`` of the long output only once.
    """
    statuses = [status_of(r) for r in results]
    worst = worst_status(statuses)
    counts = {s.value: statuses.count(s) for s in sorted(Status, key=lambda s: s.rank)}
    parts = [f"{counts['critical']} critical", f"{counts['warning']} warning"]
    if counts["unknown"]:
        parts.append(f"{counts['unknown']} unknown")
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
    return lines, worst.exit_code
