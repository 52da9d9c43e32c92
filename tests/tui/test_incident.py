"""Issue 30, the TUI half: what an operator in an incident needs to see is there and true."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import uuid

import cbor2
import pytest
from conftest import build_orm_db, sha
from conftest import open_table as _open
from rich.console import Console
from textual.widgets import DataTable, Input, SelectionList, Static

from zlmdb_inspect.core.kinds import Direction
from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import Service
from zlmdb_inspect.tui import prefs
from zlmdb_inspect.tui.app import HelpScreen, create_app
from zlmdb_inspect.tui.screens.prompt import Prompt
from zlmdb_inspect.tui.screens.records import TableScreen
from zlmdb_inspect.tui.screens.search import SearchScreen
from zlmdb_inspect.tui.settle import settle
from zlmdb_inspect.tui.widgets.changes import ChangesPane
from zlmdb_inspect.tui.widgets.fields import compact_iso


@pytest.fixture(autouse=True)
def _own_config_dir(tmp_path, monkeypatch):
    """Preferences (the theme, columns) go to a config directory of the test, never the user's."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def _app(path: str, **kw):
    app = create_app(Service(Options(path=path, **kw)), clock_fn=lambda t: "12:00:00", interval=3600)
    app.animation_level = "none"
    return app


def _text(screen, selector: str) -> str:
    console = Console(width=400, file=io.StringIO(), record=True, color_system=None)
    console.print(screen.query_one(selector, Static).content)
    return console.export_text()



async def test_newest_first_is_the_table_end(demo_db):
    """`o` on the first page shows the table's last records, newest on top, the position and the time
    the records go up to (the demo's Events are keyed by time first)."""
    before = sha(demo_db)
    svc = Service(Options(path=demo_db))
    events = next(t for t in svc.snapshot().tables if t.name and t.name.endswith("Events"))
    last = svc.read_window(events, None, Direction.LAST, 1, None).records[-1]
    svc.close()
    app = _app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _open(app, pilot, "Events")
        assert scr.window.at_start
        await pilot.press("o")
        await settle(pilot)
        assert scr.rows[0].raw_key == last.raw_key and scr._current().raw_key == last.raw_key
        keys = [r.raw_key for r in scr.rows]
        assert keys == sorted(keys, reverse=True) and scr.window.at_end
        total = scr.total
        status = _text(scr, "#table-status")
        assert f"records {total - len(keys) + 1:,}–{total:,} of {total:,}" in status and "newest first" in status
        assert f"newest first up to {compact_iso(last.key[0])} " in _text(scr, "#table-title")
        await pilot.press("o")  # key order again, from the first key
        await settle(pilot)
        assert scr.window.at_start and "newest first" not in _text(scr, "#table-title")
    assert sha(demo_db) == before


def _notes(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_filter_prompt_opens_empty_and_says_what_is_set(demo_db):
    app = _app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _open(app, pilot, "Users")
        await pilot.press("F")
        await settle(pilot)
        assert isinstance(app.screen, Prompt) and app.screen.query_one(Input).value == ""
        await pilot.press(*"user00001", "enter")
        await settle(pilot)
        assert scr.filter == "user00001"
        await pilot.press("F")
        await settle(pilot)
        assert app.screen.query_one(Input).value == ""  # "empty clears" means what it says
        assert "now 'user00001'" in _text(app.screen, "#prompt-label")
        await pilot.press("enter")
        await settle(pilot)
        assert scr.filter is None


async def test_column_picker_boxes_checked_and_not(demo_db):
    app = _app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot, "Users")
        await pilot.press("v")
        await settle(pilot)
        sel = app.screen.query_one(SelectionList)
        sel.select(sel.get_option_at_index(1).value)
        await settle(pilot)
        lines = [sel.render_line(y).text for y in range(3)]
        assert lines[0].startswith("▐ ▌") and lines[1].startswith("▐X▌") and lines[2].startswith("▐ ▌")


async def test_palette_screenshot_says_where_or_why_not(demo_db, tmp_path, monkeypatch):
    app = _app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        shot = next(c for c in app.get_system_commands(app.screen) if c.title == "Screenshot")
        monkeypatch.chdir(tmp_path)
        shot.callback()
        await settle(pilot)
        files = list(tmp_path.iterdir())
        assert len(files) == 1 and files[0].suffix == ".svg" and "<svg" in files[0].read_text()
        assert f"screenshot saved to {files[0]}" in _notes(app)
        before = sorted(os.listdir(demo_db))
        monkeypatch.chdir(demo_db)
        shot.callback()
        await settle(pilot)
        assert any("not saved: the database's own directory is never written to" in n for n in _notes(app))
        assert sorted(os.listdir(demo_db)) == before
        gone = tmp_path / "gone"
        gone.mkdir()
        monkeypatch.chdir(gone)
        gone.rmdir()
        shot.callback()
        await settle(pilot)
        assert "screenshot not saved: the current directory: No such file or directory" in _notes(app)


async def test_palette_keys_is_our_help(demo_db):
    app = _app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _open(app, pilot, "Users")
        keys = [c for c in app.get_system_commands(scr) if c.title == "Keys"]
        assert len(keys) == 1 and "Screenshot" in [c.title for c in app.get_system_commands(scr)]
        keys[0].callback()
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen) and "This screen: Table records" in _text(app.screen, "#help-text")


async def test_theme_is_remembered(demo_db, tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[keymap]\n"table.jump" = "j"\n')
    app = _app(demo_db, config=str(cfg))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.theme != "nord"
        app.theme = "nord"
        await settle(pilot)
    assert cfg.read_text() == '[keymap]\n"table.jump" = "j"\n\n[tui]\n"theme" = "nord"\n'
    assert prefs.load_theme(str(cfg)) == "nord"
    app = _app(demo_db, config=str(cfg))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.theme == "nord"
    assert cfg.read_text().count("[tui]") == 1  # starting with it writes nothing


WRITE_ONE = ("import sys; from zlmdb import lmdb; e = lmdb.open(sys.argv[1], map_size=64 << 20); "
             "t = e.begin(write=True); t.put(bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])); t.commit()")


async def test_changes_pane_shows_it_is_alive(tmp_path):
    """A quiet table: "watching since txn N at …, last checked …, no changes"; then a write shows
    with the time it was seen and its leaf page's txnid under "Page txn"."""
    path = str(tmp_path / "db")
    build_orm_db(path, "1.0", n=50)
    svc = Service(Options(path=path))
    txn0 = svc.snapshot().lmdb.last_txnid
    svc.close()
    app = create_app(Service(Options(path=path)), clock_fn=lambda t: "12:34:56", interval=0.1)
    app.animation_level = "none"
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _open(app, pilot, "TUsers")
        await pilot.press("f")
        pane = scr.query_one(ChangesPane)
        for _ in range(100):
            await pilot.pause(0.05)
            if "last checked" in _text(scr, "#changes-title"):
                break
        title = _text(scr, "#changes-title")
        assert f"watching since txn {txn0:,} at 12:34:56, last checked 12:34:56 (txn {txn0:,})" in title
        assert title.rstrip().endswith("no changes")
        table = pane.query_one(DataTable)
        assert [c.label.plain for c in table.ordered_columns] == ["Change", "Seen", "Key", "Value", "Page txn"]
        # another process writes one record (LMDB opens an environment once per process)
        key = struct.pack(">H", scr.table.slot) + uuid.UUID(int=999).bytes
        subprocess.run([sys.executable, "-c", WRITE_ONE, path, key.hex(), cbor2.dumps({"name": "zz"}).hex()],
                       check=True, timeout=30)
        for _ in range(100):
            await pilot.pause(0.05)
            if table.row_count:
                break
        row = [str(c) for c in table.get_row_at(0)]
        assert row[:3] == ["insert", "12:34:56", str(uuid.UUID(int=999))] and row[4] == f"{txn0 + 1:,}"
        assert f"last checked 12:34:56 (txn {txn0 + 1:,}) · 1 changes" in _text(scr, "#changes-title")


def _footer(app) -> str:
    from textual.widgets import Footer
    return " ".join(k.render().plain if hasattr(k.render(), "plain") else str(k.render())
                    for k in app.screen.query_one(Footer).query("FooterKey"))


async def test_footer_offers_open_table_only_where_enter_opens_one(demo_db):
    app = _app(demo_db)
    async with app.run_test(size=(160, 24)) as pilot:
        await settle(pilot)
        assert "Open table" in _footer(app) and "Sort" in _footer(app)
        for tab in ("2", "4", "5"):  # Warnings, Live, Environment: enter opens nothing there
            await pilot.press(tab)
            await settle(pilot)
            assert "Open table" not in _footer(app) and "Sort" not in _footer(app), tab
        await pilot.press("1")
        await settle(pilot)
        assert "Open table" in _footer(app)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TableScreen)


async def test_paging_keys_page_and_home_end_act_on_the_focused_pane(demo_db):
    app = _app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _open(app, pilot, "Events")
        first = [r.raw_key for r in scr.rows]
        await pilot.press("pagedown")
        await settle(pilot)
        assert scr.rows[0].raw_key > first[-1]  # the next page, not the list scrolled
        assert "records 101–200 of" in _text(scr, "#table-status")
        await pilot.press("end")
        await settle(pilot)
        assert scr.window.at_end
        last = [r.raw_key for r in scr.rows]
        await pilot.press("tab")  # the detail pane: end scrolls it, the list stays
        await settle(pilot)
        pane = scr.query_one("#detail-pane")
        assert app.focused is pane
        await pilot.press("home")
        await settle(pilot)
        assert [r.raw_key for r in scr.rows] == last and pane.scroll_y == 0
        await pilot.press("end")
        await settle(pilot)
        assert [r.raw_key for r in scr.rows] == last and pane.scroll_y == pane.max_scroll_y


async def test_help_for_search_results_and_shape(demo_db):
    app = _app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot, "Users")
        await pilot.press("slash")
        await settle(pilot)
        await pilot.press(*"user00001", "enter")
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        help_ = _text(app.screen, "#help-text")
        assert "This screen: Search results" in help_ and "Changes pane" in help_ and "Page txn" in help_
        await pilot.press("escape")  # the help
        await settle(pilot)
        await pilot.press("escape")  # the scan is done: back to the records
        await settle(pilot)
        assert isinstance(app.screen, TableScreen)
        await pilot.press("h")
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert "This screen: Shape" in _text(app.screen, "#help-text")


async def test_search_keeps_the_query_and_its_history(demo_db):
    app = _app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _open(app, pilot, "Users")
        for q in ("user000011", "user000012"):
            await pilot.press("slash")
            await settle(pilot)
            box = app.screen.query_one(Input)
            box.value = q
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, SearchScreen)
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is scr
        await pilot.press("slash")
        await settle(pilot)
        box = app.screen.query_one(Input)
        assert box.value == "user000012"  # the query is kept
        await pilot.press("up")
        assert box.value == "user000011"
        await pilot.press("down")
        assert box.value == "user000012"
        await pilot.press("escape", "escape")
        await settle(pilot)
        other = await _open(app, pilot, "AuditLog")  # another table: the session's history still there
        await pilot.press("slash")
        await settle(pilot)
        assert app.screen.query_one(Input).value == "user000012" and other is not scr


async def test_a_refresh_that_lands_before_a_table_screen_is_mounted_keeps_its_count(tmp_path):
    """The app hands each refresh to every screen on its stack; a records screen just pushed may not
    be composed yet (this crashed the app: no '#table-title'). It keeps the new count until its mount
    reads the records, whose count it then shows."""
    from dataclasses import replace

    path = str(tmp_path / "db")
    build_orm_db(path, "1.0", n=50)
    app = create_app(Service(Options(path=path)), clock_fn=lambda t: "12:34:56", interval=60)
    app.animation_level = "none"
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        ref = app.last_refresh
        table = next(t for t in ref.snapshot.tables if t.name and t.name.endswith("TUsers"))
        screen = TableScreen(table)
        grown = replace(ref.snapshot, tables=[replace(t, records=t.records + 7) if t.slot == table.slot else t
                                              for t in ref.snapshot.tables])
        screen.snapshot_refreshed(replace(ref, snapshot=grown))  # not mounted yet
        assert screen.total == table.records + 7
        await app.push_screen(screen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        title = str(screen.query_one("#table-title", Static).render())
        assert screen.total == table.records and f" {table.records:,} records" in title, title
