"""The overview screen: the refresh loop, and the panels (:mod:`zlmdb_inspect.tui.widgets.panels`) it feeds."""

from __future__ import annotations

import time
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, TabbedContent
from textual.worker import get_current_worker

from zlmdb_inspect.core.errors import InspectError
from zlmdb_inspect.service import Refresh, Service
from zlmdb_inspect.tui import bindings
from zlmdb_inspect.tui.messages import RefreshDone, RefreshFailed
from zlmdb_inspect.tui.widgets.panels import (
    CapacityPanel,
    EnvironmentTab,
    LiveTab,
    ReadersTab,
    TablesList,
    TablesTab,
    TitleBar,
    WarningsTab,
    clock,
    eta_text,
    short_name,
)

__all__ = ["Overview", "TablesList", "clock", "eta_text", "short_name"]


class Overview(Screen):
    BINDINGS = list[BindingType](bindings.OVERVIEW)

    # no repaint of the whole widget (the screen, for the overview): each panel redraws what changed
    refresh_data: reactive[Refresh | None] = reactive(None, always_update=True, repaint=False)

    def __init__(self) -> None:
        super().__init__()
        self._timer: Timer | None = None
        self.failures: list[str] = []  # refreshes that failed, shown in the title
        self._busy_since: float | None = None

    @property
    def service(self) -> Service:
        return self.app.service  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        yield TitleBar("", id="title").data_bind(Overview.refresh_data)
        yield CapacityPanel(self.service.thresholds, id="capacity").data_bind(Overview.refresh_data)
        with TabbedContent(id="tabs", initial="tables"):
            yield TablesTab().data_bind(Overview.refresh_data)
            yield WarningsTab().data_bind(Overview.refresh_data)
            yield ReadersTab().data_bind(Overview.refresh_data)
            yield LiveTab().data_bind(Overview.refresh_data)
            yield EnvironmentTab().data_bind(Overview.refresh_data)
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "databases":  # only when the app started on the Databases screen
            return getattr(self.app, "fleet", None) is not None
        if action in ("open_table", "sort"):  # they act on the Tables tab only: elsewhere not on offer
            tabs = self.query("#tabs")
            return not tabs or tabs.first(TabbedContent).active == "tables"
        return True

    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_changed(self) -> None:
        self.refresh_bindings()  # the footer and ? follow the tab

    def action_databases(self) -> None:
        self.app.pop_screen()

    def on_mount(self) -> None:
        self.query_one(TablesList).focus()
        self.set_interval(0.5, self._show_progress)
        self.watch(self.app, "paused", self._arm, init=False)  # pausing disarms, resuming re-arms
        self.watch(self.app, "interval", self._arm, init=False)
        self._start_refresh()  # the first snapshot counts anyway (it may be under way already)

    # -- refresh loop: one worker at a time, timer re-armed after each run ------

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def action_refresh(self) -> None:
        self._disarm()
        self.service.count_now()  # `r`: counts now, even when not due yet
        self._start_refresh()

    def _start_refresh(self) -> None:
        self._busy_since = time.monotonic()
        self._run_refresh()

    def _show_progress(self) -> None:
        if self._busy_since is None or time.monotonic() - self._busy_since < 0.5:
            return
        self.query_one(TitleBar).show_progress(time.monotonic() - self._busy_since)

    @work(thread=True, exclusive=True, group="refresh")
    def _run_refresh(self) -> None:
        try:
            ref = self.service.refresh(live=True)
        except Exception as e:  # noqa: BLE001 - shown on screen, the loop goes on
            self.post_message(RefreshFailed(str(e) if isinstance(e, InspectError) else f"{type(e).__name__}: {e}"))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(RefreshDone(ref))

    def _arm(self, _value: object = None) -> None:
        self._disarm()
        app: Any = self.app
        if app.paused:
            return
        self._timer = self.set_timer(app.interval, self._start_refresh)

    @on(RefreshDone)
    def _done(self, msg: RefreshDone) -> None:
        self._busy_since = None
        app: Any = self.app
        with app.batch_update():
            app.last_refresh = msg.refresh
            self.refresh_data = msg.refresh  # every panel draws itself
        for screen in app.screen_stack:  # open records screens keep their counts current
            if hasattr(screen, "snapshot_refreshed"):
                screen.snapshot_refreshed(msg.refresh)
        self._arm()

    @on(RefreshFailed)
    def _failed(self, msg: RefreshFailed) -> None:
        self._busy_since = None
        self.failures.append(msg.error)
        self.app.messages.add("overview", f"refresh failed: {msg.error}")  # type: ignore[attr-defined]
        self.query_one(TitleBar).show_failure(msg.error)
        self._arm()

    # -- actions ---------------------------------------------------------------

    def action_pause(self) -> None:
        app: Any = self.app
        app.paused = not app.paused

    def action_interval(self, delta: float) -> None:
        app: Any = self.app
        app.interval = max(0.5, min(60.0, app.interval + delta))

    def action_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab
        focus = {"tables": "#tables-table", "warnings": "#warnings-table", "readers": "#readers-table"}
        if tab in focus:
            self.query_one(focus[tab], DataTable).focus()

    def action_sort(self) -> None:
        self.query_one(TablesTab).sort_next()

    def action_open_table(self) -> None:
        if self.refresh_data is None or self.query_one("#tabs", TabbedContent).active != "tables":
            return
        key = self.query_one(TablesTab).selected_key()
        if key is None:
            return
        if key.startswith("db:"):
            self.notify("A named LMDB database of a plain environment: its entries are counted, "
                        "not browsed (it is not a zlmdb table).", severity="warning")
            return
        table = self.refresh_data.snapshot.table_by_slot(int(key))
        if table is None:
            return
        if self.refresh_data.damaged:
            self.notify("The database is damaged: records are not read from a damaged tree.",
                        severity="error")
            return
        from zlmdb_inspect.tui.screens.records import TableScreen

        self.app.push_screen(TableScreen(table))

    def action_growth(self) -> None:
        """The Growth view over the snapshot on screen (its figures are in it: no reads)."""
        if self.refresh_data is None:
            self.notify("No snapshot yet: the first refresh is still counting.", severity="warning")
            return
        from zlmdb_inspect.tui.screens.growth import GrowthScreen

        app: Any = self.app
        self.app.push_screen(GrowthScreen(self.refresh_data, app.now_fn))

    @on(DataTable.RowSelected, "#tables-table")
    def _table_selected(self) -> None:
        self.action_open_table()
