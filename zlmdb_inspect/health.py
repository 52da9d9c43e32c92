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
LEVELS = ("off", "info", "warning", "critical")
# every rule id, with what its figure counts (for figure_text when a rule gives none)
RULES = {
    "damaged": "", "map-headroom": "%", "map-eta": "s", "map-mismatch": "B", "free-pages": "%",
    "long-reader": "", "stale-reader": "", "reader-slots": "%", "large-values": "B", "orphan-slot": "records",
    "bad-metadata": "", "undecodable": "records", "index-drift": "", "json-table": "B", "pickle-table": "",
    "format-09": "",
}
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
    free_pages_warning_pct: float = 30.0  # of the used pages (the file's high-water mark) ...
    free_pages_warning_bytes: int = 64 * 1024 * 1024  # ... and at least this much
    reader_lag_warning_txns: int = 1000
    reader_held_warning_s: float = 60.0
    reader_slots_warning_pct: float = 80.0
    json_table_warning_bytes: int = 1024 * 1024
    large_value_warning_bytes: int = 64 * 1024
    large_values_overflow_pct: float = 50.0  # info: a table whose bytes are mostly overflow pages
    eta_min_window_s: float = 30.0  # no time-to-full warning from less history than this
    rules: dict[str, str] = field(default_factory=dict)  # rule id -> off|info|warning|critical

    def set(self, name: str, value: str) -> None:
        names = {f.name: f for f in fields(self) if f.name != "rules"}
        key = name.replace("-", "_")
        if key not in names:
            raise ValueError(f"unknown threshold {name!r} (known: {', '.join(sorted(names))})")
        typ = int if isinstance(getattr(self, key), int) and not isinstance(getattr(self, key), bool) else float
        setattr(self, key, typ(value))

    def set_rule(self, rule: str, level: str) -> None:
        rule, level = rule.strip(), level.strip().lower()
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r} (known: {', '.join(sorted(RULES))})")
        if level not in LEVELS:
            raise ValueError(f"rule {rule}: level {level!r} is not one of {', '.join(LEVELS)}")
        self.rules[rule] = level

    @classmethod
    def load(cls, config: str | None, overrides: list[str], rules: list[str] = ()) -> "Thresholds":
        t = cls()
        if config:
            import tomllib

            with open(config, "rb") as f:
                data = tomllib.load(f)
            section = data.get("thresholds", {k: v for k, v in data.items() if not isinstance(v, dict)})
            for k, v in section.items():
                t.set(k, str(v))
            table = data.get("rules", {})
            if not isinstance(table, dict):
                raise ValueError("[rules] must be a table of rule = \"off|info|warning|critical\"")
            for k, v in table.items():
                t.set_rule(k, str(v))
        for item in overrides:
            if "=" not in item:
                raise ValueError(f"--threshold takes NAME=VALUE, not {item!r}")
            k, v = item.split("=", 1)
            t.set(k.strip(), v.strip())
        for item in rules:
            if "=" not in item:
                raise ValueError(f"--rule takes ID=off|info|warning|critical, not {item!r}")
            k, v = item.split("=", 1)
            t.set_rule(k, v)
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
    figure_text: str | None = None  # the figure in words with its unit ("85.0% of the map", "lag 213 txns")
    threshold_text: str | None = None  # the threshold likewise; None: the rule has no threshold

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
    eta_state: str | None = None  # "measuring", "growing", "not growing"; None: no history (single run)
    eta_window_s: float = 0.0  # history the rate is measured over
    growth_pinned: bool = False  # most of the growth in that window is pages a reader pins
    # slot -> ([(key, value bytes)], whether the scan was cut short)
    largest: dict[int, tuple[list[tuple[str, int]], bool]] = field(default_factory=dict)
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

    psize = env.page_size
    pinner = _pinner_text(cap, psize)
    limit = cap.limit_text()
    used = cap.used_pct
    sev = ("critical" if used >= th.map_used_critical_pct else
           "warning" if used >= th.map_used_warning_pct else None)
    if sev:
        reuse = (cap.reusable_pages or 0) * psize
        fix = ("Raise map_size (maxsize) in the writer before writes fail with MapFullError."
               if cap.map_source == "writer" else
               "Open the writer with a larger map_size (maxsize) before writes fail with MapFullError.")
        if pinner and (cap.pinned_pages or 0) * psize >= 0.25 * cap.in_use_bytes:
            fix = f"{pinner} {_unpin(cap, snap.path)} first; raising map_size only postpones MapFullError."
        thr = th.map_used_critical_pct if sev == "critical" else th.map_used_warning_pct
        out.append(Warning(
            "map-headroom", sev,
            f"{used:.1f}% of the map is in use ({fmt_bytes(cap.in_use_bytes)} of {fmt_bytes(cap.map_size)}: "
            f"{limit}); {fmt_bytes(cap.available_bytes)} available "
            f"({fmt_bytes(max(0, cap.headroom_bytes))} above the high-water mark + {fmt_bytes(reuse)} of "
            f"reusable free pages). {fix}", PRACTICE["sizing"], figure=used, threshold=thr,
            figure_text=f"{used:.1f}% of {fmt_bytes(cap.map_size)} in use ({fmt_bytes(cap.available_bytes)} available)",
            threshold_text=f"{thr:g}% in use"))

    mism = _map_mismatch(cap)
    if mism:
        out.append(Warning(
            "map-mismatch", "warning",
            f"{mism} Writes fail with MapFullError at {fmt_bytes(cap.map_size)}, not at the meta page's size. "
            "Open the environment with the same map_size (maxsize) in every process that writes, or "
            "raise it in the one that maps less (set_mapsize).", PRACTICE["sizing"],
            figure=cap.map_size, threshold=cap.map_size_meta,
            figure_text=f"smallest writer map {fmt_bytes(cap.map_size)}",
            threshold_text=f"meta page {fmt_bytes(cap.map_size_meta)}; every writer the same"))

    if found.eta_full_s is not None and found.eta_state == "growing" and found.eta_window_s >= th.eta_min_window_s:
        eta = found.eta_full_s
        sev = ("critical" if eta < th.map_eta_critical_s else
               "warning" if eta < th.map_eta_warning_s else None)
        if sev:
            fix = "Raise map_size or find what is writing."
            if found.growth_pinned and pinner:
                fix = (f"The growth is pages that a reader keeps from reuse, not new data: {pinner} "
                       f"{_unpin(cap, snap.path)}; raising map_size only postpones it.")
            thr = th.map_eta_critical_s if sev == "critical" else th.map_eta_warning_s
            out.append(Warning(
                "map-eta", sev,
                f"At the growth rate of the last {fmt_duration(found.eta_window_s)} the map ({fmt_bytes(cap.map_size)}, "
                f"{limit}) is full in {fmt_duration(eta)}. {fix}", PRACTICE["mapfull"], figure=round(eta, 1),
                threshold=thr, figure_text=f"full in {fmt_duration(eta)}",
                threshold_text=f"less than {fmt_duration(thr)}",
                subject=str(cap.pinned_by["pid"]) if found.growth_pinned and pinner else None))

    used_pages = env.last_pgno + 1
    if used_pages and cap.free_pages:
        pct = 100.0 * cap.free_pages / used_pages
        free_b = cap.free_pages * psize
        if pct >= th.free_pages_warning_pct and free_b >= th.free_pages_warning_bytes:
            fix = ("A compacting copy (mdb_copy -c, or env.copy(path, compact=True)) makes a smaller backup; "
                   "the writer reuses the reusable ones.")
            if pinner and (cap.pinned_pages or 0) >= 0.5 * cap.free_pages:
                fix = f"Most of them cannot be reused: {pinner} {_unpin(cap, snap.path)} so the writer reuses them."
            out.append(Warning(
                "free-pages", "warning",
                f"{cap.free_pages:,} pages ({pct:.0f}% of the {used_pages:,} used, {fmt_bytes(free_b)}; "
                f"{cap.reusable_pages if cap.reusable_pages is not None else '?'} reusable now) are free but keep "
                f"the file large. {fix}", PRACTICE["backup"], figure=round(pct, 1),
                threshold=th.free_pages_warning_pct,
                figure_text=f"{pct:.1f}% of used pages free ({fmt_bytes(free_b)})",
                threshold_text=f"{th.free_pages_warning_pct:g}% and at least {fmt_bytes(th.free_pages_warning_bytes)}",
                subject=str(cap.pinned_by["pid"]) if pinner and fix.startswith("Most of them") else None))

    for r in snap.readers:
        if r.txnid is None or r.own:
            continue
        held = r.held_s  # observed across refreshes by the monitor; None in a single run
        long_lag = r.lag is not None and r.lag > th.reader_lag_warning_txns
        long_held = held is not None and held > th.reader_held_warning_s
        if r.alive is False:
            pinned = ""
            if cap.pinned_by and cap.pinned_by.get("pid") == r.pid and cap.pinned_pages:
                pinned = f" ({fmt_bytes(cap.pinned_pages * psize)} of freed pages so far)"
            out.append(Warning(
                "stale-reader", "warning",
                f"Reader slot of pid {r.pid} holds snapshot {r.txnid}, but that process is dead: it holds no "
                f"liveness lock on lock.mdb. The slot keeps pages freed since then from reuse{pinned}, so the "
                "file grows. LMDB does not clear it when a writer opens the environment; clear it safely while "
                f"the application runs with `python -m zlmdb._lmdb_vendor readers -e {_q(snap.path)} -c` (LMDB's "
                "mdb_reader_check, like `mdb_stat -rr`), run by the database's owner: it removes only slots "
                "whose process is gone. Restarting every process that has the environment open also resets "
                "the reader table. Processes sharing a database must share one PID namespace.",
                PRACTICE["multiprocess"], figure=r.pid, subject=str(r.pid),
                figure_text=f"pid {r.pid} not alive, snapshot {r.txnid}"
                            + (f" (lag {r.lag:,} transactions)" if r.lag is not None else ""),
                threshold_text="the process must be alive"))
        elif long_lag or long_held:
            what = []
            if long_lag:
                what.append(f"lags {r.lag:,} transactions behind")
            if long_held:
                what.append(f"has held its snapshot for {fmt_duration(held)}")
            pinned = ""
            if cap.pinned_by and cap.pinned_by.get("pid") == r.pid and cap.pinned_pages:
                pinned = f" (it pins {fmt_bytes(cap.pinned_pages * psize)} of freed pages now)"
            figs = []
            if r.lag is not None:
                figs.append(f"lag {r.lag:,} transactions")
            if held is not None:
                figs.append(f"held {fmt_duration(held)}")
            out.append(Warning(
                "long-reader", "warning",
                f"Reader pid {r.pid}{f' ({r.name})' if r.name else ''} " + " and ".join(what) +
                f". A long read transaction stops LMDB from reusing pages, so the file grows{pinned}; keep read "
                "transactions short.", PRACTICE["short-txn"],
                figure={"lag": r.lag, "held_s": held},
                threshold={"lag": th.reader_lag_warning_txns, "held_s": th.reader_held_warning_s},
                subject=str(r.pid), figure_text=", ".join(figs),
                threshold_text=f"lag over {th.reader_lag_warning_txns:,} transactions or held over "
                               f"{fmt_duration(th.reader_held_warning_s)}"))

    if env.locking and env.max_readers:
        in_use = sum(1 for r in snap.readers if not r.own)  # ours lasts milliseconds
        pct = 100.0 * in_use / env.max_readers
        if pct >= th.reader_slots_warning_pct:
            out.append(Warning(
                "reader-slots", "warning",
                f"{in_use} of {env.max_readers} reader slots are in use; beyond that, new readers fail "
                "with ReadersFullError.", PRACTICE["multiprocess"], figure=round(pct, 1),
                threshold=th.reader_slots_warning_pct,
                figure_text=f"{in_use} of {env.max_readers} slots ({pct:.0f}%)",
                threshold_text=f"{th.reader_slots_warning_pct:g}% of slots"))

    for t in snap.tables:
        w = _large_values(t, th, found, psize)
        if w:
            out.append(w)
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
            "The database uses LMDB's 0.9 data format; zlmdb writes 1.0 by default for new databases, and "
            "reads both. To migrate, stop the writers and copy the records into a new environment opened "
            "with zlmdb's 1.0 engine (zlmdb.lmdb.open(NEW, lib_version=1), or zlmdb.Database(NEW, "
            "lib_version=\"1.0\")), then swap the directories; env.copy() and mdb_copy keep the 0.9 format "
            "(they copy pages). The README's \"Migrating a 0.9 database\" has the script.",
            PRACTICE["stats"], figure="0.9", figure_text="LMDB data format 0.9",
            threshold_text="format 1.0 (zlmdb's default)"))

    out = _apply_rules(out, th.rules)
    for w in out:
        _fill_texts(w)
    out.sort(key=lambda w: (SEVERITY_ORDER[w.severity], w.id))
    return out


def _q(path: str) -> str:
    """A path quoted for a shell command in a message (shown through textsafe by the clients)."""
    import shlex

    return shlex.quote(path)


def _apply_rules(warnings: list[Warning], rules: dict[str, str]) -> list[Warning]:
    """Drop rules switched off, re-grade the others (``--rule ID=LEVEL``, ``[rules]``)."""
    out = []
    for w in warnings:
        level = rules.get(w.id)
        if level == "off":
            continue
        if level:
            w.severity = level
        out.append(w)
    return out


def _fill_texts(w: Warning) -> None:
    """Figure and threshold in words for rules that give none: never None or a repr on screen."""
    def words(v: Any, unit: str) -> str:
        if isinstance(v, bool) or v is None:
            return "" if v is None else str(v)
        if isinstance(v, (int, float)):
            if unit == "B":
                return fmt_bytes(v)
            if unit == "%":
                return f"{v:g}%"
            if unit == "s":
                return fmt_duration(v)
            if v == 1 and unit.endswith("s"):
                unit = unit[:-1]
            return f"{v:,} {unit}".strip() if isinstance(v, int) else f"{v:,.1f} {unit}".strip()
        if isinstance(v, dict):
            return ", ".join(f"{k} {words(x, '')}" for k, x in v.items() if x is not None)
        return str(v)

    unit = RULES.get(w.id, "")
    if w.figure_text is None:
        w.figure_text = words(w.figure, unit) if w.figure is not None else "found"
    if w.threshold_text is None:
        w.threshold_text = words(w.threshold, unit) if w.threshold is not None else "none (any occurrence)"


def _pinner_text(cap, psize: int) -> str | None:
    """The reader whose snapshot keeps freed pages from reuse, in words, or None."""
    p = cap.pinned_by
    if not p or not cap.pinned_pages:
        return None
    who = f"reader pid {p['pid']}" + (f" ({p['name']})" if p.get("name") else "")
    if p.get("alive") is False:
        who += ", a dead process's stale slot"
    return (f"{who} pins {fmt_bytes(cap.pinned_pages * psize)} of freed pages "
            f"(its snapshot lags {p['lag']:,} transactions).")


def _unpin(cap, path: str) -> str:
    """What frees the pinned pages: end the reader's transaction, or clear a dead process's slot."""
    if cap.pinned_by and cap.pinned_by.get("alive") is False:
        return (f"Clear that stale slot (`python -m zlmdb._lmdb_vendor readers -e {_q(path)} -c`, "
                "see stale-reader)")
    return "End that read transaction (or restart that process)"


def _map_mismatch(cap) -> str | None:
    """Live writers that map different sizes, or less than the meta page says."""
    writers = [m for m in cap.maps if m.get("map_size") and m.get("writable") is not False
               and m["map_size"] >= cap.used_bytes]  # smaller ones must adopt the meta page's size to write
    if not writers:
        return None
    sizes = {m["map_size"] for m in writers}
    if len(sizes) == 1 and min(sizes) >= cap.map_size_meta:
        return None
    each = "; ".join(f"pid {m['pid']} ({m.get('name') or '?'}) maps {fmt_bytes(m['map_size'])}" for m in writers)
    head = cap.mismatch_text() or f"live writers map different sizes ({each})"
    return f"{head}." + (f" Writers: {each}." if len(writers) > 1 else "")


def _large_values(t, th: Thresholds, found: Findings, psize: int) -> Warning | None:
    """What hurts: values of 64 KiB and more (warning); a table stored mostly on overflow pages (info).

    Values over about half a page (2 KiB at 4 KiB pages) already go to overflow pages; records of
    a few KiB are normal (cfxdb's are 3-9 KiB) and cost at most a page of slack each.
    """
    if not t.overflow_pages:
        return None
    share = 100.0 * t.overflow_pages * psize / t.bytes if t.bytes else 0.0
    keys, cut = found.largest.get(t.slot) or ([], False)
    named = ", ".join(f"{k} ({fmt_bytes(n)})" for k, n in keys) + (" (among the records scanned within its time limit)" if cut else "")
    if t.max_value >= th.large_value_warning_bytes:
        return Warning(
            "large-values", "warning",
            f"Table {t.label()} stores values up to {fmt_bytes(t.max_value)} on {t.overflow_pages:,} overflow "
            f"pages ({fmt_bytes(t.overflow_bytes)} of values, {share:.0f}% of the table)"
            + (f"; the largest: {named}" if named else "") +
            ". Every update copies the whole value and needs that many free pages in a row, so the file "
            "grows; store large blobs outside the database and keep a pointer.",
            PRACTICE["blobs"], figure=t.max_value, threshold=th.large_value_warning_bytes, subject=t.label(),
            figure_text=f"largest value {fmt_bytes(t.max_value)}",
            threshold_text=f"values of {fmt_bytes(th.large_value_warning_bytes)} or more")
    if share >= th.large_values_overflow_pct:
        return Warning(
            "large-values", "info",
            f"Table {t.label()} keeps {share:.0f}% of its bytes on overflow pages (values up to "
            f"{fmt_bytes(t.max_value)}; each value over about half a page takes whole pages of its own)"
            + (f"; the largest: {named}" if named else "") +
            ". Normal for records of a few KiB; consider it when the table grows large.",
            PRACTICE["blobs"], figure=round(share, 1), threshold=th.large_values_overflow_pct, subject=t.label(),
            figure_text=f"{share:.0f}% of the table on overflow pages, largest value {fmt_bytes(t.max_value)}",
            threshold_text=f"{th.large_values_overflow_pct:g}% of the table's bytes")
    return None


def worst(warnings: list[Warning]) -> str:
    if any(w.severity == "critical" for w in warnings):
        return "critical"
    if any(w.severity == "warning" for w in warnings):
        return "warning"
    return "ok"


def exit_code(warnings: list[Warning]) -> int:
    return EXIT_CODES[worst(warnings)]

