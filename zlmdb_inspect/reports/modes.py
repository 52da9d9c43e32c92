"""The report modes: ``--json``, ``--check``, ``--prometheus``, ``--watch``, ``--dump``.

Thin clients of the service; their output formats live in :mod:`zlmdb_inspect.reports.document`.
Neither imports Textual or Rich (start-up time matters in scripts).
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, TextIO

from zlmdb_inspect import health
from zlmdb_inspect.core.errors import InspectError
from zlmdb_inspect.core.fmt import plural
from zlmdb_inspect.core.kinds import Direction
from zlmdb_inspect.core.model import Table
from zlmdb_inspect.core.options import Options
from zlmdb_inspect.core.textsafe import json_visible
from zlmdb_inspect.reports.document import check_lines, refresh_dict, to_json
from zlmdb_inspect.service import Record, Service, open_service

if TYPE_CHECKING:  # several databases, queries and follow mode: imported where used (a one-shot run's start)
    from zlmdb_inspect.service import JsonFollow, Query, Scan
    from zlmdb_inspect.service.fleet import DatabaseResult, Fleet

PROG = "zlmdb-inspect"
SCRAPE_TIMEOUT_S = 8.0  # under Prometheus' default scrape timeout (10 s): a slow database keeps its last figures


class Report(StrEnum):
    """The one-shot reports."""

    JSON = "json"
    CHECK = "check"
    PROMETHEUS = "prometheus"


def fleet_of(opts: Options, paths: Sequence[str], live: bool) -> Fleet:
    from zlmdb_inspect.service.fleet import open_fleet

    return open_fleet(opts, paths, live)[1]


def run_report(opts: Options, mode: Report, paths: Sequence[str] | None = None, output: str | None = None) -> int:
    """One report over ``paths`` (default: ``opts.path``); one database gives the document and
    check it always gave, several give the fleet's."""
    paths = list(paths or [opts.path])
    if len(paths) == 1 and mode != Report.PROMETHEUS:
        return _report_one(opts, mode)
    fleet = fleet_of(opts, paths, live=False)
    try:
        results = fleet.results()
    finally:
        fleet.close()
    if mode == Report.PROMETHEUS:
        from zlmdb_inspect.reports.prometheus import exposition, write_atomically  # prometheus_client: ~60 ms to import

        if output:
            write_atomically(output, results)
        else:
            sys.stdout.write(exposition(results))
        if len(paths) == 1 and not results[0].up:  # one database: as every mode, one line and exit 3
            raise InspectError(f"{paths[0]}: {results[0].error}")
        return 0
    from zlmdb_inspect.reports.fleet import fleet_check, fleet_document
    from zlmdb_inspect.service.fleet import sharing

    volumes = fleet.volumes(results)  # several databases on one volume share its free bytes
    if mode == Report.JSON:
        print(to_json(fleet_document(results, lambda r: refresh_dict(r.detail, live=False), volumes)))
        return 0
    th = fleet.thresholds
    limited = sharing(volumes)

    def line_of(r: DatabaseResult) -> list[str]:
        v = limited.get(r.path)
        return check_lines(r.detail.snapshot, r.detail.warnings, th, r.detail.eta,
                           r.detail.rates if r.detail.history else None, shared=v.text(r.path) if v else None,
                           state=r.detail.state)

    lines, code = fleet_check(results, line_of, volumes)
    print("\n".join(lines))
    return code


def _report_one(opts: Options, mode: Report) -> int:
    service = open_service(opts)
    try:
        ref = service.refresh()
    finally:
        service.close()
    if mode == Report.JSON:
        print(to_json(refresh_dict(ref, live=False)))
        return 0
    print("\n".join(check_lines(ref.snapshot, ref.warnings, service.thresholds, ref.eta,
                                ref.rates if ref.history else None, state=ref.state)))
    return health.exit_code(ref.warnings)


def run_watch(opts: Options, count: int | None, paths: Sequence[str] | None = None) -> int:
    """One JSON object per line per refresh; over several databases, one line per database
    (``{"path", "error", "status": "unknown"}`` for one that cannot be inspected now)."""
    paths = list(paths or [opts.path])
    if len(paths) == 1:
        return _watch_one(opts, count)
    fleet = fleet_of(opts, paths, live=True)
    n = 0
    try:
        while count is None or n < count:
            t0 = time.monotonic()
            for res in fleet.results(max_age=0.0):
                doc = refresh_dict(res.detail, live=True) if res.up else {
                    "path": res.path, "error": res.error, "status": "unknown"}
                print(to_json(doc, indent=None), flush=True)
            n += 1
            if count is not None and n >= count:
                break
            time.sleep(max(0.0, opts.interval - (time.monotonic() - t0)))
    finally:
        fleet.close()
    return 0


def _watch_one(opts: Options, count: int | None) -> int:
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


def run_serve(opts: Options, listen: str, paths: Sequence[str] | None = None,
              stop: threading.Event | None = None) -> int:
    """``--serve-metrics [HOST:]PORT``: a Prometheus exporter over every database until stopped
    (SIGTERM, ctrl+c, or ``stop``). Each scrape refreshes what is older than ``--interval``."""
    from zlmdb_inspect.reports.prometheus import MetricsServer, parse_listen

    try:
        host, port = parse_listen(listen)
    except ValueError as e:
        raise InspectError(str(e)) from None
    fleet = fleet_of(opts, list(paths or [opts.path]), live=True)
    try:
        try:
            server = MetricsServer(lambda: fleet.results(timeout=SCRAPE_TIMEOUT_S), host, port)
        except OSError as e:
            raise InspectError(f"--serve-metrics {listen}: {e.strerror or e}") from None
        stop = stop or threading.Event()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        where = f"[{server.host}]" if ":" in server.host else server.host
        print(f"zlmdb-inspect: serving metrics of {len(fleet.paths)} database(s) on "
              f"http://{where}:{server.port}/metrics", file=sys.stderr, flush=True)
        try:
            while not stop.wait(1.0):
                pass
        finally:
            server.close()
    finally:
        fleet.close()
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
        from zlmdb_inspect.service import Query

        return Query(kind, expr or "", self.from_key, self.to_key)


def run_dump(opts: Options, table: str, how: DumpQuery | None = None) -> int:
    """Records as JSON Lines (or CSV): the whole table, a key range, those a query matches;
    with ``follow``, then one line per change until interrupted (exit 0 after a whole line).

    With ``--where``/``--grep``, as grep: exit 1 when nothing matched, and a summary line on
    stderr either way, so an empty answer is not mistaken for an empty table."""
    how = how or DumpQuery()
    if how.follow and how.csv:
        raise InspectError("--follow prints JSON Lines; it does not combine with --format csv")
    service = open_service(opts)
    out = sys.stdout
    code = 0
    try:
        snap = service.snapshot()
        if snap.damaged:
            raise InspectError(f"{opts.path}: the database is damaged ({snap.problems[0].message}); "
                               "records are not read from a damaged tree")
        t = service.resolve_table(snap, table)
        q = how.query()
        scan = service.query(t, q)  # a bad expression or key fails here, before any output
        if how.from_key:
            seek = service.seek_key(t, how.from_key)
            if seek.message:
                print(f"{PROG}: {json_visible(seek.message)}", file=sys.stderr)
        follower = service.follow(t) if how.follow else None
        if follower is not None:
            follower.poll()  # the starting state: what changes after it is reported
        t0 = time.perf_counter()
        counted = _Counted(scan.records(limit=how.limit) if how.limit != 0 else iter(()))
        if how.csv:
            from zlmdb_inspect.reports import csvout

            csvout.write((rec.to_json() for rec in counted), out)
        else:
            for rec in counted:
                out.write(_line(rec.to_json()))
        out.flush()
        if q.kind in ("jq", "regex"):
            elapsed = time.perf_counter() - t0
            print(f"{PROG}: {_matched_summary(counted.n, scan.progress.scanned, elapsed, how.limit)}",
                  file=sys.stderr)
            if counted.n == 0:
                if q.kind == "jq":
                    hint = _missing_fields_hint(service, t, q.expr, opts)
                    if hint:
                        print(f"{PROG}: {json_visible(hint)}", file=sys.stderr)
                code = 1
        if follower is not None:
            _follow(follower, scan, opts.interval, out)
    except KeyboardInterrupt:
        if not how.follow:
            raise
        code = 0
    finally:
        service.close()
    return code


class _Counted:
    """An iterator that counts what it yields (the records a dump printed)."""

    def __init__(self, it: Iterator[Record]):
        self._it = it
        self.n = 0

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Record:
        item = next(self._it)
        self.n += 1
        return item


def _matched_summary(matched: int, scanned: int, elapsed: float, limit: int | None) -> str:
    """"0 of 2,000 records matched in 0.4 s": the answer's size and the work behind it."""
    if limit is not None and matched >= limit:
        return (f"{matched:,} matched (stopped at --limit {limit:,}; {plural(scanned, 'record')} scanned) "
                f"in {elapsed:.1f} s")
    return f"{matched:,} of {plural(scanned, 'record')} matched in {elapsed:.1f} s"


_FIELD_PATH = re.compile(r"(?<![\w\]\)])\.(key|value)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
HINT_SAMPLE = 200  # records read to say which fields exist


def _missing_fields_hint(service: Service, table: Table, expr: str, opts: Options) -> str | None:
    """When a field path of the expression is in none of the table's first records, the fields that
    are there, and what would name them (FlatBuffers without a schema are field0, field1, ...)."""
    paths = [(m.group(1), m.group(2)[1:].split(".")) for m in _FIELD_PATH.finditer(expr)]
    if not paths:
        return None
    recs = service.read_window(table, None, Direction.FIRST, HINT_SAMPLE, preview=None).records
    if not recs:
        return None
    for root, names in paths:
        seen: set[str] = set()
        found = False
        for rec in recs:
            obj = rec.key if root == "key" else rec.value
            for i, name in enumerate(names):
                if not isinstance(obj, dict):
                    break
                if name not in obj:
                    seen.update(f".{root}." + ".".join([*names[:i], str(k)]) for k in obj)
                    break
                obj = obj[name]
            else:
                found = True
                break
        if found:
            continue
        path = "." + root + "." + ".".join(names)
        fields = ", ".join(sorted(seen)[:12]) + (", ..." if len(seen) > 12 else "") if seen else "none (not a map)"
        named = not opts.fbs and not opts.imports
        unnamed = any(f.rsplit(".", 1)[-1].startswith("field") for f in seen)
        how = (" (fields named field0, field1, ... are FlatBuffers without a schema: --fbs FILE.bfbs or "
               "--import MODULE names them)" if unnamed and named else
               "; --import MODULE decodes with the application's classes" if named else "")
        return (f"no record of the first {len(recs):,} has {path}; the fields there are: {fields}{how}")
    return None


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
