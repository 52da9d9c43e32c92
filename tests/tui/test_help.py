"""The help screen puts the keys of the screen the user is on first, read from the bindings in force."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import Service
from zlmdb_inspect.tui.app import HelpScreen, create_app
from zlmdb_inspect.tui.settle import settle


def _sections(app) -> list[tuple[str, list[str]]]:
    """The help's sections as (title, rows), in order."""
    assert isinstance(app.screen, HelpScreen)
    text = app.screen.query_one("#help-text", Static).content.plain
    out: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line and not line.startswith(" ") and not line.startswith("Keys can be remapped"):
            out.append((line, []))
        elif line.startswith("  ") and out:
            out[-1][1].append(line.strip())
    return out


async def test_help_on_the_records_screen_starts_with_its_keys(demo_db):
    app = create_app(Service(Options(path=demo_db)), clock_fn=lambda t: "12:00:00", interval=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.screen.query_one("#tables-table", DataTable).move_cursor(row=4)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        sections = _sections(app)
        title, rows = sections[0]
        assert title == "This screen: Table records"
        # the list leaves pgdn and home to the screen, which pages: the help says so
        assert any(r.startswith("pgdn, n ") and r.endswith("next page") for r in rows), rows
        assert any(r.startswith("home, g ") and r.endswith("first page") for r in rows)
        assert rows[-1].startswith("home, end, pgup, pgdn ")  # the built-in keys too
        titles = [t for t, _ in sections]
        assert "Table records" not in titles  # not twice
        assert titles[1:] == ["Everywhere", "Databases", "Overview", "Search results", "Shape", "Growth",
                              "Changes pane (f on a table's records): its columns"]


async def test_help_on_the_overview_lists_only_keys_in_force_as_remapped(demo_db, tmp_path):
    cfg = tmp_path / "inspect.toml"
    cfg.write_text('[keymap]\n"overview.refresh" = "f5,ctrl+r"\n')
    app = create_app(Service(Options(path=demo_db, config=str(cfg))), clock_fn=lambda t: "12:00:00",
                     interval=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        title, rows = _sections(app)[0]
        assert title == "This screen: Overview"
        assert any(r.startswith("f5, ctrl+r ") and r.endswith("refresh now") for r in rows), rows
        # one database: escape (back to the Databases screen) is disabled here, so not listed as in force
        assert not any("Databases screen" in r for r in rows), rows
        assert any(r.startswith("p ") for r in rows)
        # enter: the focused tables list binds it (select), the screen's binding still opens the table
        assert any(r.startswith("enter ") and r.endswith("open the selected table (Tables tab)") for r in rows)
