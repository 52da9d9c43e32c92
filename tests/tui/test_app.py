"""The TUI driven headlessly: overview, tables, records, warnings; the database untouched."""

from __future__ import annotations

import pytest
from conftest import SUPPORT, sha
from textual.widgets import DataTable, Static, TabbedContent

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import Service
from zlmdb_inspect.tui.app import create_app
from zlmdb_inspect.tui.screens.records import TableScreen
from zlmdb_inspect.tui.settle import settle


def _status(app) -> str:
    return str(app.screen.query_one("#table-status", Static).render())


async def _jump(app, pilot, text: str) -> str:
    """Type ``text`` into the records screen's jump prompt; the status line afterwards."""
    await pilot.press("j")
    await settle(pilot)
    await pilot.press(*text, "enter")
    await settle(pilot)
    return _status(app)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_overview_and_tables(demo_db, size):
    before = sha(demo_db)
    app = create_app(Service(Options(path=demo_db)), clock_fn=lambda t: "12:00:00")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        t = screen.query_one("#tables-table", DataTable)
        assert t.row_count == 9  # catalog, 7 tables, the orphan slot
        title = str(screen.query_one("#title", Static).render())
        # 80 cols: path cut at its start
        assert demo_db[-15:] in title and "LMDB 1.0" in title and "1 warning " in title
        # open Events (slot 4) and page to its end
        t.move_cursor(row=4)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TableScreen) and app.screen.table.name == "Events"
        recs = app.screen.query_one("#records", DataTable)
        assert recs.row_count == 100
        await pilot.press("G")
        await settle(pilot)
        assert app.screen.window.at_end
        assert "records 1,501–1,600 of 1,600" in _status(app)
        assert "records 801–900 of 1,600" in await _jump(app, pilot, "50%")
        assert "records 1,234–1,333 of 1,600" in await _jump(app, pilot, "#1234")
        await pilot.press("b")
        await settle(pilot)
        assert not app.screen.window.at_end
        assert app.screen.detail is not None and app.screen.detail.decoder.endswith("flatbuffers")
        await pilot.press("g")
        await settle(pilot)
        seen = [r.raw_key for r in app.screen.window.records]
        recs.move_cursor(row=recs.row_count - 1)
        await pilot.press("down")  # past the window: it slides by key, the cursor moves on by one
        await settle(pilot)
        cur = app.screen._current()
        assert cur.raw_key > seen[-1] and cur.raw_key == min(r.raw_key for r in app.screen.window.records
                                                            if r.raw_key > seen[-1])
        await pilot.press("up")
        await settle(pilot)
        assert app.screen._current().raw_key == seen[-1]
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert app.screen.query_one("#tabs", TabbedContent).active == "warnings"
        w = app.screen.query_one("#warnings-table", DataTable)
        assert w.row_count >= 2
        await pilot.press("q")
    assert sha(demo_db) == before


async def test_follow_index_and_jump(demo_db):
    app = create_app(Service(Options(path=demo_db)), clock_fn=lambda t: "12:00:00")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        t = app.screen.query_one("#tables-table", DataTable)
        t.move_cursor(row=2)  # IndexUsersByName
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.table.name == "IndexUsersByName"
        await _jump(app, pilot, "user000123")
        assert app.screen.window.records[0].key == "user000123"
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, TableScreen) and app.screen.table.name == "Users"
        assert app.screen.window.records[0].value["name"] == "user000123"


async def test_refresh_failure_is_shown_not_fatal(tmp_path, demo_db):
    import shutil

    path = str(tmp_path / "copy")
    shutil.copytree(demo_db, path)
    app = create_app(Service(Options(path=path)), clock_fn=lambda t: "12:00:00")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        with open(f"{path}/data.mdb", "r+b") as f:  # damage the tree after opening
            f.truncate(4096 * 3)
        await pilot.press("r")
        await settle(pilot)
        title = str(app.screen.query_one("#title", Static).render())
        assert "DAMAGED" in title or "failed" in title


async def test_sort_tables_by_records(demo_db):
    app = create_app(Service(Options(path=demo_db)), clock_fn=lambda t: "12:00:00")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        t = app.screen.query_one("#tables-table", DataTable)
        await pilot.press("s", "s")  # slot -> name -> records (largest first)
        await settle(pilot)
        records = [int(str(t.get_row_at(i)[2]).replace(",", "")) for i in range(t.row_count)]
        assert records == sorted(records, reverse=True)
        await pilot.press("?")
        await settle(pilot)
        from zlmdb_inspect.tui.app import HelpScreen

        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")


async def test_keymap_from_config_and_palette_commands(demo_db, tmp_path):
    cfg = tmp_path / "inspect.toml"
    cfg.write_text('[thresholds]\nmap_used_warning_pct = 70\n\n[keymap]\n"overview.tab_warnings" = "w"\n')
    app = create_app(Service(Options(path=demo_db, config=str(cfg))), clock_fn=lambda t: "12:00:00")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        assert app.screen.query_one("#tabs", TabbedContent).active == "warnings"
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Refresh now", "Toggle live refresh", "Open table", "Keys"} <= set(titles)
        app.screen.query_one("#tables-table", DataTable).move_cursor(row=1)
        app.screen.action_tab("tables")
        await pilot.press("enter")
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Jump to key", "Filter records", "Copy record as JSON", "Save record as JSON", "Open target",
                "Choose columns", "Newest first"} <= set(titles)


def test_slot_names_full_or_bare_find_the_class(tmp_path):
    import sys

    sys.path.insert(0, SUPPORT)
    import app_tables

    from zlmdb_inspect.core.model import Table
    from zlmdb_inspect.tables.catalog import TableCodecs

    cat = TableCodecs(Options(path=str(tmp_path), imports=["app_tables"]))
    full = Table(slot=9, oid="11111111-1111-4111-8111-111111111111", name="app_tables.Pairs",
                 description=None, creator=None, records=0, metadata=True)
    bare = Table(slot=9, oid="11111111-1111-4111-8111-111111111111", name="Pairs",
                 description=None, creator=None, records=0, metadata=True)
    assert cat.class_for(full) is app_tables.Pairs
    assert cat.class_for(bare) is app_tables.Pairs
