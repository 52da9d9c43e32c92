"""The overview's panels: each a widget that draws one part of a refresh.

Each panel has a reactive ``refresh_data`` bound to the overview screen's (``data_bind``);
setting the screen's draws every panel, and the title and the Live tab also follow the
app's reactive ``paused`` and ``interval``. Each carries its own CSS.
"""

from __future__ import annotations

import re
import time
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import DataTable, Sparkline, Static, TabbedContent, TabPane

from zlmdb_inspect.core.fmt import fmt_bytes, fmt_duration, fmt_rate, plural
from zlmdb_inspect.core.kinds import Severity
from zlmdb_inspect.core.model import Capacity, Table, TableTime
from zlmdb_inspect.core.options import Thresholds
from zlmdb_inspect.health.findings import Finding
from zlmdb_inspect.service import SERIES, Refresh
from zlmdb_inspect.tui.text import join, literal, prose_text
from zlmdb_inspect.tui.widgets.datatable import MeasuredTable

SEV_STYLE = {Severity.CRITICAL: "bold white on red", Severity.WARNING: "bold black on yellow",
             Severity.INFO: "bold white on blue"}
SEV_NOUN = {Severity.CRITICAL: ("critical", "critical"), Severity.WARNING: ("warning", "warnings"),
            Severity.INFO: ("info", "info")}
# widest cell of a column of data (names, descriptions, messages): longer text is cut with "…"
NAME_WIDTH, DESCRIPTION_WIDTH, MESSAGE_WIDTH, PROCESS_WIDTH = 40, 60, 100, 24
TABLE_COLUMNS = (("slot", "Slot"), ("name", "Table"), ("records", "Records"), ("bytes", "Size"),
                 ("rate", "Rec/s"), ("growth", "Growth"), ("description", "Description"))
SPARK_LABELS = {"txns": "transactions/s", "records": "records/s", "bytes": "growth of used bytes/s",
                "readers": "readers"}
_QUALIFIED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


def growth_per_day(tb: Table) -> float | None:
    """Bytes per day the table added over the last 7 days of its records' own time (None: no time, or too
    little history)."""
    return tb.time.rate_7d if tb.time is not None else None


def growth_cell(tb: Table) -> str:
    """"12.3 MiB/day" (the Tables list's Growth column), blank where unknown."""
    v = growth_per_day(tb)
    return "" if v is None else f"{fmt_bytes(v)}/day"


def growth_info(t: TableTime) -> str:
    """The Growth cell's figure and where it comes from: exact from the keys, or a sample's estimate ± its
    half-width."""
    v = t.rate_7d
    if v is None:
        return f"{t.note or 'no rate'} (time: {t.source})"
    if t.exact:
        return f"{fmt_bytes(v)}/day over 7 days (time: {t.source}, exact)"
    pm = f" ± {fmt_bytes(t.half_7d)}" if t.half_7d is not None else ""
    return f"{fmt_bytes(v)}{pm}/day over 7 days (time: {t.source}, estimated from {t.sample or 0:,} records)"


def short_name(tb: Table) -> str:
    """zlmdb stores a table's full class path (``cfxdb.realmstore._publication.Publications``):
    the list shows the class name, the line under it the full name."""
    name = tb.label()
    return name.rsplit(".", 1)[1] if _QUALIFIED.match(name) else name


def eta_text(ref: Refresh) -> str:
    """A sentence about time to full: measured over enough history, or saying why not."""
    return ref.eta.headline(ref.snapshot.capacity.limit) if ref.eta is not None else "time to full: not measured"


#: the writer is shown once it has held the write lock this long (seen at two refreshes without a commit)
WRITER_SHOWN_AFTER_S = 1.0


def writer_text(ref: Refresh, th: Thresholds, name_width: int = 16) -> Text | None:
    """"writer pid 4242 crossbar: write txn open 34 s" while a write transaction has been open for
    more than a moment; None otherwise. Yellow or red from the long-write-txn thresholds."""
    w = ref.writer
    if w is None or not w.held or w.held_s is None or w.held_s < WRITER_SHOWN_AFTER_S:
        return None
    style = ("bold red" if w.held_s >= th.write_txn_critical_s else
             "bold yellow" if w.held_s >= th.write_txn_warning_s else "")
    who = (join(Text(f"writer pid {w.pid} ", style), literal(w.name or "?", name_width, style))
           if w.pid is not None else Text(f"writer thread {w.tid}", style))
    return join(who, Text(f": write txn open {fmt_duration(w.held_s)}", style))


def refresh_state(app: Any) -> str:
    return "paused" if app.paused else f"every {app.interval:g} s"


def set_content(widget: Static, content: Text) -> None:
    """Show ``content`` in ``widget``: nothing when it shows that already, and no new layout of
    the screen when the widget's height does not follow its content.

    A refresh every 2 s updated a dozen Statics, each asking for a layout of the whole screen:
    most of the TUI's CPU while nothing changed.
    """
    if getattr(widget, "_shown", None) == content:
        return
    widget._shown = content  # type: ignore[attr-defined]
    height = widget.styles.height
    widget.update(content, layout=height is None or height.is_auto)


class RefreshView:
    """A panel drawn from a refresh: ``show(ref)`` draws it; the reactive calls it.

    Each widget handles its own messages, so a refresh can arrive before a panel's ``on_mount``
    ran: ``show`` must not depend on it (tables get their columns from ``_columns``, at either).
    """

    # no repaint of the whole widget (the screen, for the overview): each panel redraws what changed
    refresh_data: reactive[Refresh | None] = reactive(None, always_update=True, repaint=False)

    def watch_refresh_data(self, ref: Refresh | None) -> None:
        if ref is not None:
            self.show(ref)

    def show(self, ref: Refresh) -> None:
        raise NotImplementedError


class TitleBar(RefreshView, Static):
    """Path, counts by severity, last refresh and the refresh state on one line."""

    DEFAULT_CSS = """
    TitleBar {
        height: 1;
        background: $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def on_mount(self) -> None:
        if self.refresh_data is None:
            set_content(self, join(Text(" "), self._path(max(12, self.app.size.width - 14)), Text("  reading…")))
        self.watch(self.app, "paused", self._redraw, init=False)
        self.watch(self.app, "interval", self._redraw, init=False)

    def _redraw(self, _value: object = None) -> None:
        if self.refresh_data is not None:
            self.show(self.refresh_data)

    def on_resize(self) -> None:
        self._redraw()

    def _path(self, width: int) -> Text:
        return literal(self.app.service.path, width, "bold", keep_end=True)  # type: ignore[attr-defined]

    def show(self, ref: Refresh) -> None:
        set_content(self, self.text(ref))

    def text(self, ref: Refresh) -> Text:
        app: Any = self.app
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
        writer = writer_text(ref, app.service.thresholds)
        if writer is not None:
            rest = join(rest, writer, Text("  "))
        refreshed = Text(f" refreshed {app.clock(s.taken_at)}")
        damaged = Text("  DAMAGED: see Warnings" if ref.damaged else "", "bold red")
        deferred = Text()
        if s.counts_txnid != s.lmdb.last_txnid:  # a full count is expensive: it runs less often
            due = max(0, round((s.counts_next_at or s.taken_at) - time.time()))
            deferred = Text(f"  counts as of {app.clock(s.counts_at)}, next in {due} s", "yellow")
        # one line at any width: the path gives way (its start is cut), then the interval
        total = self.screen.size.width or app.size.width
        tail = Text.assemble(refreshed, f" ({refresh_state(app)})", deferred, damaged)
        if total - 2 - rest.cell_len - tail.cell_len < 16:
            tail = Text.assemble(refreshed, " (paused)" if app.paused else "", deferred, damaged)
        width = total - 2 - rest.cell_len - tail.cell_len
        return join(Text(" "), self._path(max(12, width)), rest, tail)

    def show_progress(self, took: float) -> None:
        """While a snapshot takes longer than a moment (a big database, a cursor count), say so."""
        base = self.text(self.refresh_data) if self.refresh_data is not None else join(Text(" "), self._path(20))
        base.append(f"  reading and counting… {took:.0f} s", style="bold yellow")
        set_content(self, base)

    def show_failure(self, error: str) -> None:
        """The error after the path; cut, it names the key of the message log that holds it in full."""
        app: Any = self.app
        head = join(Text(" "), self._path(30), Text("  refresh failed: ", style="bold red"))
        width = (self.size.width or app.size.width) - head.cell_len
        set_content(self, join(head, app.status_line(error, width)))


class CapacityPanel(RefreshView, Static):
    """How full the map is; the bar's colours follow the map-headroom thresholds."""

    DEFAULT_CSS = """
    CapacityPanel {
        height: 3;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """
    BAR_WIDTH = 24

    def __init__(self, thresholds: Thresholds, **kw: Any) -> None:
        super().__init__("", **kw)
        self.thresholds = thresholds

    def on_resize(self) -> None:
        if self.refresh_data is not None:
            self.show(self.refresh_data)

    @staticmethod
    def limit_owner(c: Any) -> str:
        """Who sets the limit, the pid first ("writer pid 4242 crossbar"): at 80 columns a cut name
        still leaves the pid to act on."""
        mismatch = c.mismatch_text()
        if mismatch:
            return str(mismatch)
        if c.map_source == "writer":
            who = [m for m in c.maps if m.get("writable") is not False and m.get("map_size") == c.map_size]
            if who:
                return f"writer pid {who[0]['pid']} {who[0].get('name') or '?'}"
        return str(c.limit_text())

    def show(self, ref: Refresh) -> None:
        c, th = ref.snapshot.capacity, self.thresholds
        owner = self.limit_owner(c)
        room = (self.size.width or self.app.size.width) - 2  # padding
        in_use = f" {fmt_bytes(c.in_use_bytes)}, {c.used_pct:.1f}%"
        fixed = len("in use ") + len(in_use) + len(" of ") + len(fmt_bytes(c.map_size)) + 3
        width = max(6, min(self.BAR_WIDTH, room - fixed - len(owner)))  # the bar gives way to the facts
        filled = min(width, int(round(width * c.used_pct / 100.0)))
        style = ("red" if c.used_pct >= th.map_used_critical_pct else
                 "yellow" if c.used_pct >= th.map_used_warning_pct else "green")
        b = "bold"
        # the glossary's words, the figures --check and the warnings give: "in use" (the high-water mark
        # minus reusable pages) over the map; the high-water mark beside it is a different figure, so named
        set_content(self, Text.assemble(  # figures, and process names through literal()
            "in use ", ("█" * filled, style), ("░" * (width - filled), "grey50"),
            (in_use, b), " of ", (fmt_bytes(c.map_size), b), " (",
            literal(owner, 160), ")\n",
            "available ", (fmt_bytes(c.available_bytes), b),
            f" ({100.0 * c.available_bytes / c.map_size if c.map_size else 0:.1f}%)",
            *_disk_limit(c), "  high-water mark ", (fmt_bytes(c.used_bytes), b), "  file ",
            (fmt_bytes(c.file_size), b), *_on_disk(c), *_compact_parts(c), "\n",
            "free pages ", ("unknown" if c.free_pages is None else f"{c.free_pages:,}", b),
            "" if c.reusable_pages is None else f" ({c.reusable_pages:,} reusable{_free_run(c)})", "  ",
            (eta_text(ref), b)))


def _disk_limit(c: Capacity) -> tuple[str | Text, ...]:
    """Issue 29: "  limit: the disk — 10.3 MiB free on /srv" where the volume allows less than the map."""
    text = c.disk_text()
    return ("  limit: ", Text.assemble(literal(text, 120), style="bold red")) if text else ()


def _free_run(c: Capacity) -> str:
    """Issue 29: the longest run of reusable pages one write finds (a larger value extends the file)."""
    if not c.free_runs or not c.reusable_pages:
        return ""
    n = c.free_runs["largest_pages"]
    return f", runs up to {n:,} page{'' if n == 1 else 's'}"


def _on_disk(c: Any) -> list[Any]:
    """A sparse file (a large map written with MDB_WRITEMAP) holds far fewer blocks than its apparent size:
    say what it takes on disk (the glossary's "file size on disk"), as ``du`` would."""
    fs = c.filesystem
    on_disk = fs.get("file_allocated_bytes") if fs else None
    if on_disk is None or on_disk >= 0.9 * c.file_size:
        return []
    return [" (", (fmt_bytes(on_disk), "bold"), " on disk)"]


def _compact_parts(c: Any) -> list[Any]:
    """Beside the file size (issue 29 item 4): what a compacting copy and a rewrite in key order would write."""
    if not c.compact:
        return []
    return [" (compact copy ", (fmt_bytes(c.compact["copy_bytes"]), "bold"),
            ", rewrite ", (fmt_bytes(c.compact["rewrite_bytes"]), "bold"), ")"]


class TablesList(MeasuredTable):
    """The tables: home and end go to the first and last table (a DataTable scrolls sideways)."""

    BINDINGS = [Binding("home", "first_row", "First", show=False), Binding("end", "last_row", "Last", show=False),
                # the list takes enter (it selects; the screen opens the table): shown here, the footer says so
                Binding("enter", "select_cursor", "Open table", key_display="⏎")]

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)


class TablesTab(RefreshView, TabPane):
    """Every table (and named database) with its figures, sortable; a line about the highlighted one."""

    DEFAULT_CSS = """
    TablesTab #table-info {
        height: auto;
        max-height: 3;
        padding: 0 1;
        background: $panel;
        text-overflow: ellipsis;
    }
    """
    SORT_KEYS = tuple(k for k, _ in TABLE_COLUMNS)

    def __init__(self) -> None:
        super().__init__("Tables", id="tables")
        self.sort: tuple[str, bool] = ("slot", False)

    def compose(self) -> ComposeResult:
        yield TablesList(id="tables-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="table-info")

    def on_mount(self) -> None:
        self._columns()

    def _columns(self) -> None:
        t = self.query_one(TablesList)
        if not t.columns:
            self._add_columns(t)

    def selected_key(self) -> str | None:
        """The highlighted row's key: a slot number, or ``db:NAME`` for a named database."""
        t = self.query_one(TablesList)
        if t.row_count == 0:
            return None
        return str(t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value)

    @on(DataTable.HeaderSelected, "#tables-table")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        self.sort_by(key, not self.sort[1] if self.sort[0] == key else None)

    def sort_next(self) -> None:
        keys = self.SORT_KEYS
        self.sort_by(keys[(keys.index(self.sort[0]) + 1) % len(keys)], None)

    def sort_by(self, key: str, reverse: bool | None) -> None:
        """Big numbers first for figures, A to Z for text, unless reversed."""
        self.sort = (key, key in ("records", "bytes", "rate", "growth") if reverse is None else reverse)
        t = self.query_one(TablesList)
        current = t.coordinate_to_cell_key(t.cursor_coordinate).row_key if t.row_count else None
        t.clear(columns=True)  # the header marks the sort column and direction
        self._add_columns(t)
        if self.refresh_data:
            self.show(self.refresh_data)
            if current is not None and current in t.rows:  # the cursor stays on its table
                t.move_cursor(row=t.get_row_index(current), animate=False)

    def _add_columns(self, t: DataTable) -> None:
        key, rev = self.sort
        for k, label in TABLE_COLUMNS:
            t.add_column(Text(label + (" ▼" if rev else " ▲") if k == key else label), key=k)

    @on(DataTable.RowHighlighted, "#tables-table")
    def _highlighted(self) -> None:
        self.show_info()

    def show_info(self) -> None:
        """The highlighted table's full name, oid, creator and whole description (the list has room for
        neither, and shows only the description's first paragraph)."""
        info = self.query_one("#table-info", Static)
        key = self.selected_key()
        if self.refresh_data is None or key is None:
            set_content(info, Text(""))
            return
        tb = None if key.startswith("db:") else self.refresh_data.snapshot.table_by_slot(int(key))
        if tb is None:
            set_content(info, join(("named LMDB database ", "bold"), key[3:]))
            return
        parts: list = [(tb.name or f"slot {tb.slot}: no metadata record", "bold")]
        if tb.time is not None:
            parts += [Text("  growth ", "dim"), growth_info(tb.time)]
        # the description first: at 80 columns it is what the list cut; up to three lines, then an ellipsis
        for label, value in (("description", tb.description), ("creator", tb.creator)):
            if value:
                parts += [Text(f"  {label} ", "dim"), prose_text(value, 2000)]
        if tb.oid:
            parts += [Text("  oid ", "dim"), tb.oid]
        set_content(info, join(*parts))

    def show(self, ref: Refresh) -> None:
        self._columns()
        t = self.query_one(TablesList)
        rates = ref.rates.tables_per_s
        rows: dict[str, tuple[Table | None, list[Text]]] = {}
        for tb in ref.snapshot.tables:
            rate = rates.get(tb.slot)
            name = literal(short_name(tb) if tb.name else "(no metadata)", NAME_WIDTH,
                           "" if tb.metadata else "italic yellow")
            rows[str(tb.slot)] = (tb, [Text(str(tb.slot)), name, Text(f"{tb.records:,}"), Text(fmt_bytes(tb.bytes)),
                                       Text("" if rate is None else f"{rate:,.1f}"), Text(growth_cell(tb)),
                                       prose_text(tb.description, DESCRIPTION_WIDTH, first_paragraph=True)])
        for db in ref.snapshot.databases:
            rows[f"db:{db.name}"] = (None, [
                Text("db"), literal(db.name, NAME_WIDTH, "cyan"), Text(f"{db.entries:,}"),
                Text(fmt_bytes((db.leaf_pages + db.branch_pages + db.overflow_pages) * ref.snapshot.lmdb.page_size)),
                Text(""), Text(""), Text("named LMDB database")])
        key, rev = self.sort
        # tables by the column (equal ones by slot, a stable sort), named databases after them
        tables = sorted(((k, v) for k, v in rows.items() if v[0] is not None), key=lambda kv: _slot(kv[1][0]))
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
        self.show_info()


def _slot(tb: Table | None) -> int:
    return tb.slot if tb is not None else -1


def _sort_key(tb: Table | None, key: str, rates: dict[int, float]) -> Any:
    if tb is None:
        return 0
    return {"slot": tb.slot, "name": short_name(tb).lower() if tb.name else "", "records": tb.records,
            "bytes": tb.bytes, "rate": rates.get(tb.slot, 0.0), "growth": growth_per_day(tb) or 0.0,
            "description": (tb.description or "").lower()}[key]


class WarningsTab(RefreshView, TabPane):
    """Every finding, worst first; the highlighted one in full below the list."""

    # the list takes the rows it has (up to half), the detail the rest: at 80x24 a warning's Practice
    # line shows, and where it does not (a long message, many rows) the detail scrolls (tab to it)
    DEFAULT_CSS = """
    WarningsTab #warning-detail-scroll {
        height: 1fr;
        min-height: 4;
        border-top: solid $primary;
    }
    WarningsTab #warning-detail-scroll:focus {
        border-top: solid $accent;
    }
    WarningsTab #warning-detail {
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(self) -> None:
        super().__init__("Warnings", id="warnings")
        self.rows: list[Finding] = []
        self._shown_rows: list[tuple] | None = None

    def compose(self) -> ComposeResult:
        yield MeasuredTable(id="warnings-table", cursor_type="row")
        with VerticalScroll(id="warning-detail-scroll"):
            yield Static("", id="warning-detail")

    def on_mount(self) -> None:
        self._columns()

    def _columns(self) -> None:
        w = self.query_one("#warnings-table", DataTable)
        if w.columns:
            return
        for key, label in (("severity", "Severity"), ("id", "Rule"), ("subject", "About"), ("message", "Message")):
            w.add_column(Text(label), key=key)

    @on(DataTable.RowHighlighted, "#warnings-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        idx = event.cursor_row
        if 0 <= idx < len(self.rows):
            w = self.rows[idx]
            set_content(self.query_one("#warning-detail", Static), join(
                (w.id, "bold"), f"  ({w.severity})", Text("\n"), literal(w.message, 1000), Text("\n\n"),
                ("Measured: ", "bold"), w.figure_text or "", ("   Threshold: ", "bold"), w.threshold_text or "",
                Text("\n"), ("Practice: ", "bold"), w.practice))
            self.query_one("#warning-detail-scroll", VerticalScroll).scroll_home(animate=False)  # its first line

    def show(self, ref: Refresh) -> None:
        self._columns()
        w = self.query_one("#warnings-table", DataTable)
        shown = [(x.severity, x.id, x.subject, x.message, x.figure_text, x.threshold_text, x.practice)
                 for x in ref.warnings]  # everything the table and the detail show
        if shown == self._shown_rows and w.row_count == len(shown):
            self.rows = ref.warnings  # the same warnings: the table and the tab's label stay as they are
            return
        self._shown_rows = shown
        self.rows = ref.warnings
        cursor = w.cursor_row
        w.clear()
        for i, warn in enumerate(ref.warnings):
            w.add_row(Text(f" {warn.severity} ", style=SEV_STYLE[warn.severity]), literal(warn.id),
                      literal(warn.subject, NAME_WIDTH), literal(warn.message, MESSAGE_WIDTH), key=str(i))
        if ref.warnings:
            w.move_cursor(row=min(cursor, len(ref.warnings) - 1), animate=False)
        else:
            set_content(self.query_one("#warning-detail", Static), Text("No warnings: every rule passed."))
        tabs = self.screen.query_one(TabbedContent)
        tabs.get_tab("warnings").label = Text(f"Warnings ({len(ref.warnings)})")


def _bytes_cell(n: int | None) -> Text:
    """A reader's pinned or released bytes (issue 29 item 3): blank where no walk counted them, "0" where none."""
    return Text("" if n is None else "0" if n == 0 else fmt_bytes(n), justify="right")


class ReadersTab(RefreshView, TabPane):
    """LMDB's reader table, with process names and how long each snapshot has been held."""

    DEFAULT_CSS = """
    ReadersTab #readers-note {
        height: auto;
        padding: 0 1;
        color: $text-muted;
    }
    ReadersTab #writer-line {
        height: auto;
        padding: 0 1;
        display: none;
    }
    """

    def __init__(self) -> None:
        super().__init__("Readers", id="readers")

    def compose(self) -> ComposeResult:
        yield Static("", id="writer-line")
        yield MeasuredTable(id="readers-table", cursor_type="row")
        yield Static("", id="readers-note")

    def on_mount(self) -> None:
        self._columns()

    def _columns(self) -> None:
        r = self.query_one("#readers-table", DataTable)
        if r.columns:
            return
        for key, label in (("pid", "PID"), ("name", "Process"), ("thread", "Thread"), ("txnid", "Txn"),
                           ("lag", "Lag"), ("held", "Held"), ("pins", "Pins"), ("releases", "Ending frees"),
                           ("alive", "Alive"), ("own", "")):
            r.add_column(Text(label), key=key)

    def show(self, ref: Refresh) -> None:
        self._columns()
        r = self.query_one("#readers-table", DataTable)
        r.clear()
        for i, rd in enumerate(ref.snapshot.readers):
            alive = Text("yes", style="green") if rd.alive else Text("NO", style="bold red")
            r.add_row(Text(str(rd.pid)), literal(rd.name, PROCESS_WIDTH), literal(rd.thread, 20),
                      Text("-" if rd.txnid is None else f"{rd.txnid:,}"), Text("" if rd.lag is None else f"{rd.lag:,}"),
                      Text("" if rd.held_s is None else fmt_duration(rd.held_s)),
                      _bytes_cell(rd.pins_bytes), _bytes_cell(rd.releases_bytes), alive,
                      Text("this inspector" if rd.own else ""), key=str(i))
        env = ref.snapshot.lmdb
        note = (f"{plural(len(ref.snapshot.readers), 'reader slot')} in use of {env.max_readers:,}."
                if env.locking else
                "No process had the database open when the inspector started, so it runs without "
                "LMDB's lock file (opening it would reset the reader table). Readers appear once a "
                "process opens the database.")
        set_content(self.query_one("#readers-note", Static), Text(note))
        self._writer(ref)

    def _writer(self, ref: Refresh) -> None:
        """The writer line: a write transaction open for more than a moment, or why the writer
        cannot be read on this host."""
        line = self.query_one("#writer-line", Static)
        w = ref.writer
        text = writer_text(ref, self.app.service.thresholds, PROCESS_WIDTH)  # type: ignore[attr-defined]
        if text is not None and w is not None:
            if w.tid is not None and w.pid is not None:
                text.append_text(join(Text(f" (thread {w.tid}"),
                                      (f" {w.thread_name}" if w.thread_name and w.thread_name != w.name else "", ""),
                                      Text(")")))
            if w.reason:
                text.append_text(join(Text("; "), (w.reason, "")))
        elif w is not None and w.state == "unknown":
            text = join(Text("writer: not readable here: "), (w.reason or "", ""))
        line.display = text is not None
        set_content(line, text if text is not None else Text())


class LiveTab(RefreshView, TabPane):
    """Rates over the recent history, time to full, and sparklines."""

    DEFAULT_CSS = """
    LiveTab #live-figures {
        height: 3;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    LiveTab .spark-label {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    LiveTab .spark {
        height: 2;
        margin: 0 1;
    }
    """

    def __init__(self) -> None:
        super().__init__("Live", id="live")

    def compose(self) -> ComposeResult:
        yield Static("", id="live-figures")
        for name in SERIES:
            label_id = "spark-label-" + name  # an id, not text (the markup check reads call arguments)
            yield Static(Text(SPARK_LABELS[name]), id=label_id, classes="spark-label")
            yield Sparkline([], id=f"spark-{name}", classes="spark")

    def on_mount(self) -> None:
        self.watch(self.app, "paused", self._redraw, init=False)
        self.watch(self.app, "interval", self._redraw, init=False)

    def _redraw(self, _value: object = None) -> None:
        if self.refresh_data is not None:
            self.show(self.refresh_data)

    def show(self, ref: Refresh) -> None:
        r = ref.rates
        fastest = sorted(((v, k) for k, v in r.tables_per_s.items() if v > 0), reverse=True)[:3]
        names = {t.slot: short_name(t) for t in ref.snapshot.tables}
        b = "bold"
        fast: list = []
        for v, k in fastest:
            fast += [Text(", ")] if fast else []
            fast += [literal(names.get(k, k), NAME_WIDTH), f" {v:,.1f}/s"]
        set_content(self.query_one("#live-figures", Static), join(
            "transactions ", (fmt_rate(r.txns_per_s, "txn/s"), b),
            "   records ", (fmt_rate(r.records_per_s, "rec/s"), b),
            "   growth ", (fmt_rate(r.bytes_per_s, "B/s"), b), Text("\n"), (eta_text(ref), b),
            f"   (over the last {r.window_s:.0f} s; {refresh_state(self.app)})",
            Text("\n"), "fastest-growing tables: ", *(fast or ["none"])))
        for name in SERIES:
            data = ref.series.get(name) or [0.0]
            self.query_one(f"#spark-{name}", Sparkline).data = data
            set_content(self.query_one(f"#spark-label-{name}", Static), join(
                SPARK_LABELS[name], "   now ", (spark_figure(name, data[-1]), b),
                " · peak ", (spark_figure(name, max(data)), b)))


def spark_figure(name: str, v: float) -> str:
    """A sparkline's scale in its own unit: bytes per second, readers, or a rate."""
    if name == "bytes":
        return fmt_bytes(v) + "/s"
    if name == "readers":
        return f"{v:,.0f}"
    return f"{v:,.1f}/s" if v < 100 else f"{v:,.0f}/s"


class EnvironmentTab(RefreshView, TabPane):
    """LMDB's own figures, problems found, and the verifier's result."""

    DEFAULT_CSS = """
    EnvironmentTab #env-figures {
        padding: 0 1;
    }
    """

    def __init__(self) -> None:
        super().__init__("Environment", id="environment")

    def compose(self) -> ComposeResult:
        yield Static("", id="env-figures")

    def show(self, ref: Refresh) -> None:
        s = ref.snapshot
        e = s.lmdb
        lines = [
            f"LMDB format {e.format}, read by engine {e.library}; page size {e.page_size:,}",
            f"tree depth {e.depth}; pages: {e.branch_pages:,} branch, {e.leaf_pages:,} leaf, "
            f"{e.overflow_pages:,} overflow",
            f"entries {e.entries:,}; last page {e.last_pgno:,}; last transaction {e.last_txnid:,}",
            f"reader slots {e.max_readers:,} (most in use at once: {e.num_readers:,}); "
            f"locking {'on' if e.locking else 'off (no other process)'}",
            f"counted by {s.count_method}; {s.page_reads:,} page reads",
        ]
        for p in s.problems:
            lines.append(f"[{p.kind}] {p.message}")
        if ref.verify_problems is not None:
            lines.append("verify: " + ("no problems found" if not ref.verify_problems else
                                       plural(len(ref.verify_problems), "problem") + ": "
                                       + "; ".join(ref.verify_problems[:5])))
        out = Text()
        for i, line in enumerate(lines):  # problems quote names and keys: each line literal
            out.append_text(join(Text("\n") if i else Text(""), literal(line, 1000)))
        set_content(self.query_one("#env-figures", Static), out)


def clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))
