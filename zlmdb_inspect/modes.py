"""The report modes: ``--json``, ``--check``, ``--prometheus``, ``--watch``, ``--dump``.

Thin clients of the service; their output formats live in :mod:`zlmdb_inspect.report`.
Neither imports Textual or Rich (start-up time matters in scripts).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO

from zlmdb_inspect import csvout, health
from zlmdb_inspect.errors import InspectError
from zlmdb_inspect.options import Options
from zlmdb_inspect.report import check_lines, prometheus_down, prometheus_text, refresh_dict, to_json
from zlmdb_inspect.service import JsonFollow, Query, Scan, open_service
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


@dataclass
class DumpQuery:
    """What ``--dump`` selects and how it prints it."""

    limit: int | None = None
    from_key: str | None = None
    to_key: str | None = None
    where: str | None = None  # jq expression
    grep: str | None = None  # regular expression
    follow: bool = False
    csv: bool = False

    def query(self) -> Query:
        if self.where is not None and self.grep is not None:
            raise InspectError("give --where or --grep, not both")
        kind, expr = ("jq", self.where) if self.where is not None else \
            ("regex", self.grep) if self.grep is not None else ("all", "")
        return Query(kind, expr or "", self.from_key, self.to_key)


def run_dump(opts: Options, table: str, how: DumpQuery | None = None) -> int:
    """Records as JSON Lines (or CSV): the whole table, a key range, those a query matches;
    with ``follow``, then one line per change until interrupted (exit 0 after a whole line)."""
    how = how or DumpQuery()
    if how.follow and how.csv:
        raise InspectError("--follow prints JSON Lines; it does not combine with --format csv")
    service = open_service(opts)
    out = sys.stdout
    try:
        snap = service.snapshot()
        if snap.damaged:
            raise InspectError(f"{opts.path}: the database is damaged ({snap.problems[0].message}); "
                               "records are not read from a damaged tree")
        t = service.resolve_table(snap, table)
        scan = service.query(t, how.query())  # a bad expression or key fails here, before any output
        follower = service.follow(t) if how.follow else None
        if follower is not None:
            follower.poll()  # the starting state: what changes after it is reported
        records = scan.records(limit=how.limit) if how.limit != 0 else iter(())
        if how.csv:
            csvout.write((rec.to_json() for rec in records), out)
        else:
            for rec in records:
                out.write(_line(rec.to_json()))
        out.flush()
        if follower is not None:
            _follow(follower, scan, opts.interval, out)
    except KeyboardInterrupt:
        if not how.follow:
            raise
    finally:
        service.close()
    return 0


def _line(obj: dict) -> str:
    return json_visible(json.dumps(obj, ensure_ascii=False, default=str)) + "\n"


def _follow(follower: JsonFollow, scan: Scan, interval: float, out: TextIO) -> None:
    """One line per change, a poll per interval; changes of records outside the key range,
    or inserts and updates the query does not match, are not printed."""
    start = scan.start or b""
    prefix_len = 2
    while True:
        time.sleep(interval)
        lines = []
        for ch in follower.poll():
            raw = ch.pop("_raw_key", None)
            if raw is not None:
                k = raw[prefix_len:]
                if k < start or (scan.stop is not None and k >= scan.stop):
                    continue
            if ch["change"] in ("insert", "update") and not scan.compiled.match(
                    {"key": ch["key"], "value": ch["value"]}):
                continue
            lines.append(_line(ch))
        if lines:
            out.write("".join(lines))  # whole lines only: Ctrl-C ends after the last complete one
            out.flush()
