"""The Textual application: a thin client of :class:`zlmdb_inspect.service.Service`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from zlmdb_inspect.core.options import Settings
from zlmdb_inspect.service import Refresh, Service
from zlmdb_inspect.service.fleet import Fleet
from zlmdb_inspect.tui import bindings, prefs
from zlmdb_inspect.tui.screens.databases import DatabaseChosen, DatabasesScreen
from zlmdb_inspect.tui.screens.messagelog import MessageLog, MessageLogScreen, fit_line
from zlmdb_inspect.tui.screens.overview import Overview, clock

TAB_COMMANDS = tuple((tab, f"Show {tab}", f"Switch to the {tab} tab")
                     for tab in ("tables", "warnings", "readers", "live", "environment"))


def help_text(keymap: dict[str, str], here: dict[str, list[str]] | None = None) -> Text:
    """Every key binding in force (remapped keys included), by screen; with ``here`` (the bindings in
    force on the user's screen, ``bindings.in_force``) that screen's keys first."""
    out = Text()
    for i, (title, rows) in enumerate(bindings.help_rows(keymap, here)):
        out.append("\n" if i else "")
        out.append(title, "bold")
        for keys, what in rows:
            out.append(f"\n  {keys:<12} {what}")
        out.append("\n")
    out.append("\nKeys can be remapped by binding id in the --config file's [keymap] table.")
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, keymap: dict[str, str], here: dict[str, list[str]] | None = None) -> None:
        super().__init__()
        self.keymap, self.here = keymap, here

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text(self.keymap, self.here), id="help-text")

    async def action_dismiss(self, result: Any = None) -> None:
        self.dismiss(None)


class InspectorApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "zlmdb-inspect"
    BINDINGS = list[BindingType](bindings.APP)

    paused: reactive[bool] = reactive(False)
    interval: reactive[float] = reactive(2.0)
    last_refresh: reactive[Refresh | None] = reactive(None, always_update=True, repaint=False)

    def __init__(self, service: Service | None, clock_fn: Callable[[float], str] = clock,
                 interval: float | None = None, fleet: Fleet | None = None, settings: Settings | None = None,
                 now_fn: Callable[[], float] | None = None) -> None:
        """One database (``service``), or several (``fleet``: the app starts on the Databases screen
        and ``service`` is the one whose overview is open). ``now_fn``: the time the Growth view's fill
        date counts from (tests and screenshots fix it; None: when the snapshot was taken)."""
        super().__init__()
        if service is None and (fleet is None or settings is None):
            raise ValueError("the app shows a service, or a fleet with its settings")
        self.fleet = fleet
        self.settings: Settings = settings if settings is not None else service.settings  # type: ignore[union-attr]
        self._service = service
        self.clock = clock_fn
        self.now_fn = now_fn
        self.search_history: list[str] = []  # the session's searches, oldest first (the prompt's up key)
        self.messages = MessageLog()  # status messages and notifications in full (`l`)
        self.set_reactive(InspectorApp.interval, interval if interval is not None else self.settings.options.interval)

    @property
    def service(self) -> Service:
        """The database on screen (on the Databases screen: the one opened last)."""
        if self._service is None:
            raise LookupError("no database is open")
        return self._service

    @property
    def damaged(self) -> bool:
        return bool(self.last_refresh and self.last_refresh.damaged)

    def on_mount(self) -> None:
        keymap = self.settings.keymap
        if keymap:
            self.set_keymap(keymap)
        theme = prefs.load_theme(self.settings.columns_path)
        if theme is not None and theme in self.available_themes:
            self.theme = theme
        self._theme_saved = self.theme
        self.theme_changed_signal.subscribe(self, lambda t: self._remember_theme(t.name))
        if self.fleet is not None:
            self.push_screen(DatabasesScreen(self.fleet, self.interval, self.clock))
        else:
            self.push_screen(Overview())

    def on_database_chosen(self, msg: DatabaseChosen) -> None:
        """``enter`` on the Databases screen: that database's overview, on the fleet's own service
        (its history and samples carry on; the service serialises refreshes itself)."""
        assert self.fleet is not None
        db = self.fleet.database(msg.path)
        last = self.fleet.last(msg.path)
        if not isinstance(db, Service) or last is None or not last.up:
            return
        self._service = db
        self.last_refresh = last.detail
        self.push_screen(Overview())

    def _remember_theme(self, name: str) -> None:
        """A theme picked in the palette is the one the next start uses (``[tui]`` of the config file)."""
        if name == self._theme_saved:
            return
        path = self.settings.columns_path
        try:
            prefs.save_theme(path, name)
        except (OSError, ValueError) as e:
            self.notify(f"theme not remembered: {e}", severity="warning", markup=False)
            return
        self._theme_saved = name
        self.notify(f"theme {name} remembered in {path}", markup=False)

    def _database_dirs(self) -> set[str]:
        paths = list(self.fleet.paths) if self.fleet is not None else []
        if self._service is not None:
            paths.append(self._service.directory)
        return {os.path.realpath(p if os.path.isdir(p) else os.path.dirname(p)) for p in paths}

    def action_save_screenshot(self) -> None:
        """An SVG of the screen in the current directory; where it went, or why not (Textual's own
        command writes to a Downloads directory that may not exist and says only that it failed)."""
        try:
            where = os.getcwd()
        except OSError as e:
            self.notify(f"screenshot not saved: the current directory: {e.strerror or e}", severity="error",
                        markup=False)
            return
        if os.path.realpath(where) in self._database_dirs():
            self.notify("screenshot not saved: the database's own directory is never written to "
                        "(start zlmdb-inspect in another directory)", severity="error", markup=False)
            return
        try:
            path = self.save_screenshot(path=where)
        except OSError as e:
            self.notify(f"screenshot not saved: {e.strerror or e}: {where}", severity="error", markup=False)
            return
        self.notify(f"screenshot saved to {path}", markup=False)

    def status_line(self, text: str, width: int) -> Text:
        """``text`` on one status line of ``width`` cells; cut, it names the message log's key."""
        return fit_line(text, width, bindings.messages_key(self.settings.keymap))

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """A toast, kept in the message log too (toasts go away)."""
        # the log shows the message as text, never as markup (it may carry a path or a name from the data)
        self.messages.add("notice", f"{title}: {message}" if title else message)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def action_messages(self) -> None:
        if not isinstance(self.screen, MessageLogScreen):
            self.push_screen(MessageLogScreen(self.messages, self.clock))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.settings.keymap, bindings.in_force(self.screen)))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's "Keys" panel lists its widgets' generic keys, not ours (`?` does: one help
        # system); its "Screenshot" fails without a reason: ours say where, or why not.
        for cmd in super().get_system_commands(screen):
            if cmd.title not in ("Keys", "Screenshot"):
                yield cmd
        yield SystemCommand("Keys", "The keys that act on this screen, then every screen's (as ?)", self.action_help)
        yield SystemCommand("Screenshot", "Save an SVG of the screen in the current directory",
                            self.action_save_screenshot)
        ov = self._overview()
        if ov is not None:
            yield SystemCommand("Refresh now", "Take a new snapshot", ov.action_refresh)
            yield SystemCommand("Toggle live refresh", "Pause or resume the refresh loop", ov.action_pause)
            yield SystemCommand("Open table", "Open the table selected on the Tables tab", ov.action_open_table)
            for tab, title, help_ in TAB_COMMANDS:
                yield SystemCommand(title, help_, lambda tab=tab: self._show_tab(ov, tab))
        from zlmdb_inspect.tui.screens.records import TableScreen

        if isinstance(screen, TableScreen):
            yield SystemCommand("Jump to key", "Go to a key or key prefix", screen.action_jump)
            yield SystemCommand("Filter records", "Filter on the decoded text", screen.action_filter)
            yield SystemCommand("Copy record as JSON", "Send the selected record to the terminal's clipboard "
                                "(OSC 52)", screen.action_copy)
            yield SystemCommand("Save record as JSON", "Write the selected record to a new file", screen.action_save)
            yield SystemCommand("Choose columns", "Pick the value fields shown as the list's columns",
                                screen.action_columns)
            yield SystemCommand("Newest first", "Reverse the key order (again: key order)", screen.action_reverse)
            yield SystemCommand("Open target", "Open the record an index entry points to", screen.action_open_target)

    def _overview(self) -> Overview | None:
        for s in self.screen_stack:
            if isinstance(s, Overview):
                return s
        return None

    def _show_tab(self, ov: Overview, tab: str) -> None:
        self._back_to_overview()
        ov.action_tab(tab)

    def _back_to_overview(self) -> None:
        while len(self.screen_stack) > 2 and not isinstance(self.screen, Overview):
            self.pop_screen()

    def on_unmount(self) -> None:
        if self.fleet is not None:
            self.fleet.close()
        elif self._service is not None:
            self._service.close()


def create_app(service: Service | None, **kw: Any) -> InspectorApp:
    """The one app factory, used by the CLI and the tests."""
    return InspectorApp(service, **kw)


def run_app(service: Service) -> int:
    app = create_app(service)
    app.run()
    return app.return_code or 0


def run_fleet_app(fleet: Fleet, settings: Settings) -> int:
    """Several databases: the app starts on the Databases screen."""
    app = create_app(None, fleet=fleet, settings=settings)
    app.run()
    return app.return_code or 0
