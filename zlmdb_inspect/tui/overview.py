"""The overview screen: capacity, tables, warnings, readers, live figures, environment."""

from __future__ import annotations

import re
import time

from rich.text import Text
from textual import on, work
from textual.worker import get_current_worker
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Sparkline, Static, TabbedContent, TabPane

from zlmdb_inspect.errors import InspectError
from zlmdb_inspect.fmt import fmt_bytes, fmt_duration, fmt_rate
from zlmdb_inspect.modes import Refresh
from zlmdb_inspect.tui import bindings
from zlmdb_inspect.tui.messages import RefreshDone, RefreshFailed
from zlmdb_inspect.tui.text import join, literal

SEV_STYLE = {"critical": "bold white on red", "warning": "bold black on yellow", "info": "bold white on blue"}
SEV_NOUN = {"critical": ("critical", "critical"), "warning": ("warning", "warnings"), "info": ("info", "info")}
# widest cell of a column of data (names, descriptions, messages): longer text is cut with "…"
NAME_WIDTH, DESCRIPTION_WIDTH, MESSAGE_WIDTH, PROCESS_WIDTH = 40, 60, 100, 24
TABLE_COLUMNS = (("slot", "Slot"), ("name", "Table"), ("records", "Records"), ("bytes", "Size"),
                 ("rate", "Rec/s"), ("description", "Description"))
_QUALIFIED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


class TablesList(DataTable):
    """The tables: home and end go to the first and last table (a DataTable scrolls sideways)."""

    BINDINGS = [Binding("home", "first_row", "First", show=False), Binding("end", "last_row", "Last", show=False)]

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)


def short_name(tb) -> str:
    """zlmdb stores a table's full class path (``cfxdb.realmstore._publication.Publications``):
    the list shows the class name, the line under it the full name."""
    name = tb.label()
    return name.rsplit(".", 1)[1] if _QUALIFIED.match(name) else name


def eta_text(ref: Refresh) -> str:
    """A sentence about time to full: measured over enough history, or saying why not."""
    e = ref.eta
    if e is None:
        return "map not growing" if ref.eta_full_s is None else f"map full in {fmt_duration(ref.eta_full_s)}"
    if e.state == "measuring":
        return "time to full: measuring…"
    if e.state == "growing" and e.seconds is not None:
        return f"map full in {fmt_duration(e.seconds)}"
    return "map not growing"


class Overview(Screen):
    BINDINGS = bindings.OVERVIEW

    def __init__(self) -> None:
        super().__init__()
        self._timer = None
        self._sort: tuple[str, bool] = ("slot", False)
        self._warning_rows: list = []
        self.failures: list[str] = []  # refreshes that failed, shown in the title
        self._busy_since: float | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="title")
        yield Static("", id="capacity")
        with TabbedContent(id="tabs", initial="tables"):
            with TabPane("Tables", id="tables"):
                yield TablesList(id="tables-table", cursor_type="row", zebra_stripes=True)
                yield Static("", id="table-info")
            with TabPane("Warnings", id="warnings"):
                yield DataTable(id="warnings-table", cursor_type="row")
                yield Static("", id="warning-detail")
            with TabPane("Readers", id="readers"):
                yield DataTable(id="readers-table", cursor_type="row")
                yield Static("", id="readers-note")
            with TabPane("Live", id="live"):
                yield Static("", id="live-figures")
                for name, label in (("txns", "transactions/s"), ("records", "records/s"),
                                    ("bytes", "growth of used bytes/s"), ("readers", "readers")):
                    yield Static(Text(label), classes="spark-label")
                    yield Sparkline([], id=f"spark-{name}", classes="spark")
            with TabPane("Environment", id="environment"):
                yield Static("", id="env-figures")
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one("#tables-table", DataTable)
        self._add_table_columns(t)
        w = self.query_one("#warnings-table", DataTable)
        for key, label in (("severity", "Severity"), ("id", "Rule"), ("subject", "About"), ("message", "Message")):
            w.add_column(Text(label), key=key)
        r = self.query_one("#readers-table", DataTable)
        for key, label in (("pid", "PID"), ("name", "Process"), ("thread", "Thread"), ("txnid", "Txn"),
                           ("lag", "Lag"), ("held", "Held"), ("alive", "Alive"), ("own", "")):
            r.add_column(Text(label), key=key)
        self.query_one("#title", Static).update(join(Text(" "), self._path_text(max(12, self.app.size.width - 14)),
                                                     Text("  reading…")))
        t.focus()
        self.set_interval(0.5, self._show_progress)
        self.action_refresh()

    # -- refresh loop: one worker at a time, timer re-armed after each run ------

    @property
    def refresh_data(self) -> Refresh | None:
        return self.app.last_refresh

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def action_refresh(self) -> None:
        self._disarm()
        self.app.service.inspector.count_now()  # `r`: counts now, even when not due yet
        self._start_refresh()

    def _start_refresh(self) -> None:
        self._busy_since = time.monotonic()
        self._run_refresh()

    def _show_progress(self) -> None:
        """While a snapshot takes longer than a moment (a big database, a cursor count), say so."""
        if self._busy_since is None or time.monotonic() - self._busy_since < 0.5:
            return
        took = time.monotonic() - self._busy_since
        base = (self._title_text(self.refresh_data) if self.refresh_data is not None
                else join(Text(" "), self._path_text(20)))
        base.append(f"  reading and counting… {took:.0f} s", style="bold yellow")
        self.query_one("#title", Static).update(base)

    @work(thread=True, exclusive=True, group="refresh")
    def _run_refresh(self) -> None:
        try:
            ref = self.app.service.refresh(live=True)
        except Exception as e:  # noqa: BLE001 - shown on screen, the loop goes on
            self.post_message(RefreshFailed(str(e) if isinstance(e, InspectError) else f"{type(e).__name__}: {e}"))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(RefreshDone(ref))

    def _arm(self) -> None:
        self._disarm()
        if self.app.paused:
            return
        self._timer = self.set_timer(self.app.interval, self._start_refresh)

    @on(RefreshDone)
    def _done(self, msg: RefreshDone) -> None:
        self._busy_since = None
        self.app.last_refresh = msg.refresh
        self._render_all(msg.refresh)
        for screen in self.app.screen_stack:  # open records screens keep their counts current
            if hasattr(screen, "snapshot_refreshed"):
                screen.snapshot_refreshed(msg.refresh)
        self._arm()

    @on(RefreshFailed)
    def _failed(self, msg: RefreshFailed) -> None:
        self._busy_since = None
        self.failures.append(msg.error)
        self.query_one("#title", Static).update(
            join(Text(" "), self._path_text(30), Text("  refresh failed: ", style="bold red"), msg.error))
        self._arm()

    def action_pause(self) -> None:
        self.app.paused = not self.app.paused
        self._arm()  # disarms while paused
        if self.refresh_data:
            self._render_title(self.refresh_data)

    def action_interval(self, delta: float) -> None:
        self.app.interval = max(0.5, min(60.0, self.app.interval + delta))
        if self.refresh_data:
            self._render_title(self.refresh_data)
        self._arm()

    def action_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab
        focus = {"tables": "#tables-table", "warnings": "#warnings-table", "readers": "#readers-table"}
        if tab in focus:
            self.query_one(focus[tab], DataTable).focus()

    def action_open_table(self) -> None:
        if self.refresh_data is None or self.query_one("#tabs", TabbedContent).active != "tables":
            return
        t = self.query_one("#tables-table", DataTable)
        if t.row_count == 0:
            return
        key = str(t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value)
        if key.startswith("db:"):
            self.notify("A named LMDB database of a plain environment: its entries are counted, "
                        "not browsed (it is not a zlmdb table).", severity="warning")
            return
        table = self.refresh_data.snapshot.table_by_slot(int(key))
        if table is None:
            return
        if self.app.damaged:
            self.notify("The database is damaged: records are not read from a damaged tree.",
                        severity="error")
            return
        from zlmdb_inspect.tui.table import TableScreen

        self.app.push_screen(TableScreen(table))

    @on(DataTable.RowSelected, "#tables-table")
    def _table_selected(self) -> None:
        self.action_open_table()

    SORT_KEYS = tuple(k for k, _ in TABLE_COLUMNS)

    @on(DataTable.HeaderSelected, "#tables-table")
    def _sort_tables(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        self._sort_by(key, not self._sort[1] if self._sort[0] == key else None)

    def action_sort(self) -> None:
        keys = self.SORT_KEYS
        self._sort_by(keys[(keys.index(self._sort[0]) + 1) % len(keys)], None)

    def _sort_by(self, key: str, reverse: bool | None) -> None:
        """Big numbers first for figures, A to Z for text, unless reversed."""
        self._sort = (key, key in ("records", "bytes", "rate") if reverse is None else reverse)
        t = self.query_one("#tables-table", DataTable)
        current = t.coordinate_to_cell_key(t.cursor_coordinate).row_key if t.row_count else None
        t.clear(columns=True)  # the header marks the sort column and direction
        self._add_table_columns(t)
        if self.refresh_data:
            self._render_tables(self.refresh_data)
            if current is not None and current in t.rows:  # the cursor stays on its table
                t.move_cursor(row=t.get_row_index(current), animate=False)

    def _add_table_columns(self, t: DataTable) -> None:
        key, rev = self._sort
        for k, label in TABLE_COLUMNS:
            t.add_column(Text(label + (" ▼" if rev else " ▲") if k == key else label), key=k)

    @on(DataTable.RowHighlighted, "#tables-table")
    def _table_highlighted(self) -> None:
        self._show_table_info()

    def _show_table_info(self) -> None:
        """The highlighted table's full name, oid and creator (the list has room for neither)."""
        t = self.query_one("#tables-table", DataTable)
        info = self.query_one("#table-info", Static)
        if self.refresh_data is None or not t.row_count:
            info.update(Text(""))
            return
        key = str(t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value)
        tb = None if key.startswith("db:") else self.refresh_data.snapshot.table_by_slot(int(key))
        if tb is None:
            info.update(join(("named LMDB database ", "bold"), key[3:]))
            return
        parts: list = [(tb.name or f"slot {tb.slot}: no metadata record", "bold")]
        for label, value in (("oid", tb.oid), ("creator", tb.creator)):
            if value:
                parts += [Text(f"  {label} ", "dim"), value]
        info.update(join(*parts))

    @on(DataTable.RowHighlighted, "#warnings-table")
    def _warning_highlighted(self, event: DataTable.RowHighlighted) -> None:
        idx = event.cursor_row
        if 0 <= idx < len(self._warning_rows):
            w = self._warning_rows[idx]
            self.query_one("#warning-detail", Static).update(join(
                (w.id, "bold"), f"  ({w.severity})", Text("\n"), literal(w.message, 1000), Text("\n\n"),
                ("Measured: ", "bold"), w.figure_text or "", ("   Threshold: ", "bold"), w.threshold_text or "", Text("\n"),
                ("Practice: ", "bold"), w.practice))

    # -- rendering ---------------------------------------------------------------

    def _render_all(self, ref: Refresh) -> None:
        self._render_title(ref)
        self._render_capacity(ref)
        with self.app.batch_update():
            self._render_tables(ref)
            self._render_warnings(ref)
            self._render_readers(ref)
        self._render_live(ref)
        self._render_env(ref)

    def _render_title(self, ref: Refresh) -> None:
        self.query_one("#title", Static).update(self._title_text(ref))

    def _title_text(self, ref: Refresh) -> Text:
        s = ref.snapshot
        counts = {sev: sum(1 for w in ref.warnings if w.severity == sev) for sev in SEV_STYLE}
        rest = Text(f" LMDB {s.lmdb.format}  ")
        for sev, n in counts.items():
            if n:
                rest.append(f" {n} {SEV_NOUN[sev][n != 1]} ", SEV_STYLE[sev])
                rest.append(" ")
        if not any(counts.values()):
            rest.append(" OK ", "bold black on green")
            rest.append(" ")
        state = "paused" if self.app.paused else f"every {self.app.interval:g} s"
        refreshed = Text(f" refreshed {self.app.clock(s.taken_at)}")
        damaged = Text("  DAMAGED: see Warnings" if self.app.damaged else "", "bold red")
        counts = Text()
        if s.counts_txnid != s.lmdb.last_txnid:  # a full count is expensive: it runs less often
            due = max(0, round((s.counts_next_at or s.taken_at) - time.time()))
            counts = Text(f"  counts as of {self.app.clock(s.counts_at)}, next in {due} s", "yellow")
        # one line at any width: the path gives way (its start is cut), then the interval
        total = self.size.width or self.app.size.width
        tail = Text.assemble(refreshed, f" ({state})", counts, damaged)
        if total - 2 - rest.cell_len - tail.cell_len < 16:
            tail = Text.assemble(refreshed, " (paused)" if self.app.paused else "", counts, damaged)
        width = total - 2 - rest.cell_len - tail.cell_len
        return join(Text(" "), self._path_text(max(12, width)), rest, tail)

    def _path_text(self, width: int) -> Text:
        return literal(self.app.service.path, width, "bold", keep_end=True)

    def on_resize(self) -> None:
        if self.refresh_data is not None:
            self._render_title(self.refresh_data)

    def _render_capacity(self, ref: Refresh) -> None:
        c = ref.snapshot.capacity
        width = 24
        filled = min(width, int(round(width * c.used_pct / 100.0)))
        style = "red" if c.used_pct >= 95 else "yellow" if c.used_pct >= 80 else "green"
        b = "bold"
        self.query_one("#capacity", Static).update(Text.assemble(  # figures, and process names through literal()
            "map used ", ("█" * filled, style), ("░" * (width - filled), "grey50"),
            (f" {c.used_pct:.1f}%", b), "  of ", (fmt_bytes(c.map_size), b), " (", literal(c.mismatch_text() or c.limit_text(), 160), ")\n",
            "used ", (fmt_bytes(c.used_bytes), b), "  available ", (fmt_bytes(c.available_bytes), b),
            f" ({100.0 * c.available_bytes / c.map_size if c.map_size else 0:.1f}%)  file ",
            (fmt_bytes(c.file_size), b), "\n",
            "free pages ", ("unknown" if c.free_pages is None else f"{c.free_pages:,}", b),
            "" if c.reusable_pages is None else f" ({c.reusable_pages:,} reusable)", "  ",
            (eta_text(ref), b)))

    def _render_tables(self, ref: Refresh) -> None:
        t = self.query_one("#tables-table", DataTable)
        rates = ref.rates.tables_per_s
        rows = {}
        for tb in ref.snapshot.tables:
            rate = rates.get(tb.slot)
            name = literal(short_name(tb) if tb.name else "(no metadata)", NAME_WIDTH,
                           "" if tb.metadata else "italic yellow")
            rows[str(tb.slot)] = (tb, [Text(str(tb.slot)), name, Text(f"{tb.records:,}"), Text(fmt_bytes(tb.bytes)),
                                       Text("" if rate is None else f"{rate:,.1f}"),
                                       literal(tb.description, DESCRIPTION_WIDTH)])
        for db in ref.snapshot.databases:
            key = f"db:{db.name}"
            rows[key] = (None, [Text("db"), literal(db.name, NAME_WIDTH, "cyan"), Text(f"{db.entries:,}"),
                                Text(fmt_bytes((db.leaf_pages + db.branch_pages + db.overflow_pages)
                                               * ref.snapshot.lmdb.page_size)),
                                Text(""), Text("named LMDB database")])
        key, rev = self._sort
        # tables by the column (equal ones by slot, a stable sort), named databases after them
        tables = sorted(((k, v) for k, v in rows.items() if v[0] is not None), key=lambda kv: kv[1][0].slot)
        order = sorted(tables, key=lambda kv: _sort_key(kv[1][0], key, rates), reverse=rev)
        order += [(k, v) for k, v in rows.items() if v[0] is None]
        wanted = [k for k, _ in order]
        existing = [str(r.value) for r in t.rows]
        if existing != wanted:
            cursor = t.cursor_row
            t.clear()
            for k, (_, cells) in order:
                t.add_row(*cells, key=k)
            if t.row_count:
                t.move_cursor(row=min(cursor, t.row_count - 1), animate=False)
        else:  # update in place: the cursor and scroll stay put
            cols = [c.key for c in t.columns.values()]
            for k, (_, cells) in order:
                for col, val in zip(cols, cells):
                    if str(t.get_cell(k, col)) != str(val):
                        t.update_cell(k, col, val, update_width=True)  # 9.9 KiB -> 17.9 KiB widens
        self._show_table_info()

    def _render_warnings(self, ref: Refresh) -> None:
        w = self.query_one("#warnings-table", DataTable)
        self._warning_rows = ref.warnings
        cursor = w.cursor_row
        w.clear()
        for i, warn in enumerate(ref.warnings):
            w.add_row(Text(f" {warn.severity} ", style=SEV_STYLE[warn.severity]), literal(warn.id),
                      literal(warn.subject, NAME_WIDTH), literal(warn.message, MESSAGE_WIDTH), key=str(i))
        if ref.warnings:
            w.move_cursor(row=min(cursor, len(ref.warnings) - 1), animate=False)
        else:
            self.query_one("#warning-detail", Static).update(Text("No warnings: every rule passed."))
        tabs = self.query_one("#tabs", TabbedContent)
        tabs.get_tab("warnings").label = Text(f"Warnings ({len(ref.warnings)})")

    def _render_readers(self, ref: Refresh) -> None:
        r = self.query_one("#readers-table", DataTable)
        r.clear()
        for i, rd in enumerate(ref.snapshot.readers):
            alive = Text("yes", style="green") if rd.alive else Text("NO", style="bold red")
            r.add_row(Text(str(rd.pid)), literal(rd.name, PROCESS_WIDTH), literal(rd.thread, 20),
                      Text("-" if rd.txnid is None else str(rd.txnid)), Text("" if rd.lag is None else str(rd.lag)),
                      Text("" if rd.held_s is None else fmt_duration(rd.held_s)), alive,
                      Text("this inspector" if rd.own else ""), key=str(i))
        env = ref.snapshot.lmdb
        note = (f"{len(ref.snapshot.readers)} reader slots in use of {env.max_readers}."
                if env.locking else
                "No process had the database open when the inspector started, so it runs without "
                "LMDB's lock file (opening it would reset the reader table). Readers appear once a "
                "process opens the database.")
        self.query_one("#readers-note", Static).update(Text(note))

    def _render_live(self, ref: Refresh) -> None:
        mon = self.app.service.monitor
        r = ref.rates
        fastest = sorted(((v, k) for k, v in r.tables_per_s.items() if v > 0), reverse=True)[:3]
        names = {t.slot: short_name(t) for t in ref.snapshot.tables}
        b = "bold"
        fast: list = []
        for v, k in fastest:
            fast += [Text(", ")] if fast else []
            fast += [literal(names.get(k, k), NAME_WIDTH), f" {v:,.1f}/s"]
        self.query_one("#live-figures", Static).update(join(
            "transactions ", (fmt_rate(r.txns_per_s, "txn/s"), b), "   records ", (fmt_rate(r.records_per_s, "rec/s"), b),
            "   growth ", (fmt_rate(r.bytes_per_s, "B/s"), b), Text("\n"), (eta_text(ref), b),
            f"   (over the last {r.window_s:.0f} s; {'paused' if self.app.paused else f'every {self.app.interval:g} s'})",
            Text("\n"), "fastest-growing tables: ", *(fast or ["none"])))
        for name in ("txns", "records", "bytes", "readers"):
            self.query_one(f"#spark-{name}", Sparkline).data = mon.series(name) or [0.0]

    def _render_env(self, ref: Refresh) -> None:
        s = ref.snapshot
        e = s.lmdb
        lines = [
            f"LMDB format {e.format}, read by engine {e.library}; page size {e.page_size}",
            f"tree depth {e.depth}; pages: {e.branch_pages:,} branch, {e.leaf_pages:,} leaf, {e.overflow_pages:,} overflow",
            f"entries {e.entries:,}; last page {e.last_pgno:,}; last transaction {e.last_txnid:,}",
            f"reader slots {e.max_readers} (most in use at once: {e.num_readers}); locking {'on' if e.locking else 'off (no other process)'}",
            f"counted by {s.count_method}; {s.page_reads:,} page reads",
        ]
        for p in s.problems:
            lines.append(f"[{p.kind}] {p.message}")
        if ref.verify_problems is not None:
            lines.append("verify: " + ("no problems found" if not ref.verify_problems else
                                       f"{len(ref.verify_problems)} problems: " + "; ".join(ref.verify_problems[:5])))
        out = Text()
        for i, line in enumerate(lines):  # problems quote names and keys: each line literal
            out.append_text(join(Text("\n") if i else Text(""), literal(line, 1000)))
        self.query_one("#env-figures", Static).update(out)


def _sort_key(tb, key: str, rates: dict):
    return {"slot": tb.slot, "name": short_name(tb).lower() if tb.name else "", "records": tb.records,
            "bytes": tb.bytes, "rate": rates.get(tb.slot, 0.0), "description": (tb.description or "").lower()}[key]


def clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))
