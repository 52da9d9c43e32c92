"""The health rules: one small function per rule id, registered with the unit its figure counts.

A rule reads the snapshot, the thresholds and what sampling and history found
(:class:`~zlmdb_inspect.health.findings.RuleInputs`) and returns its findings; it measures one figure
against a threshold, says what to do, and names the practice it enforces in the words of
zlmdb's ORM best practices guide (``Section: practice``). A new rule: a :class:`RuleId`, a
function here, its row in ``REGISTRY``, a row in the README's Warnings table.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from zlmdb_inspect.core.fmt import fmt_bytes, fmt_duration
from zlmdb_inspect.core.kinds import ProblemKind, RuleId, Severity
from zlmdb_inspect.core.model import Capacity, Snapshot, Table
from zlmdb_inspect.core.options import Thresholds
from zlmdb_inspect.health.findings import Finding, RuleInputs
from zlmdb_inspect.health.timetofull import FULL, GROWING, TimeToFull, clock, live_writer, snapshot_need
from zlmdb_inspect.health.writer_watch import unbatched
from zlmdb_inspect.storage.pageformat import ENGINES

PRACTICE = {
    "sizing": "Deployment Considerations: Database sizing (map_size)",
    "backup": "Deployment Considerations: Backup strategies",
    "multiprocess": "Deployment Considerations: Multi-process access",
    "long-txn": "Common Anti-Patterns to Avoid: Don't use long-lived write transactions",
    "batch": "Common Anti-Patterns to Avoid: Don't commit after every write (batch!)",
    "short-txn": "Transaction Patterns: Short-lived write transactions",
    "blobs": "Common Anti-Patterns to Avoid: Don't store large blobs directly (use pointers)",
    "stats": "Monitoring and Debugging: Database statistics (db.stats())",
    "marshal": "Monitoring and Debugging: marshal() for inspection",
    "schema": "Schema Design: UUID-based table identifiers for versioning",
    "indexes": "Index Usage: Check index lookups return values",
    "json": "Serialization Choices: JSON for debugging only",
    "cbor": "Serialization Choices: CBOR for configuration",
    "mapfull": "Error Handling: MapFullError handling",
    "verify": "Testing Strategies: Verification steps",
    "purge": "Testing Strategies: Database scratching (purge)",  # issue 23
}

#: What each rule watches, one line each (``--list-rules``; the README's Warnings table in full).
SUMMARY: dict[RuleId, str] = {
    RuleId.DAMAGED: "the page walk or --verify found damage",
    RuleId.MAP_HEADROOM: "pages in use near the map size (map_used_warning_pct, map_used_critical_pct)",
    RuleId.MAP_MISMATCH: "live writers map different sizes, or less than the meta page says",
    RuleId.MAP_ETA: "at the current growth the map is full soon (map_eta_warning_s, map_eta_critical_s)",
    RuleId.WRITES_STALLED: "a live writer that was committing has stopped with little space left (writes_stalled_s)",
    RuleId.FREE_PAGES: "many pages free but not reusable, pinned by a reader (free_pages_warning_pct/_bytes)",
    RuleId.LONG_READER: "a read transaction held long or far behind (reader_lag_warning_txns, reader_held_warning_s)",
    RuleId.STALE_READER: "a reader slot of a process that is gone",
    RuleId.READER_SLOTS: "reader slots nearly all in use (reader_slots_warning_pct)",
    RuleId.LARGE_VALUES: "large values, overflow pages (large_value_warning_bytes, large_values_overflow_pct)",
    RuleId.ORPHAN_SLOT: "a slot with data and no metadata",
    RuleId.BAD_METADATA: "an unreadable metadata record",
    RuleId.UNDECODABLE: "records the table's decoder does not read",
    RuleId.INDEX_DRIFT: "sampled index entries pointing to missing records",
    RuleId.JSON_TABLE: "a large table of JSON values (json_table_warning_bytes)",
    RuleId.PICKLE_TABLE: "a table of pickle values",
    RuleId.FORMAT_09: "the LMDB 0.9 data format",
    RuleId.LONG_WRITE_TXN: "a write transaction held long (write_txn_warning_s, write_txn_critical_s)",
    RuleId.UNBATCHED_WRITES: "many commits of few records each (unbatched_min_txns_per_s, "
                             "unbatched_max_records_per_txn)",
    RuleId.DISK_HEADROOM: "the volume allows less than the map and is nearly full (disk_used_warning_pct, "
                          "disk_used_critical_pct)",
    RuleId.FREE_RUNS: "reusable space in runs too short for a table's largest values (free_runs_min_reusable_bytes)",
    RuleId.GROWTH_ETA: "at the growth the records' own time shows over 7 days the map is full soon "
                       "(growth_eta_warning_s, growth_eta_critical_s)",
}

CRITICAL, WARNING, INFO = Severity.CRITICAL, Severity.WARNING, Severity.INFO


@dataclass
class Context:
    """What every rule reads."""

    snap: Snapshot
    th: Thresholds
    found: RuleInputs

    @property
    def cap(self) -> Capacity:
        return self.snap.capacity

    @property
    def psize(self) -> int:
        return self.snap.lmdb.page_size

    @property
    def pinner(self) -> str | None:
        return _pinner_text(self.cap, self.psize)


RuleFn = Callable[[Context], list[Finding]]


@dataclass(frozen=True)
class Rule:
    id: RuleId
    unit: str  # what its figure counts, for figure_text when the rule gives none
    check: RuleFn


def damaged(c: Context) -> list[Finding]:
    damage = list(c.found.damage) + [p.message for p in c.snap.problems if p.kind == ProblemKind.DAMAGED]
    return [Finding(RuleId.DAMAGED, CRITICAL,
                    f"The database file is damaged: {msg}. Do not write to it; restore from a backup "
                    "or copy what is readable.", PRACTICE["verify"], figure=msg) for msg in damage]


def map_headroom(c: Context) -> list[Finding]:
    cap, th, used = c.cap, c.th, c.cap.used_pct
    tt = c.found.time_to_full
    full = tt is not None and tt.state == FULL and cap.limit != "disk"  # a full disk is disk-headroom's
    map_avail = cap.map_available_bytes or cap.available_bytes  # what the map alone allows
    sev = CRITICAL if used >= th.map_used_critical_pct or full else \
        WARNING if used >= th.map_used_warning_pct else None
    if sev is None:
        return []
    reuse = (cap.reusable_pages or 0) * c.psize
    fix = ("Raise map_size (maxsize) in the writer before writes fail with MapFullError."
           if cap.map_source == "writer" else
           "Open the writer with a larger map_size (maxsize) before writes fail with MapFullError.")
    if c.pinner and (cap.pinned_pages or 0) * c.psize >= 0.25 * cap.in_use_bytes:
        fix = f"{c.pinner} {_unpin(cap, c.snap.path)} first; raising map_size only postpones MapFullError."
    thr = th.map_used_critical_pct if sev == CRITICAL else th.map_used_warning_pct
    if full and tt is not None:
        need = max(tt.commit_bytes, snapshot_need(c.snap))
        fix = (f"The map is full: less is available than one commit needs (about {fmt_bytes(need)}, from the "
               f"largest commit seen, the tree's depth and the largest value). "
               + (_failing(tt) if tt.writes_failing else "") + fix)
    return [Finding(
        RuleId.MAP_HEADROOM, sev,
        f"{used:.1f}% of the map is in use ({fmt_bytes(cap.in_use_bytes)} of {fmt_bytes(cap.map_size)}: "
        f"{cap.limit_text()}); {fmt_bytes(map_avail)} available "
        f"({fmt_bytes(max(0, cap.headroom_bytes))} above the high-water mark + {fmt_bytes(reuse)} of "
        f"reusable free pages). {fix}", PRACTICE["sizing"], figure=used, threshold=thr,
        figure_text=f"{used:.1f}% of {fmt_bytes(cap.map_size)} in use ({fmt_bytes(map_avail)} available)",
        threshold_text=f"{thr:g}% in use")]


def _failing(tt: TimeToFull) -> str:
    since = clock(tt.last_commit_at) if tt.last_commit_at is not None else "?"
    return (f"No commit since {since} while the writer lives: its commits most likely fail with MapFullError "
            "since then, and the application may be dropping data. ")


def writes_stalled(c: Context) -> list[Finding]:
    """A live writer that was committing has committed nothing for a while, with less space left than
    its recent commits took: its commits fail with MapFullError (the application may not say so)."""
    tt, th, cap = c.found.time_to_full, c.th, c.cap
    if tt is None or not c.found.history or tt.last_commit_at is None or not live_writer(c.snap):
        return []
    stalled = c.snap.taken_at - tt.last_commit_at
    short = (tt.state == FULL or cap.available_bytes < tt.commit_bytes
             or cap.available_bytes <= 0.01 * cap.map_size)
    if stalled < th.writes_stalled_s or not short:
        return []
    since = clock(tt.last_commit_at)
    return [Finding(
        RuleId.WRITES_STALLED, CRITICAL,
        f"Writes stopped at {since}: {cap.limit_text()} maps the file but has committed nothing for "
        f"{fmt_duration(stalled)} (last txnid {c.snap.lmdb.last_txnid:,}), and only "
        f"{fmt_bytes(cap.available_bytes)} is available, less than its recent commits took "
        f"({fmt_bytes(tt.commit_bytes)} in one commit) or 1% of the map. " + (
            f"The disk, not the map, stops it ({cap.disk_text()}): its commits most likely fail with "
            "MDB_SHORT_WRITE (ENOSPC) (under MDB_WRITEMAP it would die of SIGBUS), and the application may be "
            "dropping data: free space on the volume or move the database, then restart the writer; raising "
            "map_size does not help." if cap.limit == "disk" else
            "Its commits most likely fail with MapFullError, and the application may be dropping data: raise "
            "map_size (maxsize) and restart the writer."), PRACTICE["mapfull"],
        figure=round(stalled, 1), threshold=th.writes_stalled_s,
        figure_text=f"no commit for {fmt_duration(stalled)}, {fmt_bytes(cap.available_bytes)} available",
        threshold_text=f"no commit for {fmt_duration(th.writes_stalled_s)} with less available than a recent "
                       "commit took")]


def map_mismatch(c: Context) -> list[Finding]:
    cap = c.cap
    mism = _map_mismatch(cap)
    if not mism:
        return []
    return [Finding(
        RuleId.MAP_MISMATCH, WARNING,
        f"{mism} Writes fail with MapFullError at {fmt_bytes(cap.map_size)}, not at the meta page's size. "
        "Open the environment with the same map_size (maxsize) in every process that writes, or "
        "raise it in the one that maps less (set_mapsize).", PRACTICE["sizing"],
        figure=cap.map_size, threshold=cap.map_size_meta,
        figure_text=f"smallest writer map {fmt_bytes(cap.map_size)}",
        threshold_text=f"meta page {fmt_bytes(cap.map_size_meta)}; every writer the same")]


def map_eta(c: Context) -> list[Finding]:
    found, th, cap = c.found, c.th, c.cap
    tt = found.time_to_full
    if tt is None or tt.state != GROWING or tt.seconds is None or not found.history:
        return []  # only while growing: full is map-headroom's, idle and not growing are no countdown
    eta = tt.seconds
    sev = CRITICAL if eta < th.map_eta_critical_s else WARNING if eta < th.map_eta_warning_s else None
    if sev is None:
        return []
    pinner = c.pinner
    fix = "Raise map_size or find what is writing."
    if found.growth_pinned and pinner:
        fix = (f"The growth is pages that a reader keeps from reuse, not new data: {pinner} "
               f"{_unpin(cap, c.snap.path)}; raising map_size only postpones it.")
    thr = th.map_eta_critical_s if sev == CRITICAL else th.map_eta_warning_s
    return [Finding(
        RuleId.MAP_ETA, sev,
        f"The map ({fmt_bytes(cap.map_size)}, {cap.limit_text()}) is {tt.text()}. {fix}",
        PRACTICE["mapfull"], figure=round(eta, 1),
        threshold=thr, figure_text=f"full in {fmt_duration(eta)}",
        threshold_text=f"less than {fmt_duration(thr)}",
        subject=str(cap.pinned_by["pid"]) if found.growth_pinned and pinner and cap.pinned_by else None)]


def free_pages(c: Context) -> list[Finding]:
    cap, th, pinner = c.cap, c.th, c.pinner
    used_pages = c.snap.lmdb.last_pgno + 1
    if not used_pages or not cap.free_pages:
        return []
    pct = 100.0 * cap.free_pages / used_pages
    free_b = cap.free_pages * c.psize
    if pct < th.free_pages_warning_pct or free_b < th.free_pages_warning_bytes:
        return []
    fix = _compaction_text(c) + " The writer reuses the reusable ones."
    if pinner and (cap.pinned_pages or 0) >= 0.5 * cap.free_pages:
        fix = f"Most of them cannot be reused: {pinner} {_unpin(cap, c.snap.path)} so the writer reuses them."
    return [Finding(
        RuleId.FREE_PAGES, WARNING,
        f"{cap.free_pages:,} pages ({pct:.0f}% of the {used_pages:,} used, {fmt_bytes(free_b)}; "
        f"{cap.reusable_pages if cap.reusable_pages is not None else '?'} reusable now) are free but keep "
        f"the file large. {fix}", PRACTICE["backup"], figure=round(pct, 1),
        threshold=th.free_pages_warning_pct,
        figure_text=f"{pct:.1f}% of used pages free ({fmt_bytes(free_b)})",
        threshold_text=f"{th.free_pages_warning_pct:g}% and at least {fmt_bytes(th.free_pages_warning_bytes)}",
        subject=str(cap.pinned_by["pid"]) if pinner and cap.pinned_by and fix.startswith("Most of them") else None)]


def _compaction_text(c: Context) -> str:
    """Which compaction pays, with its command (issue 29 item 4): a compacting copy keeps half-full
    leaves as they are, a rewrite in key order fills them."""
    cap = c.cap
    path, dest = _q(c.snap.path), _q(c.snap.path.rstrip("/") + ".compact")
    copy_cmd = f"`python -m zlmdb._lmdb_vendor copy --compact -e {path} {dest}`" + (
        f" (or `mdb_copy -c {path} {dest}`)" if c.snap.lmdb.format == "0.9" else "")
    if not cap.compact:
        return f"A compacting copy ({copy_cmd}) makes a smaller file."
    copy_b, rewrite_b = cap.compact["copy_bytes"], cap.compact["rewrite_bytes"]
    text = (f"A compacting copy ({copy_cmd}) would write {fmt_bytes(copy_b)} of the file's "
            f"{fmt_bytes(cap.file_size)}; rewriting the records in key order would write {fmt_bytes(rewrite_b)}.")
    if rewrite_b < 0.9 * copy_b:
        how = ("the application's own migration, a copy of every record in key order with put(append=True)"
               + (f", or `mkdir {dest} && mdb_dump {path} | mdb_load -a {dest}` with an mdb_load that has -a"
                  if c.snap.lmdb.format == "0.9" else ""))
        text += f" The copy keeps half-full leaves as they are: the rewrite pays ({how})."
    else:
        text += " The leaves are full already: the compacting copy pays."
    return text


def _pinned_by(c: Context, pid: int) -> int:
    """Bytes of freed pages reader ``pid`` keeps from reuse (0: it is not the one)."""
    cap = c.cap
    if cap.pinned_by and cap.pinned_by.get("pid") == pid and cap.pinned_pages:
        return cap.pinned_pages * c.psize
    return 0


def stale_reader(c: Context) -> list[Finding]:
    out = []
    for r in c.snap.readers:
        if r.txnid is None or r.own or r.alive is not False:
            continue
        pinned = _pinned_by(c, r.pid)
        note = f" ({fmt_bytes(pinned)} of freed pages so far)" if pinned else ""
        out.append(Finding(
            RuleId.STALE_READER, WARNING,
            f"Reader slot of pid {r.pid} holds snapshot {r.txnid}, but that process is dead: it holds no "
            f"liveness lock on lock.mdb. The slot keeps pages freed since then from reuse{note}, so the "
            "file grows. LMDB does not clear it when a writer opens the environment; clear it safely while "
            f"the application runs with `python -m zlmdb._lmdb_vendor readers -e {_q(c.snap.path)} -c` (LMDB's "
            "mdb_reader_check, like `mdb_stat -rr`), run by the database's owner: it removes only slots "
            "whose process is gone. Restarting every process that has the environment open also resets "
            "the reader table. Processes sharing a database must share one PID namespace.",
            PRACTICE["multiprocess"], figure=r.pid, subject=str(r.pid),
            figure_text=f"pid {r.pid} not alive, snapshot {r.txnid}"
                        + (f" (lag {r.lag:,} transactions)" if r.lag is not None else ""),
            threshold_text="the process must be alive"))
    return out


def long_reader(c: Context) -> list[Finding]:
    th, out = c.th, []
    pins_limit = _long_reader_bytes(c)
    for r in c.snap.readers:
        if r.txnid is None or r.own or r.alive is False:
            continue
        held = r.held_s  # observed across refreshes by the monitor; None in a single run
        long_lag = r.lag is not None and r.lag > th.reader_lag_warning_txns
        long_held = held is not None and held > th.reader_held_warning_s
        long_pins = bool(r.pins_bytes) and (r.pins_bytes or 0) >= pins_limit
        if not (long_lag or long_held or long_pins):
            continue
        what = []
        if long_lag:
            what.append(f"lags {r.lag:,} transactions behind")
        if long_held and held is not None:
            what.append(f"has held its snapshot for {fmt_duration(held)}")
        if long_pins:
            what.append(f"pins {fmt_bytes(r.pins_bytes or 0)} of freed pages")
        pinned = _pinned_by(c, r.pid)
        note = (f" (it pins {pinned // c.psize:,} freed pages, {fmt_bytes(pinned)}, that the writer cannot "
                "reuse while it reads, so the file grows although records are deleted)") if pinned else ""
        figs = []
        if r.lag is not None:
            figs.append(f"lag {r.lag:,} transactions")
        if held is not None:
            figs.append(f"held {fmt_duration(held)}")
        if r.pins_bytes is not None:
            figs.append(f"pins {fmt_bytes(r.pins_bytes)}"
                        + (f", ending it releases {fmt_bytes(r.releases_bytes)}" if r.releases_bytes else ""))
        out.append(Finding(
            RuleId.LONG_READER, WARNING,
            f"Reader pid {r.pid}{f' ({r.name})' if r.name else ''} " + " and ".join(what) +
            f". A long read transaction stops LMDB from reusing pages{note or ', so the file grows'}; keep read "
            "transactions short.", PRACTICE["short-txn"],
            figure={"lag": r.lag, "held_s": held, "pins_bytes": r.pins_bytes},
            threshold={"lag": th.reader_lag_warning_txns, "held_s": th.reader_held_warning_s,
                       "pins_bytes": pins_limit},
            subject=str(r.pid), figure_text=", ".join(figs),
            threshold_text=f"lag over {th.reader_lag_warning_txns:,} transactions, held over "
                           f"{fmt_duration(th.reader_held_warning_s)} or pinning {fmt_bytes(pins_limit)}"))
    return out


def _long_reader_bytes(c: Context) -> int:
    """Bytes pinned that make a reader long (issue 29 item 3): the threshold, else the smaller of
    1 GiB and a quarter of the map (a small map fills long before a gibibyte is pinned)."""
    if c.th.long_reader_bytes > 0:
        return c.th.long_reader_bytes
    return min(1 << 30, c.cap.map_size // 4) if c.cap.map_size else 1 << 30


def long_write_txn(c: Context) -> list[Finding]:
    """One thread inside a write transaction, seen at every refresh without a commit, for long."""
    w, th = c.found.writer, c.th
    if w is None or not w.held or w.held_s is None:
        return []
    held = w.held_s
    sev = CRITICAL if held >= th.write_txn_critical_s else WARNING if held >= th.write_txn_warning_s else None
    if sev is None:
        return []
    thr = th.write_txn_critical_s if sev == CRITICAL else th.write_txn_warning_s
    who = (f"Writer pid {w.pid}{f' ({w.name})' if w.name else ''}, thread {w.tid},"
           if w.pid is not None else f"Writer thread {w.tid} ({w.reason}),")
    return [Finding(
        RuleId.LONG_WRITE_TXN, sev,
        f"{who} has held LMDB's write lock for {fmt_duration(held)} without committing. Every other "
        "write transaction, in this and any other process, waits until it ends, and nothing it wrote "
        "is visible to readers until it commits. Keep write transactions short: read and compute "
        "outside them, then write and commit at once.", PRACTICE["short-txn"],
        figure=held, threshold=thr, subject=str(w.pid) if w.pid is not None else f"thread {w.tid}",
        figure_text=f"write txn open {fmt_duration(held)}",
        threshold_text=f"open {fmt_duration(th.write_txn_warning_s)} (critical "
                       f"{fmt_duration(th.write_txn_critical_s)})")]


def unbatched_writes(c: Context) -> list[Finding]:
    """Many commits a second, each changing about one record: writes not batched."""
    b, th = c.found.batching, c.th
    if b is None or b.records_per_commit is None or not unbatched(
            b, th.unbatched_min_txns_per_s, th.unbatched_max_records_per_txn):
        return []
    labels = {t.slot: t.label() for t in c.snap.tables}
    slots = b.attributed()
    subject = None
    where = ""
    if len(slots) == 1:
        subject = labels.get(slots[0], f"slot {slots[0]}")
        where = f" The changes are all in table {subject}."
    elif slots:
        where = " Changes by table: " + ", ".join(
            f"{labels.get(s, f'slot {s}')} {100 * b.share(s):.0f}%" for s in slots[:5]) + "."
    who = ", ".join(f"pid {pid} ({name or '?'})" for pid, name in c.found.writers_seen)
    seen = f" Seen holding the write lock: {who}." if who else ""
    rpc = b.records_per_commit
    records = f"{rpc:g} record{'' if rpc == 1 else 's'}"
    return [Finding(
        RuleId.UNBATCHED_WRITES, WARNING,
        f"{b.commits_per_s:,.0f} commits/s over the last {fmt_duration(b.window_s)}, each changing "
        f"{records} on average (inserts and deletes; updates in place are not visible from "
        f"outside).{where}{seen} Every commit writes new pages from the root to each changed leaf and a "
        "meta page, and syncs to disk unless sync is off: put many writes in one transaction (one "
        "`with db.begin(write=True)` per batch).", PRACTICE["batch"],
        figure={"commits_per_s": b.commits_per_s, "records_per_commit": rpc},
        threshold={"commits_per_s": th.unbatched_min_txns_per_s,
                   "records_per_commit": th.unbatched_max_records_per_txn},
        subject=subject, figure_text=f"{b.commits_per_s:,.0f} commits/s, {records} per commit",
        threshold_text=f"more than {th.unbatched_min_txns_per_s:g} commits/s with fewer than "
                       f"{th.unbatched_max_records_per_txn:g} records per commit")]


def reader_slots(c: Context) -> list[Finding]:
    env, th = c.snap.lmdb, c.th
    if not (env.locking and env.max_readers):
        return []
    in_use = sum(1 for r in c.snap.readers if not r.own)  # ours lasts milliseconds
    pct = 100.0 * in_use / env.max_readers
    if pct < th.reader_slots_warning_pct:
        return []
    return [Finding(
        RuleId.READER_SLOTS, WARNING,
        f"{in_use} of {env.max_readers} reader slots are in use; beyond that, new readers fail "
        "with ReadersFullError.", PRACTICE["multiprocess"], figure=round(pct, 1),
        threshold=th.reader_slots_warning_pct,
        figure_text=f"{in_use} of {env.max_readers} slots ({pct:.0f}%)",
        threshold_text=f"{th.reader_slots_warning_pct:g}% of slots")]


def large_values(c: Context) -> list[Finding]:
    """What hurts: values of 64 KiB and more (warning); a table stored mostly on overflow pages (info).

    Values over about half a page (2 KiB at 4 KiB pages) already go to overflow pages; records of
    a few KiB are normal (cfxdb's are 3-9 KiB) and cost at most a page of slack each.
    """
    return [f for t in c.snap.tables if (f := _large_values(t, c)) is not None]


def _large_values(t: Table, c: Context) -> Finding | None:
    th = c.th
    if not t.overflow_pages:
        return None
    share = 100.0 * t.overflow_pages * c.psize / t.bytes if t.bytes else 0.0
    keys, cut = c.found.largest.get(t.slot) or ([], False)
    named = ", ".join(f"{k} ({fmt_bytes(n)})" for k, n in keys) + (
        " (among the records scanned within its time limit)" if cut else "")
    largest = f"; the largest: {named}" if named else ""
    if t.max_value >= th.large_value_warning_bytes:
        return Finding(
            RuleId.LARGE_VALUES, WARNING,
            f"Table {t.label()} stores values up to {fmt_bytes(t.max_value)} on {t.overflow_pages:,} overflow "
            f"pages ({fmt_bytes(t.overflow_bytes)} of values, {share:.0f}% of the table){largest}"
            ". Every update copies the whole value and needs that many free pages in a row, so the file "
            "grows; store large blobs outside the database and keep a pointer.",
            PRACTICE["blobs"], figure=t.max_value, threshold=th.large_value_warning_bytes, subject=t.label(),
            figure_text=f"largest value {fmt_bytes(t.max_value)}",
            threshold_text=f"values of {fmt_bytes(th.large_value_warning_bytes)} or more")
    if share >= th.large_values_overflow_pct:
        return Finding(
            RuleId.LARGE_VALUES, INFO,
            f"Table {t.label()} keeps {share:.0f}% of its bytes on overflow pages (values up to "
            f"{fmt_bytes(t.max_value)}; each value over about half a page takes whole pages of its own)"
            f"{largest}. Normal for records of a few KiB; consider it when the table grows large.",
            PRACTICE["blobs"], figure=round(share, 1), threshold=th.large_values_overflow_pct, subject=t.label(),
            figure_text=f"{share:.0f}% of the table on overflow pages, largest value {fmt_bytes(t.max_value)}",
            threshold_text=f"{th.large_values_overflow_pct:g}% of the table's bytes")
    return None


def orphan_slot(c: Context) -> list[Finding]:
    return [Finding(
        RuleId.ORPHAN_SLOT, WARNING,
        f"Slot {t.slot} holds {t.records} records but has no metadata record, so no table owns it. "
        "Attach it with @zlmdb.table (a UUID oid) or remove the data.",
        PRACTICE["schema"], figure=t.records, subject=f"slot {t.slot}")
        for t in c.snap.tables if not t.metadata and t.records]


def bad_metadata(c: Context) -> list[Finding]:
    return [Finding(RuleId.BAD_METADATA, WARNING, f"A table metadata record cannot be read: {p.message}.",
                    PRACTICE["schema"], figure=p.message, subject=f"slot {p.slot}" if p.slot is not None else None)
            for p in c.snap.problems if p.kind == ProblemKind.BAD_METADATA]


def undecodable(c: Context) -> list[Finding]:
    out = []
    for table, u in sorted(c.found.undecodable.items()):
        bad = max(u.codec_seen, u.codec_sampled)
        if bad:
            sampled = f"{u.codec_sampled} of {u.sampled} sampled records" if u.sampled else "records"
            seen = f" ({u.codec_seen} seen in all)" if u.codec_seen > u.codec_sampled else ""
            out.append(Finding(
                RuleId.UNDECODABLE, WARNING,
                f"Table {table}: {sampled}{seen} cannot be read by any decoder of the table"
                f"{': ' + u.codec_example if u.codec_example else ''}. Browse the table to see them; "
                "damaged or foreign records need repair or removal by the application.",
                PRACTICE["marshal"], figure=bad, subject=table))
        app = max(u.app_seen, u.app_sampled)
        if app:
            sampled = f"{u.app_sampled} of {u.sampled} sampled records" if u.sampled else f"{app} records"
            out.append(Finding(
                RuleId.UNDECODABLE, INFO,
                f"Table {table}: the application's own decoder raises on {sampled}"
                f"{': ' + u.app_example if u.app_example else ''}. The built-in decoder of the table's "
                "type reads the bytes, so this is the application's code, not damaged data.",
                PRACTICE["marshal"], figure=app, subject=table))
    return out


def index_drift(c: Context) -> list[Finding]:
    return [Finding(RuleId.INDEX_DRIFT, WARNING, f"Index {index}: {why}. Rebuild it (rebuild_index).",
                    PRACTICE["indexes"], figure=why, subject=index) for index, why in c.found.index_drift]


def json_table(c: Context) -> list[Finding]:
    return [Finding(
        RuleId.JSON_TABLE, WARNING,
        f"Table {table} stores JSON values ({fmt_bytes(size)}). JSON is for debugging; use "
        "CBOR or FlatBuffers for data at rest.", PRACTICE["json"], figure=size,
        threshold=c.th.json_table_warning_bytes, subject=table)
        for table, size in sorted(c.found.json_tables.items()) if size >= c.th.json_table_warning_bytes]


def pickle_table(c: Context) -> list[Finding]:
    return [Finding(
        RuleId.PICKLE_TABLE, WARNING,
        f"Table {table} stores pickle values: loading them runs code, and only Python can read them. "
        "Use CBOR or FlatBuffers.", PRACTICE["cbor"], subject=table) for table in sorted(c.found.pickle_tables)]


def format_09(c: Context) -> list[Finding]:
    if c.snap.lmdb.format != "0.9":
        return []
    return [Finding(
        RuleId.FORMAT_09, INFO,
        "The database uses LMDB's 0.9 data format; zlmdb writes 1.0 by default for new databases, and "
        "reads both. To migrate, stop the writers and copy the records into a new environment opened "
        "with zlmdb's 1.0 engine (zlmdb.lmdb.open(NEW, lib_version=1), or zlmdb.Database(NEW, "
        "lib_version=\"1.0\")), then swap the directories; env.copy() and mdb_copy keep the 0.9 format "
        "(they copy pages). The README's \"Migrating a 0.9 database\" has the script.",
        PRACTICE["stats"], figure="0.9", figure_text="LMDB data format 0.9",
        threshold_text="format 1.0 (zlmdb's default)")]


# -- issue 29 items 1-2: the disk beside the map, free runs -----------------------------------------

# a page header by format: what an overflow value's first page loses
HEADER_BYTES = {fmt: hdr for hdr, (fmt, *_) in ENGINES.items()}


def disk_headroom(c: Context) -> list[Finding]:
    """The volume allows less than the map: writes fail there first, and raising map_size does not help."""
    cap, th, fs = c.cap, c.th, c.cap.filesystem
    if not fs or cap.limit != "disk" or not fs["size_bytes"]:
        return []
    pct = 100.0 * (fs["size_bytes"] - fs["free_bytes"]) / fs["size_bytes"]
    need = snapshot_need(c.snap)
    tt = c.found.time_to_full
    full = cap.available_bytes < need or (tt is not None and tt.state == FULL)
    sev = CRITICAL if full or pct >= th.disk_used_critical_pct else \
        WARNING if pct >= th.disk_used_warning_pct else None
    if sev is None:
        return []
    mount = fs["mount"]
    head = (f"The volume {mount} is full for this database: {fmt_bytes(cap.available_bytes)} available, less than "
            f"one commit needs (about {fmt_bytes(need)}). {_stopped_by_disk(c, tt)}"
            if full else
            f"The volume {mount} is {pct:.1f}% full ({fmt_bytes(fs['free_bytes'])} free of "
            f"{fmt_bytes(fs['size_bytes'])}): it allows {fmt_bytes(cap.available_bytes)}, less than the map's "
            f"{fmt_bytes(cap.map_available_bytes)}, so writes fail at the disk first. ")
    thr = th.disk_used_critical_pct if sev == CRITICAL else th.disk_used_warning_pct
    return [Finding(
        RuleId.DISK_HEADROOM, sev,
        head + f"Free space on {mount} or move the database to a larger volume; raising map_size does not help.",
        PRACTICE["sizing"], figure=round(pct, 2), threshold=thr, subject=mount,
        figure_text=f"{pct:.1f}% of {mount} in use ({fmt_bytes(fs['free_bytes'])} free)",
        threshold_text=f"{thr:g}% of the volume in use, or less available than one commit needs")]


def _stopped_by_disk(c: Context, tt: TimeToFull | None) -> str:
    """What a full volume does to the writer, and that it is the disk and not the map: a writer that
    died of it (none maps the file now) or one whose commits fail (no commit since, while it lives)."""
    how = ("its commit failed with MDB_SHORT_WRITE (\"Fewer bytes were written than requested\", the disk's "
           "ENOSPC), or, mapping with MDB_WRITEMAP, it died of SIGBUS on a page without a block behind it")
    last = f"the last commit (txnid {c.snap.lmdb.last_txnid:,}) is intact, LMDB writes the meta page last"
    if not live_writer(c.snap):
        return (f"No process maps the file for writing now: a writer that was writing here was stopped by the disk, "
                f"not the map — {how}; {last}. Restart the writer once the volume has room. ")
    if tt is not None and tt.writes_failing:
        since = clock(tt.last_commit_at) if tt.last_commit_at is not None else "?"
        return (f"The writer ({c.cap.limit_text()}) has committed nothing since {since}: the disk, not the map, "
                f"stops it — {how}; the application may be dropping data. ")
    return (f"The next commit of the writer ({c.cap.limit_text()}) fails at the disk, not the map — "
            f"{how}. ")


def free_runs(c: Context) -> list[Finding]:
    """Reusable space is plentiful but in runs too short for a table's largest values: each new one
    extends the file (LMDB stores a value over about half a page on consecutive pages)."""
    cap, th = c.cap, c.th
    runs = cap.free_runs
    reusable = (cap.reusable_pages or 0) * c.psize
    if runs is None or reusable < th.free_runs_min_reusable_bytes:
        return []
    largest = runs["largest_pages"]
    hdr = HEADER_BYTES.get(c.snap.lmdb.format, 16)
    fits = max(0, largest * c.psize - hdr)  # the largest value that a run holds
    out = []
    for t in c.snap.tables:
        if not t.overflow_pages or not t.max_value:
            continue
        need = (hdr - 1 + t.max_value) // c.psize + 1
        if need <= largest:
            continue
        out.append(Finding(
            RuleId.FREE_RUNS, WARNING,
            f"{fmt_bytes(reusable)} reusable, but no run of more than {largest:,} page{'' if largest == 1 else 's'}: "
            f"each new value of `{t.label()}` over {fmt_bytes(fits)} extends the file (its largest, "
            f"{fmt_bytes(t.max_value)}, needs {need:,} consecutive pages). A compacting copy "
            "(mdb_copy -c) makes the free space one run again.", PRACTICE["blobs"],
            figure=largest, threshold=need, subject=t.label(),
            figure_text=f"largest free run {largest:,} pages of {fmt_bytes(reusable)} reusable",
            threshold_text=f"{need:,} consecutive pages for a value of {fmt_bytes(t.max_value)}"))
    return out


# -- end issue 29 items 1-2 ----------------------------------------------------------------------------


def _q(path: str) -> str:
    """A path quoted for a shell command in a message (shown through textsafe by the clients)."""
    return shlex.quote(path)


def _pinner_text(cap: Capacity, psize: int) -> str | None:
    """The reader whose snapshot keeps freed pages from reuse, in words, or None."""
    p = cap.pinned_by
    if not p or not cap.pinned_pages:
        return None
    who = f"reader pid {p['pid']}" + (f" ({p['name']})" if p.get("name") else "")
    if p.get("alive") is False:
        who += ", a dead process's stale slot"
    return (f"{who} pins {fmt_bytes(cap.pinned_pages * psize)} of freed pages "
            f"(its snapshot lags {p['lag']:,} transactions).")


def _unpin(cap: Capacity, path: str) -> str:
    """What frees the pinned pages: end the reader's transaction, or clear a dead process's slot."""
    if cap.pinned_by and cap.pinned_by.get("alive") is False:
        return (f"Clear that stale slot (`python -m zlmdb._lmdb_vendor readers -e {_q(path)} -c`, "
                "see stale-reader)")
    return "End that read transaction (or restart that process)"


def _map_mismatch(cap: Capacity) -> str | None:
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


# -- issue 23: growth from the records' own time ------------------------------------------------

def growth_eta(c: Context) -> list[Finding]:
    """Time to full at the bytes per day the time-ordered tables added over their last 7 days: one
    run is enough (the records carry their history); the live rate stays the short-term view."""
    g, th, cap = c.cap.growth, c.th, c.cap
    if g is None or g.eta_full_s is None or g.bytes_per_day is None:
        return []
    eta = g.eta_full_s
    sev = CRITICAL if eta < th.growth_eta_critical_s else WARNING if eta < th.growth_eta_warning_s else None
    if sev is None:
        return []
    top = next((r for r in g.tables if not r["purged"]), g.tables[0])
    kept = ("looks purged: its oldest record moves" if top["purged"]
            else "no purge seen: its oldest record has not moved while watched" if top["purged"] is False
            else "kept so far: no purge seen in this run (watch it, or run again, to see its oldest record move)")
    tt = c.found.time_to_full
    live = (f"The live rate (short term, {'over the watched history' if c.found.history else 'needs 30 s of history'}) "
            f"says: {tt.text()}." if tt is not None else "")
    thr = th.growth_eta_critical_s if sev == CRITICAL else th.growth_eta_warning_s
    return [Finding(
        RuleId.GROWTH_ETA, sev,
        f"At the records' own growth ({g.basis}), the map ({fmt_bytes(cap.map_size)}, {cap.limit_text()}) is "
        f"full in {fmt_duration(eta)}. The fastest-growing table is {top['table']} "
        f"({fmt_bytes(top['bytes_per_day'])}/day), {kept}. {live} Raise map_size, or delete old records "
        f"(a retention window) so their pages are reused.",
        f"{PRACTICE['sizing']}; {PRACTICE['purge']}", figure=round(eta, 1), threshold=thr,
        figure_text=f"full in {fmt_duration(eta)} at {fmt_bytes(g.bytes_per_day)}/day",
        threshold_text=f"less than {fmt_duration(thr)}", subject=top["table"])]


#: The rules in the order their findings are listed, each with the unit its figure counts. Listed
#: here, not registered by a decorator: mutmut does not mutate decorated functions.
REGISTRY: dict[RuleId, Rule] = {r.id: r for r in (
    Rule(RuleId.DAMAGED, "", damaged),
    Rule(RuleId.MAP_HEADROOM, "%", map_headroom),
    Rule(RuleId.WRITES_STALLED, "s", writes_stalled),
    Rule(RuleId.MAP_MISMATCH, "B", map_mismatch),
    Rule(RuleId.MAP_ETA, "s", map_eta),
    Rule(RuleId.FREE_PAGES, "%", free_pages),
    Rule(RuleId.STALE_READER, "", stale_reader),
    Rule(RuleId.LONG_READER, "", long_reader),
    Rule(RuleId.LONG_WRITE_TXN, "s", long_write_txn),
    Rule(RuleId.UNBATCHED_WRITES, "", unbatched_writes),
    Rule(RuleId.READER_SLOTS, "%", reader_slots),
    Rule(RuleId.LARGE_VALUES, "B", large_values),
    Rule(RuleId.ORPHAN_SLOT, "records", orphan_slot),
    Rule(RuleId.BAD_METADATA, "", bad_metadata),
    Rule(RuleId.UNDECODABLE, "records", undecodable),
    Rule(RuleId.INDEX_DRIFT, "", index_drift),
    Rule(RuleId.JSON_TABLE, "B", json_table),
    Rule(RuleId.PICKLE_TABLE, "", pickle_table),
    Rule(RuleId.FORMAT_09, "", format_09),
    Rule(RuleId.DISK_HEADROOM, "%", disk_headroom),
    Rule(RuleId.FREE_RUNS, "pages", free_runs),
    Rule(RuleId.GROWTH_ETA, "s", growth_eta),
)}
