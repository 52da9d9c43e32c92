"""What used to be cut at 80×24 (issue 30 item 4): composite keys show the part that tells rows
apart; status messages too long for their line are read in full in the message log."""

from __future__ import annotations

import pytest
from cfxdb_like import build
from conftest import open_table as _open
from textual.widgets import Input, Static

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import Service
from zlmdb_inspect.tui.app import create_app
from zlmdb_inspect.tui.screens.messagelog import MessageLog, MessageLogScreen, fit_line
from zlmdb_inspect.tui.screens.records import Prompt, TableScreen
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


async def test_a_long_status_message_reads_in_full_in_the_message_log(cfx, tmp_path):
    where = tmp_path / "no such directory" / ("Publications-000000adf24994" + "7" * 60 + ".json")
    app = _app(cfx["path"])
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _open(app, pilot, "Events")
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, Prompt)
        app.screen.query_one("#prompt-input", Input).value = str(where)
        await pilot.press("enter")
        await settle(pilot)
        said = f"not saved: No such file or directory: {where}"
        status = scr.query_one("#table-status", Static)
        line = status.render().plain  # type: ignore[union-attr]
        assert line.startswith("records 1–100 of 300  ·  not saved: No such file")
        assert line.endswith("… (more: l)") and line.count("…") == 1
        assert len(line) <= status.size.width
        assert said not in line  # cut on the line ...
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, MessageLogScreen)
        log = app.screen.query_one("#messages-text", Static).render().plain  # type: ignore[union-attr]
        assert said in log  # ... and whole in the log
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is scr
    assert not where.parent.exists()


def test_status_lines_fit_or_say_where_the_rest_is():
    assert fit_line("short", 20, "l").plain == "short"
    cut = fit_line("x" * 30 + "\x1b[31m", 20, "l")
    assert cut.plain == "x" * 9 + "… (more: l)" and cut.cell_len == 20
    assert fit_line("界" * 30, 21, "L").cell_len <= 21  # wide characters counted in cells
    log = MessageLog(kept=3)
    for i in range(5):
        log.add("Events", f"message {i}")
    log.add("Events", "")
    assert [e.text for e in log.entries] == ["message 2", "message 3", "message 4"]
