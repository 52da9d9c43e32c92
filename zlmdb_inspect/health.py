"""Warnings tied to zlmdb's monitoring and sizing practices.

Each rule has a fixed id, measures one figure against a threshold, says what
to do, and names the practice it enforces in the words of zlmdb's ORM best
practices guide (``Section: practice``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from zlmdb_inspect.fmt import fmt_bytes, fmt_duration
from zlmdb_inspect.model import Snapshot

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
EXIT_CODES = {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}

PRACTICE = {
    "sizing": "Deployment Considerations: Database sizing (map_size)",
    "backup": "Deployment Considerations: Backup strategies",
    "multiprocess": "Deployment Considerations: Multi-process access",
    "long-txn": "Common Anti-Patterns to Avoid: Don't use long-lived write transactions",
    "short-txn": "Transaction Patterns: Short-lived write transactions",
    "blobs": "Common Anti-Patterns to Avoid: Don't store large blobs directly (use pointers)",
    "stats": "Monitoring and Debugging: Database statistics (db.stats())",
    "marshal": "Monitoring and Debugging: marshal() for inspection",
    "schema": "Schema Design: UUID-based table identifiers for versioning",
    "indexes": "Index Usage: Check index lookups return values",
    "json": "Serialization Choices: JSON for debugging only",
    "mapfull": "Error Handling: MapFullError handling",
    "verify": "Testing Strategies: Verification steps",
}


@dataclass
class Thresholds:
    """Every threshold a rule uses; set by flag (``--threshold NAME=VALUE``) or TOML."""

    map_used_warning_pct: float = 80.0
    map_used_critical_pct: float = 95.0
    map_eta_warning_s: float = 24 * 3600.0
    map_eta_critical_s: float = 3600.0
    free_pages_warning_pct: float = 30.0
    reader_lag_warning_txns: int = 1000
    reader_held_warning_s: float = 60.0
    reader_slots_warning_pct: float = 80.0
    json_table_warning_bytes: int = 1024 * 1024

    def set(self, name: str, value: str) -> None:
        names = {f.name: f for f in fields(self)}
        key = name.replace("-", "_")
        if key not in names:
            raise ValueError(f"unknown threshold {name!r} (known: {', '.join(sorted(names))})")
        typ = int if isinstance(getattr(self, key), int) and not isinstance(getattr(self, key), bool) else float
        setattr(self, key, typ(value))

    @classmethod
    def load(cls, config: str | None, overrides: list[str]) -> "Thresholds":
        t = cls()
        if config:
            import tomllib

            with open(config, "rb") as f:
                data = tomllib.load(f)
            section = data.get("thresholds", {k: v for k, v in data.items() if not isinstance(v, dict)})
            for k, v in section.items():
                t.set(k, str(v))
        for item in overrides:
            if "=" not in item:
                raise ValueError(f"--threshold takes NAME=VALUE, not {item!r}")
            k, v = item.split("=", 1)
            t.set(k.strip(), v.strip())
        return t


@dataclass
class Warning:
    id: str
    severity: str
    message: str
    practice: str
    figure: Any = None
    threshold: Any = None
    subject: str | None = None  # the table, pid or slot it is about

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Undecodable:
    """One table's records that fail to decode, split by whose decoder fails."""

    sampled: int = 0  # records in the last sample
    codec_sampled: int = 0  # of those, records the table's codec (no decoder) reads
    codec_seen: int = 0  # such records seen so far (sampling, browsing, dumping)
    app_sampled: int = 0  # sampled records only the application's own decoder raises on
    app_seen: int = 0
    codec_example: str | None = None
    app_example: str | None = None


@dataclass
class Findings:
    """What other parts learned that rules turn into warnings (sampling, live history)."""

    eta_full_s: float | None = None
    undecodable: dict[str, Undecodable] = field(default_factory=dict)  # by table
    pickle_tables: list[str] = field(default_factory=list)
    json_tables: dict[str, int] = field(default_factory=dict)  # table -> bytes
    index_drift: list[tuple[str, str]] = field(default_factory=list)  # (index, why)
    damage: list[str] = field(default_factory=list)


def evaluate(snap: Snapshot, th: Thresholds | None = None, found: Findings | None = None) -> list[Warning]:
    """All warnings for a snapshot, worst first."""
    th = th or Thresholds()
    found = found or Findings()
    out: list[Warning] = []
    cap, env = snap.capacity, snap.lmdb

    damage = list(found.damage) + [p.message for p in snap.problems if p.kind == "damaged"]
    for msg in damage:
        out.append(Warning("damaged", "critical",
                           f"The database file is damaged: {msg}. Do not write to it; restore from a backup "
                           "or copy what is readable.", PRACTICE["verify"], figure=msg))

    used = cap.used_pct
    sev = ("critical" if used >= th.map_used_critical_pct else
           "warning" if used >= th.map_used_warning_pct else None)
    if sev:
        out.append(Warning(
            "map-headroom", sev,
            f"{used:.1f}% of the writer's map ({fmt_bytes(cap.map_size)}) is used; "
            f"{fmt_bytes(cap.headroom_bytes)} left. Raise map_size (maxsize) in the writer before "
            "writes fail with MapFullError.", PRACTICE["sizing"], figure=used,
            threshold=th.map_used_critical_pct if sev == "critical" else th.map_used_warning_pct))

    if found.eta_full_s is not None:
        eta = found.eta_full_s
        sev = ("critical" if eta < th.map_eta_critical_s else
               "warning" if eta < th.map_eta_warning_s else None)
        if sev:
            out.append(Warning(
                "map-eta", sev,
                f"At the current growth rate the map is full in {fmt_duration(eta)}. Raise map_size "
                "or find what is writing.", PRACTICE["mapfull"], figure=round(eta, 1),
                threshold=th.map_eta_critical_s if sev == "critical" else th.map_eta_warning_s))

    used_pages = env.last_pgno + 1
    if used_pages and cap.free_pages:
        pct = 100.0 * cap.free_pages / used_pages
        if pct > th.free_pages_warning_pct:
            out.append(Warning(
                "free-pages", "warning",
                f"{cap.free_pages} pages ({pct:.0f}% of the {used_pages} used) are free but keep the file "
                f"large ({fmt_bytes(cap.free_pages * env.page_size)}). A compacting copy "
                "(mdb_copy -c, or env.copy(path, compact=True)) makes a smaller backup.",
                PRACTICE["backup"], figure=round(pct, 1), threshold=th.free_pages_warning_pct))

    for r in snap.readers:
        if r.txnid is None or r.own:
            continue
        held = r.held_s  # observed across refreshes by the monitor; None in a single run
        long_lag = r.lag is not None and r.lag > th.reader_lag_warning_txns
        long_held = held is not None and held > th.reader_held_warning_s
        if r.alive is False:
            out.append(Warning(
                "stale-reader", "warning",
                f"Reader slot of pid {r.pid} holds snapshot {r.txnid}, but no such process is alive on this "
                "host. It blocks page reuse until a writer clears it. If that process runs in another PID "
                "namespace (container), note that processes sharing a zlmdb database must share one.",
                PRACTICE["multiprocess"], figure=r.pid, subject=str(r.pid)))
        elif long_lag or long_held:
            what = []
            if long_lag:
                what.append(f"lags {r.lag} transactions behind")
            if long_held:
                what.append(f"has held its snapshot for {fmt_duration(held)}")
            out.append(Warning(
                "long-reader", "warning",
                f"Reader pid {r.pid}{f' ({r.name})' if r.name else ''} " + " and ".join(what) +
                ". A long read transaction stops LMDB from reusing pages, so the file grows; keep read "
                "transactions short.", PRACTICE["short-txn"],
                figure={"lag": r.lag, "held_s": held},
                threshold={"lag": th.reader_lag_warning_txns, "held_s": th.reader_held_warning_s},
                subject=str(r.pid)))

    if env.locking and env.max_readers:
        in_use = sum(1 for r in snap.readers if not r.own)  # ours lasts milliseconds
        pct = 100.0 * in_use / env.max_readers
        if pct >= th.reader_slots_warning_pct:
            out.append(Warning(
                "reader-slots", "warning",
                f"{in_use} of {env.max_readers} reader slots are in use; beyond that, new readers fail "
                "with ReadersFullError.", PRACTICE["multiprocess"], figure=round(pct, 1),
                threshold=th.reader_slots_warning_pct))

    for t in snap.tables:
        if t.overflow_pages:
            out.append(Warning(
                "large-values", "warning",
                f"Table {t.label()} stores values larger than half a page on {t.overflow_pages} overflow "
                f"pages ({fmt_bytes(t.overflow_bytes)} of values, largest {fmt_bytes(t.max_value)}). "
                "Store large blobs outside the database and keep a pointer.",
                PRACTICE["blobs"], figure=t.max_value, threshold=env.page_size // 2,
                subject=t.label()))
        if not t.metadata and t.records:
            out.append(Warning(
                "orphan-slot", "warning",
                f"Slot {t.slot} holds {t.records} records but has no metadata record, so no table owns it. "
                "Attach it with @zlmdb.table (a UUID oid) or remove the data.",
                PRACTICE["schema"], figure=t.records, subject=f"slot {t.slot}"))

    for p in snap.problems:
        if p.kind == "bad-metadata":
            out.append(Warning("bad-metadata", "warning",
                               f"A table metadata record cannot be read: {p.message}.",
                               PRACTICE["schema"], figure=p.message,
                               subject=f"slot {p.slot}" if p.slot is not None else None))

    for table, u in sorted(found.undecodable.items()):
        if isinstance(u, int):  # a bare count: records no decoder reads
            u = Undecodable(codec_seen=u)
        bad = max(u.codec_seen, u.codec_sampled)
        if bad:
            sampled = f"{u.codec_sampled} of {u.sampled} sampled records" if u.sampled else "records"
            seen = f" ({u.codec_seen} seen in all)" if u.codec_seen > u.codec_sampled else ""
            out.append(Warning(
                "undecodable", "warning",
                f"Table {table}: {sampled}{seen} cannot be read by any decoder of the table"
                f"{': ' + u.codec_example if u.codec_example else ''}. Browse the table to see them; "
                "damaged or foreign records need repair or removal by the application.",
                PRACTICE["marshal"], figure=bad, subject=table))
        app = max(u.app_seen, u.app_sampled)
        if app:
            sampled = f"{u.app_sampled} of {u.sampled} sampled records" if u.sampled else f"{app} records"
            out.append(Warning(
                "undecodable", "info",
                f"Table {table}: the application's own decoder raises on {sampled}"
                f"{': ' + u.app_example if u.app_example else ''}. The built-in decoder of the table's "
                "type reads the bytes, so this is the application's code, not damaged data.",
                PRACTICE["marshal"], figure=app, subject=table))
    for index, why in found.index_drift:
        out.append(Warning("index-drift", "warning", f"Index {index}: {why}. Rebuild it (rebuild_index).",
                           PRACTICE["indexes"], figure=why, subject=index))
    for table, size in sorted(found.json_tables.items()):
        if size >= th.json_table_warning_bytes:
            out.append(Warning(
                "json-table", "warning",
                f"Table {table} stores JSON values ({fmt_bytes(size)}). JSON is for debugging; use "
                "CBOR or FlatBuffers for data at rest.", PRACTICE["json"], figure=size,
                threshold=th.json_table_warning_bytes, subject=table))
    for table in sorted(found.pickle_tables):
        out.append(Warning(
            "pickle-table", "warning",
            f"Table {table} stores pickle values: loading them runs code, and only Python can read them. "
            "Use CBOR or FlatBuffers.", "Serialization Choices: CBOR for configuration",
            subject=table))

    if env.format == "0.9":
        out.append(Warning(
            "format-09", "info",
            "The database uses LMDB's 0.9 data format; zlmdb writes 1.0 by default for new databases.",
            PRACTICE["stats"], figure="0.9"))

    out.sort(key=lambda w: (SEVERITY_ORDER[w.severity], w.id))
    return out


def worst(warnings: list[Warning]) -> str:
    if any(w.severity == "critical" for w in warnings):
        return "critical"
    if any(w.severity == "warning" for w in warnings):
        return "warning"
    return "ok"


def exit_code(warnings: list[Warning]) -> int:
    return EXIT_CODES[worst(warnings)]

