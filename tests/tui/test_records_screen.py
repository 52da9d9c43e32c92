"""The records screen on application data (issue 18): live totals, big values, columns, order,
times, layout, copy/save, maximize; the database untouched."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid

import pytest
import zlmdb
from cfxdb_like import build
from conftest import TUsers, run_cli, sha
from conftest import open_table as _open
from rich.console import Console
from textual.widgets import DataTable, SelectionList, Static

from zlmdb_inspect.core.model import Table
from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import Service
from zlmdb_inspect.storage.inspector import check_path
from zlmdb_inspect.tui import prefs
from zlmdb_inspect.tui.app import create_app
from zlmdb_inspect.tui.screens.overview import short_name
from zlmdb_inspect.tui.screens.records import Prompt
from zlmdb_inspect.tui.settle import settle
from zlmdb_inspect.tui.widgets.fields import FieldPicker
from zlmdb_inspect.tui.widgets.hexview import PER_ROW, HexView

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def cfx(tmp_path_factory) -> dict:
    return build(str(tmp_path_factory.mktemp("cfx") / "db"), "0.9")


@pytest.fixture(autouse=True)
def _own_config_dir(tmp_path, monkeypatch):
    """Preferences go to a config directory of the test, never the user's."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def _app(path: str, imports=("cfxdb_app",), config: str | None = None):
    app = create_app(Service(Options(path=path, imports=list(imports), config=config)),
                     clock_fn=lambda t: "12:00:00", interval=3600)
    app.animation_level = "none"
    return app



def _text(screen, selector: str) -> str:
    """What a Static shows, as plain text (its content may be a Rich Group)."""
    console = Console(width=400, file=io.StringIO(), record=True, color_system=None)
    console.print(screen.query_one(selector, Static).content)
    return console.export_text()


def _labels(screen) -> list[str]:
    return [c.label.plain for c in screen.query_one("#records", DataTable).ordered_columns]


def test_a_path_to_data_mdb_opens_its_directory(cfx, tmp_path):
    data = os.path.join(cfx["path"], "data.mdb")
    assert check_path(data) == (os.path.realpath(cfx["path"]), os.path.realpath(data))
    before = sorted(os.listdir(cfx["path"]))
    r = run_cli(data, "--json")
    assert r.returncode in (0, 1, 2), r.stderr
    assert json.loads(r.stdout)["path"].rstrip("/").endswith("db")
    assert sorted(os.listdir(cfx["path"])) == before
    other = tmp_path / "data.mdb"  # a regular file of that name outside a database: still an error
    other.write_bytes(b"")
    assert run_cli(str(other), "--json").returncode == 3


def _append_events(path: str, slot: int, start: int, n: int) -> None:
    """Another process commits ``n`` records at the end of ``slot`` (a live writer)."""
    code = (
        "import struct, sys\n"
        "from zlmdb import lmdb\n"
        "env = lmdb.open(sys.argv[1], map_size=128 * 1024 * 1024, lib_version=0)\n"
        "with env.begin(write=True) as txn:\n"
        "    for i in range(int(sys.argv[3]), int(sys.argv[3]) + int(sys.argv[4])):\n"
        "        txn.put(struct.pack('>H', int(sys.argv[2])) + b'\\xff' * 8 + struct.pack('>Q', i), b'\\xa0')\n"
        "env.close()\n")
    subprocess.run([sys.executable, "-c", code, path, str(slot), str(start), str(n)], check=True, timeout=60)


async def test_total_follows_live_writes(tmp_path):
    facts = build(str(tmp_path / "db"), "0.9", events=150)
    path, slot = facts["path"], facts["slots"]["Events"]
    app = _app(path, imports=())
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _open(app, pilot, "Events")
        await pilot.press("G")
        await settle(pilot)
        assert "records 51–150 of 150" in _text(scr, "#table-status")
        _append_events(path, slot, 0, 40)
        await pilot.press("r")  # the page and the count read again
        await settle(pilot)
        assert "of 190" in _text(scr, "#table-status") and "190 records" in _text(scr, "#table-title")
        _append_events(path, slot, 40, 10)
        app.screen_stack[1].action_refresh()  # the app's refresh, without r
        await settle(pilot)
        assert scr.total == 200 and "200 records" in _text(scr, "#table-title")
        await pilot.press("G")
        await settle(pilot)
        assert "records 101–200 of 200" in _text(scr, "#table-status")


@pytest.fixture(scope="module")
def big_db(tmp_path_factory) -> dict:
    """One 1 MiB record among small ones, in the application's own (UUID -> CBOR) table."""
    path = str(tmp_path_factory.mktemp("big") / "db")
    db = zlmdb.Database(dbpath=path, maxsize=64 * MIB)
    users = db.attach_table(TUsers)
    blob = bytes(range(256)) * (MIB // 256)
    with db.begin(write=True) as txn:
        users[txn, uuid.UUID(int=1)] = {"name": "big", "blob": blob, "created": 1_767_225_600_000_000_000}
        for i in range(2, 30):
            users[txn, uuid.UUID(int=i)] = {"name": f"u{i}", "created": 1_767_225_600_000_000_000 + i}
    db.__exit__(None, None, None)
    return {"path": path, "blob": blob}


async def test_large_value_decoded_on_first_show_and_hex_view_is_lazy(big_db):
    before = sha(big_db["path"])
    app = _app(big_db["path"], imports=("conftest",))
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _open(app, pilot, "TUsers")
        rec = scr.detail
        assert rec is not None and not rec.truncated and rec.size > MIB
        assert rec.decoder.startswith("app|app") and rec.value["name"] == "big"
        detail = _text(scr, "#detail")
        assert "showing the first 4,096 characters" in detail and "time created 2026-01-01T00:00:00" in detail
        row = scr.query_one("#records", DataTable).get_row_at(0)
        assert '"name": "big"' in str(row[1])  # the list's cell too, not the hex preview
        await pilot.press("m")
        await settle(pilot)
        assert "showing the first 32,768 characters" in _text(scr, "#detail")
        await pilot.press("x")
        await settle(pilot)
        hv = scr.query_one("#hex", HexView)
        assert hv.display and hv.rows == (rec.size + PER_ROW - 1) // PER_ROW
        assert 0 < hv.cached_rows <= hv.size.height + 1  # only the rows on screen were built
        first = hv.render_line(0).text
        head = rec.raw_value[:16].hex()
        assert first.startswith("000000  " + " ".join(head[i:i + 4] for i in range(0, 32, 4)) + "  .dname")
        hv.focus()
        await pilot.press("end")
        await settle(pilot)
        last = hv.render_line(hv.size.height - 1).text
        assert last.startswith(f"{(hv.rows - 1) * PER_ROW:06x}")
        assert hv.cached_rows <= 2 * (hv.size.height + 1)
        await pilot.press("x")
        await settle(pilot)
        assert not hv.display and scr.query_one("#detail-pane").display
    assert sha(big_db["path"]) == before


async def test_field_columns_chosen_and_remembered_only_when_asked(cfx, tmp_path):
    default = tmp_path / "xdg" / "zlmdb-inspect" / "config.toml"
    app = _app(cfx["path"])
    async with app.run_test(size=(160, 48)) as pilot:
        scr = await _open(app, pilot, "Users")
        assert _labels(scr) == ["Key", "Value", "Size"]
        await pilot.press("v")
        await settle(pilot)
        picker = app.screen
        assert isinstance(picker, FieldPicker)
        assert {"oid", "email", "authid", "created"} <= set(picker.fields)
        assert str(default) in str(picker.query_one("#picker-hint", Static).render())
        sel = picker.query_one(SelectionList)
        sel.select("email")
        sel.select("created")
        await pilot.press("enter")  # applies, remembers nothing
        await settle(pilot)
        assert _labels(scr) == ["Key", "email", "created", "Size"]
        assert not default.exists()
        row = scr.query_one("#records", DataTable).get_row_at(0)
        assert str(row[1]).endswith("@example.org") and str(row[2]).startswith("2026-01-")
        assert str(row[2]).endswith("Z")
        await pilot.press("v")
        await settle(pilot)
        await pilot.press("w")  # applies and remembers
        await settle(pilot)
        assert f"columns saved for this table in {default}" in _text(scr, "#table-status")
        assert prefs.load_columns(str(default), scr.table.name) == ["email", "created"]
        await pilot.press("escape")
        await settle(pilot)
        scr = await _open(app, pilot, "Users")  # a new screen reads them back
        assert _labels(scr) == ["Key", "email", "created", "Size"]


def test_prefs_rewrite_only_their_section(tmp_path):
    cfg = tmp_path / "my.toml"
    head = '# my settings\n[thresholds]\nmap_used_warning_pct = 70\n\n'
    tail = '[keymap]\n"table.next" = "right,n"  # keep\n'
    cfg.write_text(head + tail)
    prefs.save_columns(str(cfg), "app.Users", ["email", 'we"ird'])
    prefs.save_columns(str(cfg), "slot 9", ["a"])
    text = cfg.read_text()
    assert text.startswith(head) and tail in text
    assert prefs.load_columns(str(cfg), "app.Users") == ["email", 'we"ird']
    prefs.save_columns(str(cfg), "app.Users", [])
    prefs.save_columns(str(cfg), "slot 9", [])
    assert cfg.read_text().startswith(head) and tail in cfg.read_text() and "[columns]" not in cfg.read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text("[oops\n")
    with pytest.raises(ValueError):
        prefs.save_columns(str(bad), "t", ["a"])
    assert bad.read_text() == "[oops\n"
    link = tmp_path / "link.toml"
    link.symlink_to(cfg)
    prefs.save_columns(str(link), "t", ["a"])
    assert link.is_symlink() and prefs.load_columns(str(cfg), "t") == ["a"]
    assert prefs.config_path("/x/given.toml") == "/x/given.toml"
    assert prefs.config_path(None) == str(tmp_path / "xdg" / "zlmdb-inspect" / "config.toml")


async def test_newest_first_pages_both_ways(cfx):
    app = _app(cfx["path"], imports=())
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _open(app, pilot, "Events")
        first_key = scr.rows[0].raw_key
        await pilot.press("o")
        await settle(pilot)
        assert "newest first" in _text(scr, "#table-title") and "newest first" in _text(scr, "#table-status")
        await pilot.press("g")  # the newest records
        await settle(pilot)
        keys = [r.raw_key for r in scr.rows]
        assert keys == sorted(keys, reverse=True) and scr.window.at_end
        assert scr._current().raw_key == keys[0]
        await pilot.press("n")  # older
        await settle(pilot)
        older = [r.raw_key for r in scr.rows]
        assert older == sorted(older, reverse=True) and older[0] < keys[-1]
        await pilot.press("b")  # newer again
        await settle(pilot)
        assert [r.raw_key for r in scr.rows] == keys
        t = scr.query_one("#records", DataTable)
        t.move_cursor(row=len(scr.rows) - 1)
        await settle(pilot)
        bottom = scr._current().raw_key
        await pilot.press("down")  # past the bottom: the window slides on to older records
        await settle(pilot)
        assert scr._current().raw_key < bottom
        assert scr._current().raw_key == max(r.raw_key for r in scr.rows if r.raw_key < bottom)
        await pilot.press("G")  # the oldest
        await settle(pilot)
        assert scr.rows[-1].raw_key == first_key and scr.window.at_start
        await pilot.press("o")
        await settle(pilot)
        assert scr.rows[0].raw_key == first_key


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_title_detail_and_times(cfx, size):
    before = sha(cfx["path"])
    app = _app(cfx["path"])
    async with app.run_test(size=size) as pilot:
        scr = await _open(app, pilot, "Users")
        title = _text(scr, "#table-title").rstrip()
        assert title.startswith(" Users ") and "cfxdb_app" not in title
        assert f"{cfx['counts']['Users']} records" in title and not title.endswith("decoder:")
        detail = _text(scr, "#detail")
        assert f"table {scr.table.name}" in detail and f"class {cfx['names']['Users']}" in detail
        rec = scr.detail
        raw = rec.value["created"]
        assert f"(raw {raw})" in detail and "time created 20" in detail
        value_cell = str(scr.query_one("#records", DataTable).get_row_at(0)[1])
        assert '"created": "20' in value_cell and str(raw) not in value_cell
    assert sha(cfx["path"]) == before


async def test_table_notes_said_once_in_the_detail(cfx):
    app = _app(cfx["path"])
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _open(app, pilot, "Events")
        detail = _text(scr, "#detail")
        assert "note the application's key decoder" in detail and "raises on all" in detail
        assert not any(r.error for r in scr.rows)  # not on every row


def test_module_paths_shown_as_class_names():
    t = Table(slot=12, oid=None, name="cfxdb.realmstore._publication.Publications", description=None,
              creator=None, records=0, metadata=True)
    assert short_name(t) == "Publications"
    assert short_name(Table(slot=9, oid=None, name=None, description=None, creator=None, records=0,
                           metadata=False)) == "slot 9"


async def test_column_widths_come_with_the_rows(cfx):
    """Rows and widths in one step: no frame can show columns as wide as their headers."""
    app = _app(cfx["path"])
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _open(app, pilot, "IndexUsersByEmail")
        await pilot.press("j")
        await settle(pilot)
        await pilot.press(*cfx["emails"][5], "enter")
        await pilot.press("i")  # before the jump's page has arrived, as a quick user does
        await settle(pilot)
        for screen in (app.screen, scr):
            t = screen.query_one("#records", DataTable)
            assert t.row_count
            screen._render_rows(0)  # and no idle in between: the widths are already right
            key, value = list(t.columns.values())[:2]
            assert key.get_render_width(t) - 2 >= max(t.get_cell_at((r, 0)).cell_len for r in range(t.row_count))
            assert value.get_render_width(t) - 2 > len("Value")
            assert not key.auto_width and not value.auto_width


async def test_copy_says_how_and_save_never_overwrites(big_db, tmp_path):
    before = sha(big_db["path"])
    app = _app(big_db["path"], imports=("conftest",))
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _open(app, pilot, "TUsers")
        await pilot.press("c")
        await settle(pilot)
        assert "sent to the terminal's clipboard (OSC 52)" in app.messages.entries[-1].text  # in full in the log
        assert _text(scr, "#table-status").rstrip().endswith("(more: l)")  # the line is cut: it says where
        copied = json.loads(app.clipboard)
        assert copied["value"]["blob"] == "hex:" + big_db["blob"].hex()  # the whole value, not a preview
        target = tmp_path / "rec.json"
        for expect in ("record saved as JSON to", "exists (it is never overwritten)"):
            await pilot.press("w")
            await settle(pilot)
            assert isinstance(app.screen, Prompt)
            app.screen.query_one("#prompt-input").value = str(target)
            await pilot.press("enter")
            await settle(pilot)
            assert expect in app.messages.entries[-1].text
            assert json.loads(target.read_text())["value"]["name"] == "big"
        await pilot.press("w")
        await settle(pilot)
        app.screen.query_one("#prompt-input").value = os.path.join(big_db["path"], "x.json")
        await pilot.press("enter")
        await settle(pilot)
        assert "never written to" in app.messages.entries[-1].text
        assert sorted(os.listdir(big_db["path"])) == ["data.mdb", "lock.mdb"]
    assert sha(big_db["path"]) == before


async def test_maximize_key(cfx):
    app = _app(cfx["path"])
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _open(app, pilot, "Users")
        await pilot.press("z")
        assert scr.maximized is scr.query_one("#records")
        await pilot.press("z")
        assert scr.maximized is None
        await pilot.press("tab")
        await pilot.press("z")
        assert scr.maximized is scr.query_one("#detail-side"), (scr.focused, scr.maximized)
        await pilot.press("escape")
        await settle(pilot)
        assert scr.maximized is None and app.screen is scr
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is not scr
