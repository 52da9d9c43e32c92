"""The data service every client uses, and the report modes built on it."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from zlmdb_inspect import health
from zlmdb_inspect.errors import InspectError
from zlmdb_inspect.inspector import Inspector
from zlmdb_inspect.model import Snapshot
from zlmdb_inspect.monitor import Monitor, Rates
from zlmdb_inspect.textsafe import json_visible
from zlmdb_inspect.report import check_lines, prometheus_down, prometheus_text, report_dict, to_json

if TYPE_CHECKING:
    from zlmdb_inspect.cli import Options
    from zlmdb_inspect.records import Catalog


@dataclass
class Refresh:
    """One refresh: the snapshot, what the history says about it, and the warnings."""

    snapshot: Snapshot
    warnings: list[health.Warning]
    rates: Rates
    eta_full_s: float | None
    verify_problems: list[str] | None = None
    sampled: dict[str, dict] = field(default_factory=dict)

    def to_dict(self, live: bool) -> dict:
        extra = {}
        if live:
            r = self.rates
            extra["rates"] = {"txns_per_s": r.txns_per_s, "records_per_s": r.records_per_s,
                              "bytes_per_s": r.bytes_per_s, "file_bytes_per_s": r.file_bytes_per_s,
                              "window_s": r.window_s,
                              "tables_per_s": {str(k): round(v, 3) for k, v in r.tables_per_s.items()}}
            extra["eta_full_s"] = self.eta_full_s
        if self.verify_problems is not None:
            extra["verify"] = {"problems": self.verify_problems, "ok": not self.verify_problems}
        if self.sampled:
            extra["sampled"] = self.sampled
        return report_dict(self.snapshot, self.warnings, extra)


class Service:
    """Inspector + history + decoding + health, shared by the TUI and the report modes.

    Methods block (LMDB, file I/O): the TUI calls them from thread workers only.
    """

    SAMPLE_EVERY_S = 30.0  # decoding samples of every table is not worth doing at every refresh

    def __init__(self, opts: "Options"):
        self.opts = opts
        try:
            self.thresholds = health.Thresholds.load(opts.config, opts.thresholds)
        except OSError as e:
            raise InspectError(f"--config {opts.config}: {e.strerror or e}") from None
        except ValueError as e:  # tomllib's errors are ValueErrors too
            raise InspectError(f"{'--config ' + opts.config if opts.config else '--threshold'}: {e}") from None
        from zlmdb_inspect.records import Catalog  # imports the application's modules first

        self.catalog: Catalog = Catalog(opts)
        self.inspector = Inspector(opts.path)
        self.monitor = Monitor()
        self.findings = health.Findings()
        self._verify: list[str] | None = None
        self._sampled_at: tuple[int, float, tuple] | None = None  # (txnid, monotonic time, tables)
        self._sampled: dict[str, dict] = {}

    @property
    def path(self) -> str:
        return self.opts.path

    def close(self) -> None:
        self.inspector.close()

    def verify(self) -> list[str]:
        """zlmdb's full structural verifier (pure Python, reads the whole file)."""
        from zlmdb._lmdb_vendor import verify as v

        try:
            return v.verify(self.inspector.dir)
        except v.VerifyError as e:
            return [str(e)]
        except OSError as e:
            return [f"cannot read the data file: {e.strerror or e}"]

    def refresh(self, live: bool = False) -> Refresh:
        snap = self.inspector.snapshot()
        self.monitor.add(snap)
        if self.opts.verify and self._verify is None:
            self._verify = self.verify()
        self.findings.damage = list(self._verify or [])[:20]
        self.findings.eta_full_s = self.monitor.eta_full_s() if live else None
        if not any(p.kind == "damaged" for p in snap.problems) and not self._verify:
            self._sample(snap)
        warnings = health.evaluate(snap, self.thresholds, self.findings)
        return Refresh(snap, warnings, self.monitor.rates(), self.findings.eta_full_s,
                       self._verify, self._sampled)

    def _sample(self, snap: Snapshot) -> None:
        """Decode the first records of each table when the data changed, then count every record
        that failed to decode so far (browsing and dumping add to what sampling finds)."""
        tables = tuple((t.slot, t.name) for t in snap.tables)
        now = time.monotonic()
        last = self._sampled_at
        if last is None or (last[0] != snap.lmdb.last_txnid and (
                now - last[1] >= self.SAMPLE_EVERY_S or last[2] != tables)):
            # not when nothing changed, nor on a live database sampled moments ago with the same tables
            self._sampled_at = (snap.lmdb.last_txnid, now, tables)
            stats, pages = self.catalog.sample(self.inspector, snap, self.opts.sample)
            self._sampled = stats
            self.findings.pickle_tables = [k for k, v in stats.items() if v.get("pickle")]
            self.findings.json_tables = {k: v["est_bytes"] for k, v in stats.items() if v.get("json")}
            self.findings.index_drift = self.catalog.index_drift(self.inspector, snap, pages)
        self.findings.undecodable = self._undecodable(snap)

    def _undecodable(self, snap: Snapshot) -> dict[str, health.Undecodable]:
        """Per table: records no decoder of the table reads, and records only the application's
        decoder raises on, from the last sample and from every record seen failing since."""
        out: dict[str, health.Undecodable] = {}
        cat = self.catalog
        for label in set(self._sampled) | set(list(cat.failed)):
            st = self._sampled.get(label, {})
            u = health.Undecodable(
                sampled=st.get("sampled", 0), codec_sampled=st.get("undecodable", 0),
                codec_seen=cat.failures(label, "codec"), app_sampled=st.get("app_errors", 0),
                app_seen=cat.failures(label, "app"),
                codec_example=cat.failed_example.get((label, "codec")),
                app_example=cat.failed_example.get((label, "app")))
            if st.get("app_key_failed") and st.get("app_key_failed") == st.get("sampled"):
                # said once for the table: its rows carry no error
                u.app_sampled = max(u.app_sampled, st["app_key_failed"])
                u.app_example = f"key: {st.get('app_key_error')}"
            if u.codec_seen or u.codec_sampled or u.app_seen or u.app_sampled:
                out[label] = u
        return out


def open_service(opts: "Options") -> Service:
    return Service(opts)


def run_report(opts: "Options", mode: str) -> int:
    try:
        service = open_service(opts)
    except InspectError:
        if mode == "prometheus":
            sys.stdout.write(prometheus_down(opts.path))
        raise
    try:
        ref = service.refresh()
    finally:
        service.close()
    if mode == "json":
        print(to_json(ref.to_dict(live=False)))
        return 0
    if mode == "check":
        print("\n".join(check_lines(ref.snapshot, ref.warnings, service.thresholds)))
        return health.exit_code(ref.warnings)
    sys.stdout.write(prometheus_text(ref.snapshot, ref.warnings))
    return 0


def run_watch(opts: "Options", count: int | None) -> int:
    service = open_service(opts)
    n = 0
    try:
        while count is None or n < count:
            t0 = time.monotonic()
            ref = service.refresh(live=True)
            print(to_json(ref.to_dict(live=True), indent=None), flush=True)
            n += 1
            if count is not None and n >= count:
                break
            time.sleep(max(0.0, opts.interval - (time.monotonic() - t0)))
    finally:
        service.close()
    return 0


def run_dump(opts: "Options", table: str, limit: int | None, from_key: str | None) -> int:
    service = open_service(opts)
    try:
        snap = service.inspector.snapshot()
        if any(p.kind == "damaged" for p in snap.problems):
            raise InspectError(f"{opts.path}: the database is damaged ({snap.problems[0].message}); "
                               "records are not read from a damaged tree")
        t = service.catalog.resolve_table(snap, table)
        out = sys.stdout
        for rec in service.catalog.iter_records(service.inspector, t, from_key, limit):
            out.write(json_visible(json.dumps(rec.to_json(), ensure_ascii=False, default=str)) + "\n")
    finally:
        service.close()
    return 0
