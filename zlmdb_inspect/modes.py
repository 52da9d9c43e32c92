"""The report modes: ``--json``, ``--check``, ``--prometheus``, ``--watch``, ``--dump``.

Thin clients of the service; their output formats live in :mod:`zlmdb_inspect.report`.
Neither imports Textual or Rich (start-up time matters in scripts).
"""

from __future__ import annotations

import json
import sys
import time
from enum import StrEnum

from zlmdb_inspect import health
from zlmdb_inspect.errors import InspectError
from zlmdb_inspect.options import Options
from zlmdb_inspect.report import check_lines, prometheus_down, prometheus_text, refresh_dict, to_json
from zlmdb_inspect.service import open_service
from zlmdb_inspect.textsafe import json_visible


class Report(StrEnum):
    """The one-shot reports."""

    JSON = "json"
    CHECK = "check"
    PROMETHEUS = "prometheus"


def run_report(opts: Options, mode: Report) -> int:
    try:
        service = open_service(opts)
    except InspectError:
        if mode == Report.PROMETHEUS:
            sys.stdout.write(prometheus_down(opts.path))
        raise
    try:
        ref = service.refresh()
    finally:
        service.close()
    if mode == Report.JSON:
        print(to_json(refresh_dict(ref, live=False)))
        return 0
    if mode == Report.CHECK:
        print("\n".join(check_lines(ref.snapshot, ref.warnings, service.thresholds)))
        return health.exit_code(ref.warnings)
    sys.stdout.write(prometheus_text(ref.snapshot, ref.warnings))
    return 0


def run_watch(opts: Options, count: int | None) -> int:
    service = open_service(opts)
    n = 0
    try:
        while count is None or n < count:
            t0 = time.monotonic()
            ref = service.refresh(live=True)
            print(to_json(refresh_dict(ref, live=True), indent=None), flush=True)
            n += 1
            if count is not None and n >= count:
                break
            time.sleep(max(0.0, opts.interval - (time.monotonic() - t0)))
    finally:
        service.close()
    return 0


def run_dump(opts: Options, table: str, limit: int | None, from_key: str | None) -> int:
    service = open_service(opts)
    try:
        snap = service.snapshot()
        if snap.damaged:
            raise InspectError(f"{opts.path}: the database is damaged ({snap.problems[0].message}); "
                               "records are not read from a damaged tree")
        t = service.resolve_table(snap, table)
        out = sys.stdout
        for rec in service.iter_records(t, from_key, limit):
            out.write(json_visible(json.dumps(rec.to_json(), ensure_ascii=False, default=str)) + "\n")
    finally:
        service.close()
    return 0
