"""The Databases screen: one row per database of a run, each refreshed by its own worker.

A slow database (a cursor count, a big 0.9 file) or a broken one never holds up the other rows:
every row has its own worker and its own timer, re-armed when its refresh returns. While another
screen (a database's overview) is on top, the rows are not refreshed: that overview refreshes its
own database, and nothing else is spent.

Several databases on one volume share its free bytes: where their maps together allow more than
the volume has, their Available cell says "shares /srv (10.3 MiB free) with 2 other databases"
instead of each showing room it does not have alone, and a line under the title grades the volume.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Static

from zlmdb_inspect.core.fmt import fmt_bytes
from zlmdb_inspect.core.kinds import RuleId, Severity, Status
from zlmdb_inspect.service.fleet import (
    DatabaseResult,
    Fleet,
    SharedVolume,
    sharing,
    status_of,
    volume_status,
    worst_status,
)
from zlmdb_inspect.tui import bindings
from zlmdb_inspect.tui.text import join, literal
from zlmdb_inspect.tui.widgets.datatable import MeasuredTable

# the four an operator reads first (name, status, worst warning, available) fit 80 columns together;
# the rest is to their right (the glossary's words: "in use" over the map, "available")
COLUMNS = (("path", "Database"), ("status", "Status"), ("warning", "Worst warning"), ("available", "Available"),
           ("used", "Map in use"), ("eta", "Time to full"), ("records", "Records (no catalog)"),
           ("format", "Format"), ("refreshed", "Refreshed"))
STATUS_STYLE = {"critical": "bold white on red", "warning": "bold black on yellow", "unknown": "bold white on grey37",
                "ok": "green"}
BAR_CELLS = 8
WARNING_WIDTH = 22  # the worst warning's rule id, or why a database cannot be inspected (all of it: enter)
FIXED_WIDTH = 50  # Status, Worst warning and Available with their cell padding, and the scrollbar
PATH_MIN, PATH_MAX = 16, 36
SHARE_WIDTH, MOUNT_WIDTH = 72, 20  # "shares /srv (10.3 MiB free) with 2 other databases"


def path_width(screen_width: int) -> int:
    """The Database column's width: what the three columns beside it leave at this width."""
    return max(PATH_MIN, min(PATH_MAX, screen_width - FIXED_WIDTH))


@dataclass
class RowRefreshed(Message):
    result: DatabaseResult


@dataclass
class DatabaseChosen(Message):
    """``enter`` on a row: the app opens that database's overview."""

    path: str


def used_bar(pct: float, style: str) -> Text:
    """A bar of BAR_CELLS cells and the percentage (one width up to 99.9 %: the column's width does not
    depend on which database's row was measured last): the share of the map in use."""
    full = max(0, min(BAR_CELLS, round(pct / 100.0 * BAR_CELLS)))
    return Text.assemble(("█" * full, style), ("░" * (BAR_CELLS - full), "grey50"), f" {pct:4.1f}%", no_wrap=True)


def bar_style(res: DatabaseResult) -> str:
    """Coloured as the map-headroom rule graded it (its thresholds, not fixed numbers)."""
    sev = {w.severity for w in res.warnings if w.id == RuleId.MAP_HEADROOM}
    return "red" if Severity.CRITICAL in sev else "yellow" if Severity.WARNING in sev else "green"


def status_cell(res: DatabaseResult) -> Text:
    status = str(status_of(res))
    return Text(f" {status.upper()} ", style=STATUS_STYLE.get(status, ""))


def worst_warning(res: DatabaseResult) -> Text:
    """The worst warning's rule id and how many more ("map-headroom (+2)"); the Status column
    beside it says how bad. A database that cannot be inspected: the start of why."""
    if not res.up:
        return literal(res.error or "cannot inspect", WARNING_WIDTH, "red")
    ws = sorted(res.warnings, key=lambda w: Severity(w.severity).rank)
    if not ws:
        return Text("none", style="green")
    more = f" (+{len(ws) - 1})" if len(ws) > 1 else ""
    return join(literal(str(ws[0].id), WARNING_WIDTH - len(more)), Text(more))


def eta_cell(res: DatabaseResult) -> Text:
    e = res.eta
    if e is None:
        return Text("–")
    return Text(e.text(), style="bold red" if str(e.state) in ("growing", "full") else "")


def common_root(paths: list[str]) -> str:
    """The directory every path is under (rows show the rest), or "" for paths that share none."""
    if len(paths) < 2:
        return ""
    try:
        root = os.path.commonpath(paths)
    except ValueError:  # absolute and relative paths mixed
        return ""
    return "" if root in ("", os.sep) else root


def display_name(path: str, root: str) -> str:
    return os.path.relpath(path, root) if root else path


def short_mount(mount: str, width: int) -> str:
    """A mount point cut at its start, as its end names it."""
    return mount if len(mount) <= width else "…" + mount[len(mount) - width + 1:]


def available_cell(res: DatabaseResult, volume: SharedVolume | None = None) -> Text:
    """What the database can still add (the glossary's "available"); where the disk allows less than
    the map it says so; where its volume is shared and limits them together, the volume's free bytes
    said once."""
    assert res.snapshot is not None
    cap = res.snapshot.capacity
    if volume is not None:
        return literal(volume.text(res.path, short_mount(volume.mount, MOUNT_WIDTH)), SHARE_WIDTH, "yellow")
    if cap.limit == "disk":
        return Text(f"{fmt_bytes(cap.available_bytes)} (disk)", justify="right")
    return Text(fmt_bytes(cap.available_bytes), justify="right")


def row_cells(res: DatabaseResult, clock: Callable[[float], str], root: str = "",
              width: int = PATH_MAX, volume: SharedVolume | None = None) -> list[Text]:
    """The row's cells in COLUMNS' order; ``width`` is the Database column's (its start is cut)."""
    path = literal(display_name(res.path, root), width, keep_end=True)
    refreshed = Text(clock(res.refreshed_at) if res.refreshed_at else "–")
    snap = res.snapshot
    if not res.up or snap is None:
        dash = Text("–")
        return [path, status_cell(res), worst_warning(res), dash, dash, dash, dash, dash, refreshed]
    cap = snap.capacity
    # the tables' records without slot 0's metadata records (JSON's catalog table holds those)
    records = sum(t.records for t in snap.tables if t.kind != "catalog") if snap.zlmdb else snap.lmdb.entries
    return [path, status_cell(res), worst_warning(res), available_cell(res, volume),
            used_bar(cap.used_pct, bar_style(res)), eta_cell(res), Text(f"{records:,}", justify="right"),
            Text(snap.lmdb.format), refreshed]


def name_only_row(path: Text, note: Text) -> list[Text]:
    """A row before its first refresh: the name and a note where the status goes."""
    dash = Text("–")
    return [path, note, *[dash] * (len(COLUMNS) - 2)]


class DatabasesScreen(Screen):
    """Every database of the run; ``enter`` opens one (the app pushes its overview)."""

    BINDINGS = list[BindingType](bindings.DATABASES)

    def __init__(self, fleet: Fleet, interval: float, clock: Callable[[float], str]) -> None:
        super().__init__()
        self.fleet = fleet
        self.root = common_root(fleet.paths)  # the title names it, the rows the rest of each path
        self.interval = interval
        self.clock = clock
        self._row_timers: dict[str, Timer] = {}
        self._in_flight: set[str] = set()
        self._live = True

    def compose(self) -> ComposeResult:
        yield Static("", id="title")
        yield Static("", id="volumes")  # shared volumes that limit their databases together, or are graded
        yield MeasuredTable(id="databases-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one("#databases-table", DataTable)
        for key, label in COLUMNS:
            t.add_column(Text(label), key=key)
        for p in self.fleet.paths:
            name = literal(display_name(p, self.root), self._path_width(), keep_end=True)
            t.add_row(*name_only_row(name, Text("reading…", style="yellow")), key=p)
        t.focus()
        self._render_title()
        for p in self.fleet.paths:
            self._start(p)

    # -- one worker and one timer per row --------------------------------------------------------

    def _start(self, path: str) -> None:
        timer = self._row_timers.pop(path, None)
        if timer is not None:
            timer.stop()
        if path in self._in_flight or not self._live:
            return
        self._in_flight.add(path)
        self._refresh_row(path)

    @work(thread=True, group="databases")
    def _refresh_row(self, path: str) -> None:
        self.post_message(RowRefreshed(self.fleet.refresh(path)))

    @on(RowRefreshed)
    def _row_done(self, msg: RowRefreshed) -> None:
        res = msg.result
        self._in_flight.discard(res.path)
        t = self.query_one("#databases-table", DataTable)
        volumes = self.fleet.volumes()
        limited = sharing(volumes)
        self._show_row(t, res, limited.get(res.path))
        for v in volumes:  # the others on its volume: the free bytes they share changed too
            if res.path not in v.paths:
                continue
            for p in v.paths:
                other = self.fleet.last(p)
                if p != res.path and other is not None and other.up and p in t.rows:
                    t.update_cell(p, "available", available_cell(other, limited.get(p)), update_width=True)
        self._render_volumes(volumes)
        self._render_title(volumes)
        if self._live:
            self._row_timers[res.path] = self.set_timer(self.interval, lambda p=res.path: self._start(p))

    def _path_width(self) -> int:
        return path_width(self.size.width or self.app.size.width)

    def _show_row(self, t: DataTable, res: DatabaseResult, volume: SharedVolume | None = None) -> None:
        row = res.path  # the row's key, never shown: the cells are literal
        for (key, _), cell in zip(COLUMNS, row_cells(res, self.clock, self.root, self._path_width(), volume)):
            t.update_cell(row, key, cell, update_width=True)

    def on_resize(self) -> None:
        """The names take what the columns beside them leave: shown again at the new width."""
        t = self.query_one("#databases-table", DataTable)
        limited = sharing(self.fleet.volumes())
        for p in self.fleet.paths:
            res = self.fleet.last(p)
            if res is not None and p in t.rows:
                self._show_row(t, res, limited.get(p))

    def _render_volumes(self, volumes: list[SharedVolume]) -> None:
        """One line per shared volume that limits its databases or has findings; hidden when none."""
        lines = []
        for v in volumes:
            if not (v.limits or v.findings):
                continue
            st = Status.of(f.severity for f in v.findings)
            badge = Text(f" {st.upper()} ", style=STATUS_STYLE[st]) if v.findings else Text("")
            worst_msg = v.findings[0].message if v.findings else ""
            lines.append(join(Text(" "), badge, Text(" "), literal(v.summary(short_mount(v.mount, 40)), 160),
                              *([Text(": "), literal(worst_msg, 160)] if worst_msg else [])))
        w = self.query_one("#volumes", Static)
        w.update(Text("\n").join(lines))
        w.display = bool(lines)

    def _render_title(self, volumes: list[SharedVolume] | None = None) -> None:
        results = [self.fleet.last(p) for p in self.fleet.paths]
        done = [r for r in results if r is not None]
        statuses = [status_of(r) for r in done] + volume_status(volumes or [])
        counts = {s.value: statuses.count(s) for s in (Status.CRITICAL, Status.WARNING, Status.UNKNOWN)}
        parts: list[object] = [Text(f" {len(self.fleet.paths)} databases", style="bold")]
        if self.root:
            parts += [Text(" in "), literal(self.root, 40, "bold", keep_end=True)]
        if done:
            worst = worst_status(statuses)
            parts += [Text("  "), Text(f" {worst.upper()} ", style=STATUS_STYLE[worst])]
            parts.append(Text(f"  {counts['critical']} critical, {counts['warning']} warning, "
                              f"{counts['unknown']} unknown"))
        if len(done) < len(results):
            parts.append(Text(f"  reading {len(results) - len(done)}…", style="yellow"))
        parts.append(Text(f"  every {self.interval:g} s", style="dim"))
        self.query_one("#title", Static).update(join(*parts))

    # -- keys and screen changes ------------------------------------------------------------------

    def selected_path(self) -> str | None:
        t = self.query_one("#databases-table", DataTable)
        if t.row_count == 0:
            return None
        return str(t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value)

    def action_open_database(self) -> None:
        path = self.selected_path()
        if path is None:
            return
        res = self.fleet.last(path)
        if res is not None and not res.up:
            # plain text, markup off: the path and the error are data
            self.notify(join(("cannot inspect ", ""), literal(path, keep_end=True), (": ", ""), res.error or "").plain,
                        title="Database", severity="error", markup=False)
            return
        self.post_message(DatabaseChosen(path))

    @on(DataTable.RowSelected, "#databases-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_database()

    def action_refresh(self) -> None:
        for p in self.fleet.paths:
            self._start(p)

    def on_screen_suspend(self) -> None:
        self._live = False
        for timer in self._row_timers.values():
            timer.stop()
        self._row_timers.clear()

    def on_screen_resume(self) -> None:
        if not self._live:
            self._live = True
            for p in self.fleet.paths:
                self._start(p)
