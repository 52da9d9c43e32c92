"""The Textual application: a thin client of :class:`zlmdb_inspect.modes.Service`."""

from __future__ import annotations

from typing import Callable

from textual.app import App, ComposeResult, SystemCommand
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from zlmdb_inspect.modes import Refresh, Service
from zlmdb_inspect.tui import bindings
from zlmdb_inspect.tui.overview import Overview, clock


TAB_COMMANDS = tuple((tab, f"Show {tab}", f"Switch to the {tab} tab")
                     for tab in ("tables", "warnings", "readers", "live", "environment"))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(bindings.HELP_TEXT, id="help-text")

    def action_dismiss(self) -> None:
        self.dismiss(None)


class InspectorApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "zlmdb-inspect"
    BINDINGS = bindings.APP

    def __init__(self, service: Service, clock_fn: Callable[[float], str] = clock,
                 interval: float | None = None) -> None:
        super().__init__()
        self.service = service
        self.clock = clock_fn
        self.interval = interval if interval is not None else service.opts.interval
        self.paused = False
        self.last_refresh: Refresh | None = None

    @property
    def damaged(self) -> bool:
        return bool(self.last_refresh and any(w.id == "damaged" for w in self.last_refresh.warnings))

    def on_mount(self) -> None:
        keymap = load_keymap(self.service.opts.config)
        if keymap:
            self.set_keymap(keymap)
        self.push_screen(Overview())

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen):
        yield from super().get_system_commands(screen)
        ov = self._overview()
        if ov is not None:
            yield SystemCommand("Refresh now", "Take a new snapshot", ov.action_refresh)
            yield SystemCommand("Toggle live refresh", "Pause or resume the refresh loop", ov.action_pause)
            yield SystemCommand("Open table", "Open the table selected on the Tables tab", ov.action_open_table)
            for tab, title, help_ in TAB_COMMANDS:
                yield SystemCommand(title, help_, lambda tab=tab: (self._back_to_overview(), ov.action_tab(tab)))
        from zlmdb_inspect.tui.table import TableScreen

        if isinstance(screen, TableScreen):
            yield SystemCommand("Jump to key", "Go to a key or key prefix", screen.action_jump)
            yield SystemCommand("Filter records", "Filter on the decoded text", screen.action_filter)
            yield SystemCommand("Copy record as JSON", "Send the selected record to the terminal's clipboard "
                                "(OSC 52)", screen.action_copy)
            yield SystemCommand("Save record as JSON", "Write the selected record to a new file", screen.action_save)
            yield SystemCommand("Choose columns", "Pick the value fields shown as the list's columns",
                                screen.action_columns)
            yield SystemCommand("Newest first", "Reverse the key order (again: key order)", screen.action_reverse)
            yield SystemCommand("Follow index", "Open the record an index entry points to", screen.action_follow)
        yield SystemCommand("Help", "List every key binding", self.action_help)

    def _overview(self) -> Overview | None:
        for s in self.screen_stack:
            if isinstance(s, Overview):
                return s
        return None

    def _back_to_overview(self) -> None:
        while len(self.screen_stack) > 2 and not isinstance(self.screen, Overview):
            self.pop_screen()

    def on_unmount(self) -> None:
        self.service.close()


def load_keymap(config: str | None) -> dict[str, str]:
    """``[keymap]`` of the TOML config: binding id (see tui/bindings.py) = comma-separated keys."""
    if not config:
        return {}
    import tomllib

    with open(config, "rb") as f:
        return {str(k): str(v) for k, v in tomllib.load(f).get("keymap", {}).items()}


def create_app(service: Service, **kw) -> InspectorApp:
    """The one app factory, used by the CLI and the tests."""
    return InspectorApp(service, **kw)


def run_app(service: Service) -> int:
    app = create_app(service)
    app.run()
    return app.return_code or 0
