"""Issue 30, the TUI half: what an operator in an incident needs to see is there and true."""

from __future__ import annotations

import io

from conftest import sha
from rich.console import Console
from textual.widgets import DataTable, Static

from zlmdb_inspect.core.kinds import Direction
from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import Service
from zlmdb_inspect.tui.app import create_app
from zlmdb_inspect.tui.screens.records import TableScreen
from zlmdb_inspect.tui.settle import settle
from zlmdb_inspect.tui.widgets.fields import compact_iso


def _app(path: str, **kw):
    app = create_app(Service(Options(path=path, **kw)), clock_fn=lambda t: "12:00:00", interval=3600)
    app.animation_level = "none"
    return app


def _text(screen, selector: str) -> str:
    console = Console(width=400, file=io.StringIO(), record=True, color_system=None)
    console.print(screen.query_one(selector, Static).content)
    return console.export_text()


async def _open(app, pilot, bare: str) -> TableScreen:
    await settle(pilot)
    t = app.screen.query_one("#tables-table", DataTable)
    names = [str(t.get_row_at(i)[1]) for i in range(t.row_count)]
    t.move_cursor(row=next(i for i, n in enumerate(names) if n.rsplit(".", 1)[-1] == bare))
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, TableScreen)
    return app.screen


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
