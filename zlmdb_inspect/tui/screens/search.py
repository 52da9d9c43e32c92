"""A whole-table query in the TUI: matches stream in while a worker scans, with progress.

The scan (:class:`zlmdb_inspect.tables.scanner.Scan`) runs in a thread worker, in short read
transactions; after each one the worker posts the progress and the matches found so far.
``escape`` cancels a running scan (again: back), ``n``/``b`` move between matches,
``enter`` opens the match in a records screen over this one: escape there comes back to the
matches (the scan carries on meanwhile). Rows read as the record list's, with the field that
matched and the matched text highlighted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from zlmdb_inspect.core.fmt import fmt_bytes, plural
from zlmdb_inspect.service import Progress, Query, Record, Scan
from zlmdb_inspect.tui import bindings
from zlmdb_inspect.tui.text import join, literal
from zlmdb_inspect.tui.widgets.datatable import MeasuredTable
from zlmdb_inspect.tui.widgets.fields import key_text, value_text
from zlmdb_inspect.tui.widgets.matchtext import match_cell

SHOWN = 10_000  # matches kept on screen; the scan stops there and says so



@dataclass
class ScanProgress(Message):
    progress: Progress
    found: list[Record]


@dataclass
class StartNoted(Message):
    note: str  # where ``from:`` landed when no key equals it ("no key X; showing the next one")


@dataclass
class ScanFailed(Message):
    error: str


def eta_text(p: Progress) -> str:
    if p.eta_s is None:
        return "?"
    s = int(p.eta_s)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def progress_text(p: Progress, shown_limit: int = SHOWN) -> str:
    """"scanned 120,000 of 2,000,000 · 310,000 records/s · 3 matches · ETA 6s"."""
    total = f" of {p.total:,}" if p.total and p.total >= p.scanned else ""  # the count grows while a writer adds
    head = f"scanned {p.scanned:,}{total} · {p.rate:,.0f} records/s · {plural(p.matches, 'match', 'matches')}"
    if p.cancelled:
        return head + " · cancelled"
    if p.done:
        more = f" (the first {shown_limit:,} are shown)" if p.matches >= shown_limit else ""
        return head + f" · done in {p.elapsed:.1f}s" + more
    return head + f" · ETA {eta_text(p)}"


class SearchScreen(Screen[None]):
    """Matches of one query; ``open_match(raw_key)`` is the screen pushed for the chosen one."""

    BINDINGS = list[BindingType](bindings.SEARCH)
    DEFAULT_CSS = """
    SearchScreen #search-title { height: 1; background: $panel; }
    SearchScreen #search-progress { height: 1; }
    SearchScreen DataTable { height: 1fr; }
    """

    def __init__(self, title: str, make_scan: Callable[[], Scan], open_match: Callable[[bytes], Screen],
                 query: Query | None = None, start_note: Callable[[], str | None] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.start_note = start_note  # run in the scan's worker (it reads the table)
        self.note: str | None = None
        self.make_scan, self.open_match, self.query_ = make_scan, open_match, query
        self.scan: Scan | None = None
        self.keys: list[bytes] = []
        self.progress: Progress | None = None
        self.failed = False

    def compose(self) -> ComposeResult:
        yield Static(literal(self.title_text, None), id="search-title")
        yield Static(literal("starting…", None), id="search-progress")
        table: DataTable = MeasuredTable(id="search-matches", cursor_type="row", zebra_stripes=True)
        table.add_columns("Key", "Match", "Value", "Size")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self._run()

    @work(thread=True, exclusive=True, group="search")
    def _run(self) -> None:
        """Builds the scan here, not on mount: a ``from:`` key samples the table to learn its key codec."""
        try:
            scan = self.make_scan()
        except Exception as e:  # noqa: BLE001 - a bad query or key: said on screen
            self.post_message(ScanFailed(f"{type(e).__name__}: {e}" if not str(e).startswith("bad") else str(e)))
            return
        self.scan = scan
        if get_current_worker().is_cancelled:  # the screen was closed while the scan was being built
            scan.cancel()
            return
        found: list[Record] = []

        def on_progress(p: Progress) -> None:
            self.post_message(ScanProgress(p, list(found)))
            found.clear()

        try:
            note = self.start_note() if self.start_note is not None else None
            if note:
                self.post_message(StartNoted(note))
            for rec in scan.records(limit=SHOWN, on_progress=on_progress):
                found.append(rec)
        except Exception as e:  # noqa: BLE001 - a damaged page, the database gone
            self.post_message(ScanFailed(f"{type(e).__name__}: {e}"))

    def on_scan_progress(self, msg: ScanProgress) -> None:
        self.progress = msg.progress
        table = self.query_one("#search-matches", DataTable)
        for rec in msg.found:
            self.keys.append(rec.raw_key)
            match = match_cell(self.query_, rec.key, rec.value) if self.query_ is not None else Text("")
            table.add_row(key_text(rec.key, 40), match, value_text(rec.value, 120),
                          Text(fmt_bytes(rec.size), justify="right"), key=str(len(self.keys)))
        self._show_progress()

    def _show_progress(self) -> None:
        text = progress_text(self.progress) if self.progress is not None else "starting…"
        self.query_one("#search-progress", Static).update(literal(f"{self.note} · {text}" if self.note else text, None))

    def on_start_noted(self, msg: StartNoted) -> None:
        self.note = msg.note
        self._show_progress()

    def on_scan_failed(self, msg: ScanFailed) -> None:
        self._show_error(msg.error)

    def _show_error(self, error: str) -> None:
        self.failed = True
        self.query_one("#search-progress", Static).update(join(("error: ", "bold red"), error, width=None))

    @property
    def running(self) -> bool:
        return (self.scan is not None and not self.failed and not self.scan.cancelled
                and not (self.progress and (self.progress.done or self.progress.cancelled)))

    def action_cancel_or_back(self) -> None:
        if self.running:
            assert self.scan is not None
            self.scan.cancel()
            return
        if self.scan is not None:
            self.scan.cancel()
        self.dismiss(None)

    def _move(self, step: int) -> None:
        table = self.query_one("#search-matches", DataTable)
        if table.row_count:
            table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + step)))

    def action_next_match(self) -> None:
        self._move(1)

    def action_prev_match(self) -> None:
        self._move(-1)

    def action_open(self) -> None:
        table = self.query_one("#search-matches", DataTable)
        if not self.keys or table.cursor_row >= len(self.keys):
            return
        self.app.push_screen(self.open_match(self.keys[table.cursor_row]))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()
