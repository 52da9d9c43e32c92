"""Every key binding in one place; ids let users remap keys (``[keymap]``), and the help
screen is generated from these bindings with the keys in force."""

from __future__ import annotations

from textual.actions import parse
from textual.binding import Binding
from textual.screen import Screen

APP = [
    Binding("q", "quit", "Quit", tooltip="quit", id="app.quit"),
    Binding("question_mark", "help", "Help", key_display="?", tooltip="this help (escape closes it)", id="app.help"),
    Binding("l", "messages", "Messages", show=False,
            tooltip="message log: the last 100 messages in full",
            id="app.messages"),
]

DATABASES = [  # the order is the footer's
    Binding("enter", "open_database", "Open database", tooltip="open the selected database's overview",
            id="databases.open"),
    Binding("r", "refresh", "Refresh", tooltip="refresh every database now", id="databases.refresh"),
]

OVERVIEW = [  # the order is the footer's
    Binding("escape", "databases", "Databases", tooltip="back to the Databases screen (several databases)",
            id="overview.databases"),
    Binding("r", "refresh", "Refresh", tooltip="refresh now", id="overview.refresh"),
    Binding("p", "pause", "Pause/resume", tooltip="pause / resume the live refresh", id="overview.pause"),
    Binding("plus", "interval(0.5)", "Slower", key_display="+", show=False, tooltip="slower refresh",
            id="overview.slower"),
    Binding("minus", "interval(-0.5)", "Faster", key_display="-", show=False, tooltip="faster refresh",
            id="overview.faster"),
    Binding("enter", "open_table", "Open table", tooltip="open the selected table (Tables tab)",
            id="overview.open_table"),
    Binding("s", "sort", "Sort", tooltip="sort by the next column (or click a header)", id="overview.sort"),
    Binding("g", "growth", "Growth", tooltip="growth by the records' own time, the fill date",
            id="overview.growth"),
    Binding("1", "tab('tables')", "Tables", show=False, tooltip="Tables tab", id="overview.tab_tables"),
    Binding("2", "tab('warnings')", "Warnings", show=False, tooltip="Warnings tab", id="overview.tab_warnings"),
    Binding("3", "tab('readers')", "Readers", show=False, tooltip="Readers tab", id="overview.tab_readers"),
    Binding("4", "tab('live')", "Live", show=False, tooltip="Live tab", id="overview.tab_live"),
    Binding("5", "tab('environment')", "Environment", show=False, tooltip="Environment tab", id="overview.tab_env"),
]

SEARCH = [
    Binding("escape", "cancel_or_back", "Cancel/back", tooltip="cancel the scan (again: back)", id="search.back"),
    Binding("n", "next_match", "Next match", tooltip="the next match", id="search.next"),
    Binding("b", "prev_match", "Previous match", tooltip="the previous match", id="search.prev"),
    Binding("enter", "open", "Go to record", tooltip="show the match in the table", id="search.open"),
]

SHAPE = [Binding("escape", "back", "Back", tooltip="back to the records (stops reading)", id="shape.back")]

GROWTH = [Binding("escape", "back", "Back", tooltip="back to the overview", id="growth.back")]

TABLE = [  # the order is the footer's
    Binding("escape", "back", "Back", tooltip="back to the overview", id="table.back"),
    Binding("home,g", "first", "First", show=False, tooltip="first page", id="table.first"),
    Binding("end,G", "last", "Last", show=False, tooltip="last page", id="table.last"),
    Binding("pagedown,n", "next_page", "Next", tooltip="next page", id="table.next"),
    Binding("pageup,b", "prev_page", "Prev", tooltip="previous page", id="table.prev"),
    Binding("j", "jump", "Jump to key", tooltip="jump to a key or prefix, a record (#1000) or 50%",
            id="table.jump"),
    Binding("slash", "search", "Search", key_display="/",
            tooltip="search the whole table: text, re:, jq:, from:/to:", id="table.search"),
    Binding("F", "filter", "Filter page", show=False, tooltip="filter the page on the decoded text",
            id="table.filter"),
    Binding("f", "follow_changes", "Changes", tooltip="follow the table's changes (again: stop)",
            id="table.changes"),
    Binding("h", "shape", "Shape", tooltip="the table's shape: sizes, the largest records",
            id="table.shape"),
    Binding("c", "copy", "Copy JSON", show=False, tooltip="copy the record as JSON (OSC 52)", id="table.copy"),
    Binding("w", "save", "Save JSON", show=False, tooltip="save the record as JSON to a file", id="table.save"),
    Binding("i", "open_target", "Open target", tooltip="index record: open the record it points to",
            id="table.open_target"),
    Binding("m", "more", "Show more", show=False, tooltip="more of the JSON (a large value: all of it)",
            id="table.more"),
    Binding("x", "toggle_hex", "JSON/hex", tooltip="JSON / hex detail", id="table.hex"),
    Binding("v", "columns", "Columns", show=False, tooltip="choose the value fields shown as columns",
            id="table.columns"),
    Binding("o", "reverse", "Newest first", show=False, tooltip="newest first (again: key order)",
            id="table.reverse"),
    Binding("r", "reload", "Reload", show=False, tooltip="read the page and the record count again",
            id="table.reload"),
    Binding("z", "maximize_pane", "Maximize", show=False, tooltip="maximize the focused pane (again: restore)",
            id="table.maximize"),
]

# keys Textual's own widgets handle (not remappable here), shown with the bindings
BUILT_IN = {
    "Everywhere": [("ctrl+p", "command palette (its Keys: this help)")],
    "Overview": [("home, end", "first / last table")],
    "Table records": [("up / down", "move; past either end the window slides on by key"),
                      ("tab", "list / detail"),
                      ("home, end, pgup, pgdn", "in the detail pane (after tab): scroll the detail")],
    "Search results": [("up / down", "move through the matches found so far")],
    "Shape": [("up / down, pgup, pgdn", "scroll the figures")],
}
# the Changes pane (f on the records screen) has no keys of its own: what its columns mean
CHANGES = [("Change", "insert, update, delete; pages: a page range beyond the exactly followed records"),
           ("Seen", "when the poll that found it ran"),
           ("Page txn", "txnid of the leaf page holding the record (the page's last write), "
                        "not the record's own commit")]
SECTIONS = (("Everywhere", APP), ("Databases", DATABASES), ("Overview", OVERVIEW), ("Table records", TABLE),
            ("Search results", SEARCH), ("Shape", SHAPE), ("Growth", GROWTH))

_NAMES = {"question_mark": "?", "slash": "/", "plus": "+", "minus": "-", "pagedown": "pgdn", "pageup": "pgup"}


def keys_in_force(binding: Binding, keymap: dict[str, str]) -> str:
    """The binding's keys as the user presses them, after ``[keymap]`` remapping."""
    keys = keymap.get(binding.id or "", binding.key)
    return ", ".join(_NAMES.get(k.strip(), k.strip()) for k in keys.split(","))


def messages_key(keymap: dict[str, str]) -> str:
    """The key that opens the message log, as remapped: a status line cut names it."""
    return keys_in_force(next(b for b in APP if b.id == "app.messages"), keymap).split(",")[0]


def help_rows(keymap: dict[str, str], here: dict[str, list[str]] | None = None,
              ) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section, [(keys, what they do)]) for every binding, keys as remapped.

    ``here`` maps the ids of the bindings in force on the user's screen to the keys that reach
    them (:func:`in_force`). The section they belong to comes first, as "This screen", with only
    those bindings and keys: one the screen disables now (``check_action``) is left out.
    """
    here = here or {}
    sections = [(title, bindings) for title, bindings in SECTIONS]
    current = max(sections, key=lambda s: sum(b.id in here for b in s[1]))
    out = []
    if any(b.id in here for b in current[1]):
        rows = [(", ".join(_NAMES.get(k, k) for k in here[b.id]) or keys_in_force(b, keymap),
                 b.tooltip or b.description) for b in current[1] if b.id is not None and b.id in here]
        out.append((f"This screen: {current[0]}", rows + BUILT_IN.get(current[0], [])))
        sections.remove(current)
    for title, bindings in sections:
        rows = [(keys_in_force(b, keymap), b.tooltip or b.description) for b in bindings]
        out.append((title, rows + BUILT_IN.get(title, [])))
    out.append(("Changes pane (f on a table's records): its columns", CHANGES))
    return out


def in_force(screen: Screen) -> dict[str, list[str]]:
    """The ids of the screen's own bindings in force now, each with the keys that reach it.

    From Textual's ``active_bindings`` (remapped keys, ``check_action`` applied): a key the focused
    widget binds itself goes to that widget (``home`` on a list is its first row, not the first
    page), so it is not listed. A binding whose every key a widget takes but which the screen
    enables maps to no keys (``enter`` on the tables list: the list selects, the screen opens it).
    """
    here: dict[str, list[str]] = {}
    for key, active in screen.active_bindings.items():
        if active.node is not screen.app and active.binding.id:
            here.setdefault(active.binding.id, []).append(key)
    for binding in type(screen).BINDINGS:
        if isinstance(binding, Binding) and binding.id and binding.id not in here:
            _, name, params = parse(binding.action)
            if screen.check_action(name, params) is not False:
                here[binding.id] = []
    return here
