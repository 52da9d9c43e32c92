"""The service: the one door to a database for every client (TUI, report modes).

One :class:`Service` per database. It owns the inspector (LMDB, the page walk), the
table codecs (decoding, sampling), the history (rates, time to full) and the health
findings, and offers the operations clients need. Clients never touch those objects.

Methods block (LMDB, file I/O): the TUI calls them from thread workers only. Workers
share one service: a refresh runs under the service's lock (one at a time, its state
changed by one thread), reads of records go through the inspector's lock, and the
codecs guard what they learn with their own.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from zlmdb_inspect import health
from zlmdb_inspect.core.kinds import Direction, ErrorKind, RuleId
from zlmdb_inspect.core.model import Snapshot, Table
from zlmdb_inspect.core.options import Options, Settings, Thresholds, load_settings
from zlmdb_inspect.core.slots import slot_prefix
from zlmdb_inspect.health.findings import Finding, RuleInputs, Undecodable
from zlmdb_inspect.health.history import Monitor, Rates, Sample
from zlmdb_inspect.health.timetofull import TimeToFull, estimate, perfdata, point_of, prometheus_value
from zlmdb_inspect.health.writer_watch import Batching, WriterState, WriterWatch, batching, single
from zlmdb_inspect.service.growth import GrowthTracker
from zlmdb_inspect.service.memo import Memo, SampleMemo, sample_signature
from zlmdb_inspect.service.state import Identity, StateStore, check_txnid
from zlmdb_inspect.service.state import default_dir as default_state_dir
from zlmdb_inspect.storage import writerlock
from zlmdb_inspect.storage.inspector import Inspector
from zlmdb_inspect.tables.catalog import TableCodecs
from zlmdb_inspect.tables.keys import KeySeek
from zlmdb_inspect.tables.records import PREVIEW_BYTES, Record, RecordWindow

if TYPE_CHECKING:  # imported where used: a one-shot report needs none of them (~20 ms of a run's start)
    from zlmdb_inspect.service.compare import CompareResult
    from zlmdb_inspect.service.compare import Side as CompareSide
    from zlmdb_inspect.tables.follow import JsonFollow
    from zlmdb_inspect.tables.query import Query
    from zlmdb_inspect.tables.scanner import Scan
    from zlmdb_inspect.tables.shape import Shape

# what clients may use of the data layer's records, through this door (queries, follow mode, shapes
# and comparisons: through ``zlmdb_inspect.service``, which imports them when first asked for)
__all__ = ["PREVIEW_BYTES", "Batching", "Rates", "Record", "RecordWindow", "Refresh", "Service", "TableDecoding",
           "TimeToFull", "WriterState", "open_service", "perfdata", "prometheus_value"]

SERIES = ("txns", "records", "bytes", "readers")  # what the live sparklines plot


@dataclass
class Refresh:
    """One refresh: the snapshot, what the history says about it, and the findings."""

    snapshot: Snapshot
    warnings: list[Finding]
    rates: Rates
    eta_full_s: float | None
    verify_problems: list[str] | None = None
    sampled: dict[str, dict] = field(default_factory=dict)
    eta: TimeToFull | None = None  # a single run: the snapshot's levels only ("measuring" or "full")
    series: dict[str, list[float]] = field(default_factory=dict)  # SERIES over the recent history
    writer: WriterState | None = None  # the write lock's holder now (held_s across refreshes when live)
    batching: Batching | None = None  # commits and records changed per commit (live only)
    history: bool = False  # rates and time to full come from a history (live, or earlier runs' state)
    state: dict | None = None  # the state between runs: file, samples used, note (None: --no-state)
    read_bytes: int = 0  # the walk's page reads (and checks of saved summaries) times the page size

    @property
    def damaged(self) -> bool:
        """The walk or the verifier found damage: records are not read from this tree."""
        return any(w.id == RuleId.DAMAGED for w in self.warnings)

    @property
    def eta_text(self) -> str:
        """"full in 12 min at …", "idle since 20:59:24", "measuring…" (:meth:`TimeToFull.text`)."""
        return self.eta.text() if self.eta is not None else "not measured"


@dataclass
class TableDecoding:
    """How a table's records are decoded, for a records screen's title and detail."""

    app_class: str | None  # the application's class (``--import``), or None: built-in decoders
    notes: list[str]  # what sampling found, one line each (the first names the codecs)


class Service:
    """Inspector + codecs + history + health for one database, behind one set of operations."""

    SAMPLE_EVERY_S = 30.0  # decoding samples of every table is not worth doing at every refresh

    def __init__(self, opts: Options, settings: Settings | None = None):
        self.opts = opts
        self.settings = settings or load_settings(opts)
        self._codecs = TableCodecs(opts)  # imports the application's modules first
        self._inspector = Inspector(opts.path)
        self._monitor = Monitor()
        self._writer_watch = WriterWatch()
        self._findings = RuleInputs()
        self._lock = threading.RLock()  # refreshes: monitor, findings and samples change together
        self._verify: list[str] | None = None
        self._sampled_at: tuple[int, float, tuple] | None = None  # (txnid, monotonic time, tables)
        self._sampled: dict[str, dict] = {}
        self._ahead: tuple[threading.Thread, dict] | None = None  # a first refresh started early
        self._ahead_lock = threading.Lock()
        # state between runs (service.state): history and walk summaries of earlier runs
        self._store = StateStore(opts.state_dir or default_state_dir()) if opts.state else None
        self._ident: Identity | None = None
        self._state_note: str | None = None
        self._state_loaded = False
        self._state_saved_at = 0.0  # monotonic
        self._state_saved_t: float | None = None  # the newest sample the state file holds
        self._state_unsaved = False  # the last save failed: the next run starts without this one's history
        self._state_used = 0  # samples of earlier runs the history started with
        self._pending: list[Sample] = []  # those samples, until the first snapshot checks them
        self._memo_in: SampleMemo | None = None  # the last one-shot run's sample (service.memo), until used
        self._sample_memo: SampleMemo | None = None  # this run's, for the state file (one-shot runs)
        self._growth = GrowthTracker(self._inspector, self._codecs)  # issue 23: the records' own time

    # -- the database as a whole -------------------------------------------------

    @property
    def path(self) -> str:
        return self.opts.path

    @property
    def directory(self) -> str:
        """The environment's directory (never written to)."""
        return self._inspector.dir

    @property
    def thresholds(self) -> Thresholds:
        return self.settings.thresholds

    def close(self) -> None:
        with self._lock:
            if self._store is not None and self._state_loaded and self._monitor.samples and \
                    self._monitor.samples[-1].t != self._state_saved_t:  # a one-shot run saved already
                self._save_state()
        self._inspector.close()

    #: A live service (TUI, --watch, the exporter) writes its state at most this often, and when closed.
    STATE_SAVE_EVERY_S = 60.0

    def _load_state(self) -> None:
        """Hand the walker the saved summaries that still hold, and keep the saved samples for
        the history; a bad or foreign file is one note, never an error."""
        self._state_loaded = True
        assert self._store is not None
        ins = self._inspector
        try:
            txnid, psize, fmt = ins.current_meta()
            self._ident = Identity.of(ins.data_path, psize, fmt)
        except OSError:
            return
        loaded = check_txnid(self._store.load(self._ident), txnid)
        self._state_note = loaded.note
        self._pending = loaded.samples
        self._monitor.seed_held(loaded.readers)  # a reader still holding its snapshot counts from then
        if len(loaded.summaries) or loaded.free is not None:
            ins.adopt_summaries(loaded.summaries, loaded.free)
        if loaded.memo is not None:
            if loaded.memo.runs is not None and loaded.memo.runs_key is not None:
                ins.adopt_runs_memo(loaded.memo.runs_key, loaded.memo.runs)
            self._memo_in = loaded.memo.sample

    def _save_state(self) -> None:
        if self._store is None or self._ident is None:
            return
        self._state_saved_at = time.monotonic()
        self._state_saved_t = self._monitor.samples[-1].t if self._monitor.samples else None
        runs = self._inspector.export_runs_memo()
        memo = Memo(runs[0] if runs else None, runs[1] if runs else None, self._sample_memo)
        try:
            self._store.save(self._ident, list(self._monitor.samples), self._inspector.export_summaries(),
                             readers=self._monitor.held_since(), free=self._inspector.export_free(), memo=memo)
            self._state_unsaved = False
        except OSError as e:  # an unwritable state directory costs the next run its history, not this run
            note = f"state not saved in {self._store.directory}: {e.strerror or e}"
            self._state_note = f"{self._state_note}; {note}" if self._state_note else note
            self._state_unsaved = True

    def count_now(self) -> None:
        """Walk the tree at the next refresh even if the counts are not due yet (the TUI's ``r``)."""
        self._inspector.count_now()

    def snapshot(self) -> Snapshot:
        """One snapshot without history or health (``--dump`` checks the tree first)."""
        return self._inspector.snapshot()

    def verify(self) -> list[str]:
        """zlmdb's full structural verifier (pure Python, reads the whole file)."""
        from zlmdb._lmdb_vendor import verify as v

        try:
            return v.verify(self._inspector.dir)
        except v.VerifyError as e:
            return [str(e)]
        except OSError as e:
            return [f"cannot read the data file: {e.strerror or e}"]

    def refresh(self, live: bool = False) -> Refresh:
        """A snapshot, added to the history, sampled when due, with every rule's findings."""
        if live and self._ahead is not None:
            with self._ahead_lock:  # handed to one caller only
                ahead, self._ahead = self._ahead, None
        else:
            ahead = None
        if ahead is not None:
            thread, box = ahead
            thread.join()
            if "error" in box:
                raise box["error"]
            return box["refresh"]
        with self._lock:
            return self._refresh(live)

    def refresh_ahead(self) -> None:
        """Start the first live refresh in a thread now; the next ``refresh(live=True)`` returns it.

        The TUI calls this before it imports Textual and builds its screens: on a big database
        the walk (mostly numpy and page faults, which release the GIL) runs alongside that
        work, and the first frame shows the counts sooner.
        """
        if self._ahead is not None:
            return
        box: dict = {}

        def run() -> None:
            try:
                with self._lock:
                    box["refresh"] = self._refresh(True)
            except BaseException as e:  # noqa: BLE001 - handed to whoever asks for the refresh
                box["error"] = e

        thread = threading.Thread(target=run, name="zlmdb-inspect-first-refresh", daemon=True)
        thread.start()
        self._ahead = (thread, box)

    def _refresh(self, live: bool) -> Refresh:
        first = self._store is not None and not self._state_loaded
        if first:
            self._load_state()
        check0 = self._inspector.check_reads
        runs0 = self._inspector.runs_reused
        self._growth.before_walk()  # issue 23: which slots' keys lead with a time (the walk buckets them)
        # with state, a one-shot run keeps its 1.0 summaries for the next run
        snap = self._inspector.snapshot(remember=live or self._store is not None)
        self._monitor.add(snap)
        if first and self._pending:
            earlier = [s for s in self._pending if s.t < snap.taken_at and s.last_txnid <= snap.lmdb.last_txnid]
            self._monitor.seed(earlier)
            self._state_used, self._pending = len(earlier), []
        th, found = self.thresholds, self._findings
        if self.opts.verify and self._verify is None:
            self._verify = self.verify()
        found.damage = list(self._verify or [])[:20]
        # a history (live, or earlier runs' state): over it; else the snapshot's levels only ("measuring", or "full")
        history = live or len(self._monitor.samples) > 1
        eta = self._monitor.eta(th.eta_min_window_s) if history else estimate([point_of(snap)])
        found.time_to_full, found.history = eta, history
        found.growth_pinned = bool(eta.pinned_share is not None and eta.pinned_share >= 0.5)
        found.largest = self._inspector.largest_values(snap, th.large_value_warning_bytes)
        self._watch_writer(snap, live)
        reused = []  # what this refresh took from the state's memo
        if not snap.damaged and not self._verify:
            if self._sample(snap, live):
                reused.append("sample")
            self._growth.apply(snap)  # issue 23: Table.time, capacity.growth
        warnings = health.evaluate(snap, th, found)
        series = {name: self._monitor.series(name) for name in SERIES} if live else {}
        read_bytes = (snap.page_reads + self._inspector.check_reads - check0) * snap.lmdb.page_size
        state = None
        if self._inspector.runs_reused > runs0:
            reused.append("free_runs")
        if self._store is not None:
            if not live or time.monotonic() - self._state_saved_at >= self.STATE_SAVE_EVERY_S:
                self._save_state()
            state = {"file": self._store.file_for(self._inspector.data_path), "samples_used": self._state_used,
                     "history_s": round(snap.taken_at - self._monitor.samples[0].t, 1),
                     "note": self._state_note, "reused": reused, "saved": not self._state_unsaved}
        return Refresh(snap, warnings, self._monitor.rates(), eta.seconds,
                       self._verify, self._sampled, eta, series, found.writer, found.batching,
                       history, state, read_bytes)

    def _watch_writer(self, snap: Snapshot, live: bool) -> None:
        """The write lock's holder from lock.mdb (a pread); live: how long it has held it, and how
        the writers batch over the rates window."""
        ins, found = self._inspector, self._findings
        lock = writerlock.writer(
            ins.lock_path, ins.data_path, candidates=[r.pid for r in snap.readers if not r.own],
            mapping=[m["pid"] for m in snap.capacity.maps if m.get("map_size")])
        now = time.time()
        if not live:
            found.writer, found.batching, found.writers_seen = single(lock), None, []
            return
        found.writer = self._writer_watch.observe(lock, now)
        found.batching = batching(self._monitor.samples, self._monitor.window)
        since = now - found.batching.window_s if found.batching else now
        found.writers_seen = self._writer_watch.seen(since)

    def _sample(self, snap: Snapshot, live: bool = False) -> bool:
        """Decode the first records of each table when the data changed, then count every record
        that failed to decode so far (browsing and dumping add to what sampling finds). A one-shot
        run at the snapshot the last one sampled takes that sample from the state (service.memo):
        whether it did."""
        taken = False
        tables = tuple((t.slot, t.name) for t in snap.tables)
        now = time.monotonic()
        last = self._sampled_at
        if last is None or (last[0] != snap.lmdb.last_txnid and (
                now - last[1] >= self.SAMPLE_EVERY_S or last[2] != tables)):
            # not when nothing changed, nor on a live database sampled moments ago with the same tables
            self._sampled_at = (snap.lmdb.last_txnid, now, tables)
            key = self._sample_key(snap) if not live else None
            memo, self._memo_in = self._memo_in, None
            taken = key is not None and memo is not None and memo.key == key
            if taken:
                assert memo is not None
                self._use_sample(snap, memo)
            else:
                self._take_sample(snap, key)
        self._findings.undecodable = self._undecodable()
        return taken

    def _sample_key(self, snap: Snapshot) -> tuple | None:
        """The snapshot's identity and the options that decide how its records read (None: not to be kept)."""
        o = self.opts
        sig = sample_signature(o.sample, o.allow_pickle, o.fbs_types, o.imports, o.fbs)
        ident = self._inspector.identity(snap.lmdb.last_txnid)
        return (*ident, sig) if ident is not None and sig is not None else None

    def _take_sample(self, snap: Snapshot, key: tuple | None) -> None:
        stats, windows = self._codecs.sample(self._inspector, snap, self.opts.sample)
        self._sampled_stats(stats)
        self._findings.index_drift = self._codecs.index_drift(self._inspector, snap, windows)
        self._growth.after_sample(snap, windows)  # issue 23: estimates of non-leading times
        self._sample_memo = None
        # kept only when every read of the sample saw the snapshot: no commit since it (txnids only grow)
        if key is not None and self._inspector.current_meta()[0] == snap.lmdb.last_txnid:
            rows, examples = self._codecs.failed_rows()
            self._sample_memo = SampleMemo(key, stats, list(self._findings.index_drift), rows, examples,
                                           dict(self._growth.sampled_times))

    def _use_sample(self, snap: Snapshot, memo: SampleMemo) -> None:
        """An earlier run's sample of this very snapshot, read with the same options: what sampling gives."""
        self._sampled_stats(memo.sampled)
        self._findings.index_drift = list(memo.drift)
        self._codecs.restore_failed(memo.failed, memo.examples)
        self._growth.estimate_from(snap, memo.times)
        self._sample_memo = memo  # the next run at this snapshot takes it too

    def _sampled_stats(self, stats: dict[str, dict]) -> None:
        self._sampled = stats
        self._findings.pickle_tables = [k for k, v in stats.items() if v.get("pickle")]
        self._findings.json_tables = {k: v["est_bytes"] for k, v in stats.items() if v.get("json")}

    def _undecodable(self) -> dict[str, Undecodable]:
        """Per table: records no decoder of the table reads, and records only the application's
        decoder raises on, from the last sample and from every record seen failing since."""
        out: dict[str, Undecodable] = {}
        cat = self._codecs
        for label in set(self._sampled) | set(cat.failed_tables()):
            st = self._sampled.get(label, {})
            u = Undecodable(
                sampled=st.get("sampled", 0), codec_sampled=st.get("undecodable", 0),
                codec_seen=cat.failures(label, ErrorKind.CODEC), app_sampled=st.get("app_errors", 0),
                app_seen=cat.failures(label, ErrorKind.APP),
                codec_example=cat.failed_example_of(label, ErrorKind.CODEC),
                app_example=cat.failed_example_of(label, ErrorKind.APP))
            if st.get("app_key_failed") and st.get("app_key_failed") == st.get("sampled"):
                # said once for the table: its rows carry no error
                u.app_sampled = max(u.app_sampled, st["app_key_failed"])
                u.app_example = f"key: {st.get('app_key_error')}"
            if u.codec_seen or u.codec_sampled or u.app_seen or u.app_sampled:
                out[label] = u
        return out

    def series(self, name: str) -> list[float]:
        """A figure over the recent history (see ``SERIES``), for sparklines."""
        with self._lock:
            return self._monitor.series(name)

    # -- one table's records --------------------------------------------------------

    def resolve_table(self, snap: Snapshot, ref: str) -> Table:
        """A table by full name, class name or slot number (``--dump TABLE``)."""
        return self._codecs.resolve_table(snap, ref)

    def decoding(self, table: Table) -> TableDecoding:
        codec = self._codecs.codec(table)
        return TableDecoding(codec.name if codec.klass is not None else None, self._codecs.notes(table))

    def read_window(self, table: Table, anchor: bytes | None, direction: Direction, n: int,
                    text_filter: str | None = None, scan_limit: int = 20000,
                    preview: int | None = PREVIEW_BYTES) -> RecordWindow:
        """``n`` records of ``table`` from ``anchor`` (a key after the slot prefix; None: from
        either end) in ``direction``, values decoded up to ``preview`` bytes (None: all)."""
        return self._codecs.read_window(self._inspector, table, anchor, Direction(direction), n,
                                        text_filter, scan_limit, preview)

    def read_record(self, table: Table, raw_key: bytes, preview: int | None = PREVIEW_BYTES) -> Record | None:
        """One record by its exact key (None: gone)."""
        return self._codecs.read_record(self._inspector, table, raw_key, preview)

    def iter_records(self, table: Table, from_key: str | None, limit: int | None) -> Iterator[Record]:
        """All (or ``limit``) records from ``from_key`` as a user types it, full values, a short
        read transaction per batch."""
        return self._codecs.iter_records(self._inspector, table, from_key, limit)

    def parse_key(self, table: Table, text: str) -> bytes:
        """What a user types as a key, read by the table's key layout (a UUID or its first digits, a
        number, an ISO time or its start, parts in turn, ``hex:``/``text:``), as the key bytes it starts at.
        ValueError names the layout with an example when the input cannot be a key of this table."""
        self._codecs.profiled(self._inspector, table)
        return self._codecs.parse_key(table, text)

    def seek_key(self, table: Table, text: str) -> KeySeek:
        """Where ``text`` typed as a key lands in ``table``: the key bytes to start from, the first key
        there and whether it is one the input names (``message``: "no key X; showing the next one")."""
        return self._codecs.seek_key(self._inspector, table, text)

    def position(self, table: Table, raw_key: bytes) -> int | None:
        """0-based position of a record in its table, from the B-tree's page counts."""
        return self._codecs.position(self._inspector, table, raw_key)

    def locate(self, table: Table, raw_key: bytes) -> tuple[int, int] | None:
        """(position of ``raw_key``, records in the table), read in one transaction."""
        return self._codecs.locate(self._inspector, table, raw_key)

    def key_at(self, table: Table, index: int) -> bytes | None:
        """The key (after the slot prefix) of the record at 0-based ``index``."""
        return self._codecs.key_at(self._inspector, table, index)

    def find_target(self, target: bytes, tables: list[Table]) -> Table | None:
        """Following an index entry: the first of ``tables`` holding a record keyed ``target``."""
        return self._codecs.find_target(self._inspector, target, tables)

    def sampling_notes(self, table: Table) -> list[str]:
        """What sampling found about the table's decoding (empty before the first sample)."""
        return self._codecs.notes(table)

    def largest_values(self, snap: Snapshot, min_bytes: int,
                       n: int = 3) -> dict[int, tuple[list[tuple[str, int]], bool]]:
        """Per table holding values of ``min_bytes`` or more: its ``n`` largest records."""
        return self._inspector.largest_values(snap, min_bytes, n)


    # -- whole tables: queries, follow mode, shape ----------------------------------------

    def query(self, table: Table, q: Query, chunk_s: float = 0.03) -> Scan:
        """A scan of ``table`` for ``q`` (not started: iterate ``records()``, cancel from any
        thread); ``QueryError`` when the expression or a key of the range is bad."""
        from zlmdb_inspect.tables.scanner import scan

        return scan(self._inspector, self._codecs, table, q, chunk_s=chunk_s)

    def follow(self, table: Table, exact: int | None = None) -> JsonFollow:
        """A follower of ``table``'s changes (the last ``exact`` records followed exactly; None:
        ``tables.follow.EXACT_RECORDS``); its first ``poll()`` takes the starting state."""
        from zlmdb_inspect.tables.follow import EXACT_RECORDS, JsonFollow

        return JsonFollow(self._inspector, self._codecs, table, EXACT_RECORDS if exact is None else exact)

    def shape(self, table: Table, on_progress: Callable[[Shape], None] | None = None,
              cancel: threading.Event | None = None, max_records: int | None = None) -> Shape:
        """Histograms of ``table``'s key and value sizes and records per leaf (sampled beyond
        ``max_records``; None: ``tables.shape.MAX_RECORDS``), in short read transactions."""
        from zlmdb_inspect.tables.shape import MAX_RECORDS, compute

        return compute(self._inspector, table, MAX_RECORDS if max_records is None else max_records,
                       on_progress, cancel)

    # -- two databases: --compare, --checksum -----------------------------------------------

    def _side(self) -> CompareSide:
        from zlmdb_inspect.service.compare import Side

        return Side(self.path, self._inspector, self.snapshot(), self.resolve_table, self.key_text)

    def compare(self, other: Service, table: str | None = None, checksums: bool = False) -> CompareResult:
        """This database's records against ``other``'s (every table, or ``table``), in short read
        transactions on both; ``InspectError`` when either cannot be read."""
        from zlmdb_inspect.service.compare import run_compare

        return run_compare(self._side(), other._side(), table, checksums)

    def checksums(self, table: str | None = None) -> list[tuple[Table, dict]]:
        """Per table (or ``table``): SHA-256 over its records in key order, with the snapshot's txnid."""
        from zlmdb_inspect.service.compare import run_checksums

        return run_checksums(self._side(), table)

    def key_text(self, table: Table, raw_key: bytes) -> str:
        """A raw key (after the slot prefix) as the table's codec shows it, as text."""
        key = self._codecs.profiled(self._inspector, table).decode(
            slot_prefix(table.slot) + raw_key, b"", 0).key
        return key if isinstance(key, str) else json.dumps(key, ensure_ascii=False, default=str)


def open_service(opts: Options) -> Service:
    """A service for ``opts.path``; fails with ``InspectError`` (one line) when it cannot inspect."""
    return Service(opts)
