"""Prometheus metrics on the official client: one collector for every database of a run.

The collector turns per-database results (:class:`fleet.DatabaseResult`, from any callable) into
metric families at each collection, so ``--serve-metrics`` answers every scrape with fresh figures
and ``--prometheus`` prints (or atomically writes) the same families once. A figure that was not
measured (reader table not read, no history for a time to full) is left out, never shown as 0.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest, start_http_server, write_to_textfile
from prometheus_client.registry import Collector, CollectorRegistry

from zlmdb_inspect.core.errors import InspectError
from zlmdb_inspect.core.textsafe import visible
from zlmdb_inspect.reports.document import other_readers
from zlmdb_inspect.service import prometheus_value
from zlmdb_inspect.service.fleet import DatabaseResult

Source = Callable[[], Iterable[DatabaseResult]]

SEVERITIES = ("critical", "warning", "info")

# name (without zlmdb_), kind, help, extra labels: the metrics every database reports
FAMILIES: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("map_size_bytes", "gauge",
     "Effective map size: the smallest map of a live process that can write, else the meta page's.", ()),
    ("map_size_meta_bytes", "gauge", "Map size stored in the meta page (the largest any writer set).", ()),
    ("map_live_writer", "gauge", "1 if a live process that can write sets the map size, 0 if the meta page does.", ()),
    ("process_map_bytes", "gauge", "Length of each live process's mapping of data.mdb (/proc/PID/maps).",
     ("pid", "process", "writer")),
    ("used_bytes", "gauge", "High-water mark: (last_pgno + 1) * page size.", ()),
    ("in_use_bytes", "gauge", "High-water mark minus reusable free pages.", ()),
    ("available_bytes", "gauge", "Effective map size minus pages in use: room left before MapFullError.", ()),
    ("headroom_bytes", "gauge", "Effective map size minus the high-water mark.", ()),
    ("used_ratio", "gauge", "Pages in use over the effective map size.", ()),
    ("file_size_bytes", "gauge", "Size of data.mdb.", ()),
    ("free_pages", "gauge", "Pages on LMDB's freelist.", ()),
    ("reusable_pages", "gauge", "Free pages the writer can reuse now.", ()),
    ("pinned_pages", "gauge", "Free pages the oldest reader's snapshot keeps from reuse.", ()),
    ("time_to_full_seconds", "gauge",
     "Seconds until pages in use reach the map (0: full; +Inf: idle or not growing; absent while measuring).", ()),
    ("page_size_bytes", "gauge", "LMDB page size.", ()),
    ("entries", "gauge", "Entries in the main database.", ()),
    ("last_txnid", "gauge", "Id of the last committed transaction.", ()),
    ("transactions", "counter", "Write transactions committed (the last transaction id).", ()),
    ("table_records", "gauge", "Records per table (slot).", ("table", "slot")),
    ("table_bytes", "gauge", "Bytes of leaf and overflow pages per table (slot).", ("table", "slot")),
    ("readers", "gauge", "Reader slots in use by processes other than this inspector.", ()),
    ("max_readers", "gauge", "Reader slots available.", ()),
    ("reader_max_lag_txns", "gauge", "Largest lag of a reader behind the last transaction.", ()),
    ("reader_longest_hold_seconds", "gauge", "Longest time a reader has held one snapshot (observed).", ()),
    ("stale_readers", "gauge", "Reader slots whose process is not alive.", ()),
    # -- issue 29 items 3-4: what each reader pins, what a compaction returns --
    ("reader_pins_bytes", "gauge",
     "Bytes of pages freed after each reader's snapshot, kept from reuse while it reads.", ("pid",)),
    ("compact_copy_bytes", "gauge", "Size of the file a compacting copy (mdb_copy -c) would write.", ()),
    ("compact_rewrite_bytes", "gauge", "Size of the file rewriting the records in key order would write.", ()),
    # -- end issue 29 items 3-4 --
    ("warnings", "gauge", "Warnings by severity.", ("severity",)),
    ("warning", "gauge", "Active warnings (1 each) by rule id, severity and subject.", ("id", "severity", "subject")),
    ("refresh_age_seconds", "gauge", "Age of the figures reported at this scrape (a reused snapshot is older).", ()),
    ("up", "gauge", "1 if the database could be inspected.", ()),
    ("state_saved", "gauge",
     "1 if the state between runs was written at the last save (rates and time to full have a history), "
     "0 if it could not be (each run says measuring); absent without state (--no-state).", ()),
    # -- issue 29 items 1-2: the disk beside the map, free runs --
    ("filesystem_free_bytes", "gauge",
     "Free bytes an unprivileged writer may use on the volume holding data.mdb (statvfs f_bavail).", ("mount",)),
    ("filesystem_size_bytes", "gauge", "Size of the volume holding data.mdb.", ("mount",)),
    ("limit_disk", "gauge", "1 if the volume allows less than the map (available_bytes is the disk's), else 0.", ()),
    ("free_run_largest_pages", "gauge",
     "Most consecutive reusable pages one write finds (a larger value extends the file).", ()),
    # issue 23: growth from the records' own time
    ("table_growth_bytes_per_day", "gauge",
     "Bytes per day a time-ordered table added over the last 7 days of its records' own time.", ("table", "slot")),
    ("table_newest_record_timestamp_seconds", "gauge", "Time of a table's newest record (its own time).",
     ("table", "slot")),
    ("table_oldest_record_timestamp_seconds", "gauge", "Time of a table's oldest record (its own time).",
     ("table", "slot")),
    ("growth_time_to_full_seconds", "gauge",
     "Seconds until the map is full at the 7-day growth of the records' own time (absent: no rate).", ()),
]

Sample = tuple[tuple[str, ...], float]


def _label(v: Any) -> str:
    """Label values from data: control characters written visibly; the client escapes the rest."""
    return visible("" if v is None else str(v))


def database_label(path: str) -> str:
    """A database's ``path`` label: its directory as typed, also when given as ``…/data.mdb`` or with
    a trailing slash (one series per database, whichever way it was named)."""
    import os

    p = path.rstrip(os.sep) or os.sep
    if os.path.basename(p) == "data.mdb":
        p = os.path.dirname(p) or "."
    return p


def _disk_samples(cap: Any, add: Callable[..., None]) -> None:
    """Issue 29: the volume's figures and the longest free run (absent where not measured)."""
    fs = cap.filesystem
    if fs is not None:
        add("filesystem_free_bytes", fs["free_bytes"], fs["mount"])
        add("filesystem_size_bytes", fs["size_bytes"], fs["mount"])
        add("limit_disk", 1 if cap.limit == "disk" else 0)
    if cap.free_runs is not None:
        add("free_run_largest_pages", cap.free_runs["largest_pages"])


def database_samples(res: DatabaseResult, now: float) -> dict[str, list[Sample]]:
    """One database's samples by family name; labels after ``path`` in the family's order."""
    out: dict[str, list[Sample]] = {}

    def add(name: str, value: Any, *labels: Any) -> None:
        if value is None:
            return
        out.setdefault(name, []).append((tuple(_label(v) for v in labels), float(value)))

    snap = res.snapshot
    if not res.up or snap is None:
        add("up", 0)
        return out
    cap, env = snap.capacity, snap.lmdb
    add("map_size_bytes", cap.map_size)
    add("map_size_meta_bytes", cap.map_size_meta)
    add("map_live_writer", 1 if cap.map_source == "writer" else 0)
    for m in cap.maps:
        if m.get("map_size"):
            add("process_map_bytes", m["map_size"], m["pid"], m.get("name") or "", "1" if m.get("writable") else "0")
    add("used_bytes", cap.used_bytes)
    add("in_use_bytes", cap.in_use_bytes)
    add("available_bytes", cap.available_bytes)
    add("headroom_bytes", cap.headroom_bytes)
    add("used_ratio", round(cap.used_pct / 100.0, 6))
    add("file_size_bytes", cap.file_size)
    add("free_pages", cap.free_pages)
    add("reusable_pages", cap.reusable_pages)
    add("pinned_pages", cap.pinned_pages if env.locking else None)
    add("time_to_full_seconds", prometheus_value(res.eta))
    _disk_samples(cap, add)
    add("page_size_bytes", env.page_size)
    add("entries", env.entries)
    add("last_txnid", env.last_txnid)
    add("transactions", env.last_txnid)
    for t in snap.tables:
        name = t.name or f"slot-{t.slot}"
        add("table_records", t.records, name, t.slot)
        add("table_bytes", t.bytes, name, t.slot)
        if t.time is not None:  # issue 23: growth from the records' own time
            add("table_growth_bytes_per_day", t.time.rate_7d, name, t.slot)
            add("table_newest_record_timestamp_seconds", t.time.newest_s, name, t.slot)
            add("table_oldest_record_timestamp_seconds", t.time.oldest_s, name, t.slot)
    readers = other_readers(snap)
    add("readers", readers)
    add("max_readers", env.max_readers)
    if readers is not None:
        others = [r for r in snap.readers if not r.own]
        add("reader_max_lag_txns", max((r.lag for r in others if r.lag is not None), default=0))
        held = [r.held_s for r in others if r.held_s is not None]
        add("reader_longest_hold_seconds", float(max(held)) if held else (0.0 if not others else None))
        add("stale_readers", sum(1 for r in snap.readers if r.alive is False))
        # -- issue 29 item 3: one series per pid (its oldest slot pins what its others pin, and more) --
        pins: dict[int, int] = {}
        for r in others:
            if r.pins_bytes is not None:
                pins[r.pid] = max(pins.get(r.pid, 0), r.pins_bytes)
        for pid, b in sorted(pins.items()):
            add("reader_pins_bytes", b, pid)
    # -- issue 29 item 4 --
    if cap.compact is not None:
        add("compact_copy_bytes", cap.compact["copy_bytes"])
        add("compact_rewrite_bytes", cap.compact["rewrite_bytes"])
    sev = [str(w.severity) for w in res.warnings]
    for s in SEVERITIES:
        add("warnings", sev.count(s), s)
    active: dict[tuple[str, str, str], int] = {}
    for w in res.warnings:  # one series per (id, severity, subject); two damage findings count 2
        k = (str(w.id), str(w.severity), w.subject or "")
        active[k] = active.get(k, 0) + 1
    for (i, s, sub), n in active.items():
        add("warning", n, i, s, sub)
    if cap.growth is not None:
        add("growth_time_to_full_seconds", cap.growth.eta_full_s)
    add("refresh_age_seconds", round(max(0.0, now - res.refreshed_at), 3))
    state = getattr(res.detail, "state", None)
    if isinstance(state, dict):
        add("state_saved", 0 if state.get("saved") is False else 1)
    add("up", 1)
    return out


def families(results: Iterable[DatabaseResult], now: float) -> Iterator[Metric]:
    """Metric families over every database (a family no database has a sample for is left out)."""
    per_db = [(database_label(res.path), database_samples(res, now)) for res in results]
    for name, kind, help_, labels in FAMILIES:
        cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
        fam = cls(f"zlmdb_{name}", help_, labels=["path", *labels])
        n = 0
        for path, samples in per_db:
            for values, value in samples.get(name, ()):
                fam.add_metric([_label(path), *values], value)
                n += 1
        if n:
            yield fam


class ZlmdbCollector(Collector):
    """A custom collector: every collection asks ``source`` for the latest per-database results."""

    def __init__(self, source: Source, clock: Callable[[], float] | None = None):
        import time

        self._source = source
        self._clock = clock or time.time

    def collect(self) -> Iterator[Metric]:
        yield from families(list(self._source()), self._clock())

    def describe(self) -> Iterator[Metric]:
        return iter(())  # describing would refresh every database at registration


def registry_for(source: Source) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(ZlmdbCollector(source))
    return reg


def exposition(results: Sequence[DatabaseResult]) -> str:
    """Text exposition of fixed results (``--prometheus`` to stdout)."""
    return generate_latest(registry_for(lambda: results)).decode("utf-8")


def write_atomically(path: str, results: Sequence[DatabaseResult]) -> None:
    """``--prometheus --output FILE``: a temporary file in FILE's directory renamed over FILE, so
    node_exporter's textfile collector never reads half a file. A missing or unwritable directory is
    named as such (not by the temporary file's name, which the user never chose)."""
    import os

    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InspectError(f"--output {path}: no directory {folder}")
    try:
        write_to_textfile(path, registry_for(lambda: results))
    except OSError as e:
        raise InspectError(f"--output {path}: cannot write into {folder}: {e.strerror or e}") from None


def parse_listen(spec: str) -> tuple[str, int]:
    """``[HOST:]PORT`` (IPv6 as ``[::1]:PORT``) -> (host, port); 127.0.0.1 unless a host is given."""
    host, sep, port = spec.rpartition(":")
    if not sep:
        host = ""
    host = host.strip("[]") or "127.0.0.1"
    try:
        n = int(port)
    except ValueError:
        raise ValueError(f"--serve-metrics takes [HOST:]PORT, not {spec!r}") from None
    if not 0 <= n <= 65535:
        raise ValueError(f"--serve-metrics: port {n} is not between 0 and 65535")
    return host, n


class MetricsServer:
    """The HTTP exporter: ``/metrics`` (and every other path) answers with a fresh collection."""

    def __init__(self, source: Source, host: str = "127.0.0.1", port: int = 0):
        self.registry = registry_for(source)
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        address = self._server.server_address
        self.host: str = str(address[0])
        self.port: int = int(address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait(self, stop: threading.Event | None = None) -> None:
        """Block the caller until ``stop`` is set (or forever); the server runs in its own thread."""
        (stop or threading.Event()).wait()
