"""What used to be cut at 80×24 (issue 30 item 4): composite keys show the part that tells rows
apart; status messages too long for their line are read in full in the message log."""

from __future__ import annotations

import pytest
from cfxdb_like import build
from textual.widgets import DataTable

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import Service
from zlmdb_inspect.tui.app import create_app
from zlmdb_inspect.tui.screens.records import TableScreen
from zlmdb_inspect.tui.settle import settle


@pytest.fixture(scope="module")
def cfx(tmp_path_factory) -> dict:
    return build(str(tmp_path_factory.mktemp("cfx") / "db"), "1.0", deviants=False, events=300)


@pytest.fixture(autouse=True)
def _own_config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def _app(path: str):
    app = create_app(Service(Options(path=path, imports=["cfxdb_app"])), clock_fn=lambda t: "12:00:00",
                     interval=3600)
    app.animation_level = "none"
    return app


async def _open(app, pilot, bare: str) -> TableScreen:
    await settle(pilot)
    t = app.screen.query_one("#tables-table", DataTable)
    names = [str(t.get_row_at(i)[1]) for i in range(t.row_count)]
    t.move_cursor(row=next(i for i, n in enumerate(names) if n.rsplit(".", 1)[-1] == bare))
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, TableScreen)
    return app.screen


def _visible_keys(scr: TableScreen) -> list[tuple[str, str]]:
    """(the time of the record, its row as drawn on screen) for each row in view."""
    rl = scr.record_list
    top = rl.scroll_offset.y
    out = []
    for y in range(1, rl.size.height):  # line 0 is the header
        i = top + y - 1
        if i >= len(scr.rows):
            break
        out.append((scr.rows[i].key[-1], rl.render_line(y).text))
    return out


async def test_composite_keys_show_their_time_at_80_columns(cfx):
    app = _app(cfx["path"])
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _open(app, pilot, "Events")
        for move in ("", "G", "b"):  # the first page, the last, one with a change of OID
            if move:
                await pilot.press(move)
                await settle(pilot)
            rows = _visible_keys(scr)
            assert len(rows) >= 10
            assert len({t for t, _ in rows}) == len(rows)  # the times tell the rows apart
            for time, line in rows:
                assert time in line, (time, line)
        oids = {r.key[0] for r in scr.rows}
        assert len(oids) > 1  # the page seen last holds a change of OID
