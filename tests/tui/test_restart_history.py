"""A restarted TUI starts with the history of its state file (issue 24): the Live tab's rates and
time to full at its first refresh, no 30 s warm-up; without the state it is measuring."""

from __future__ import annotations

from conftest import build_orm_db
from statefiles import earlier, edit_state, grow_in_child
from textual.widgets import Static

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import Service
from zlmdb_inspect.tui.app import create_app
from zlmdb_inspect.tui.settle import settle


def _live(app) -> str:
    return str(app.screen.query_one("#live-figures", Static).render())


async def _run_twice(tmp_path, fmt: str, state: bool) -> tuple[str, str]:
    """A TUI refreshed while the database grows, quit; a minute later another one: both Live tabs
    at their first refresh."""
    path, st = str(tmp_path / f"db-{fmt}"), str(tmp_path / "state")
    build_orm_db(path, fmt, n=50)
    app = create_app(Service(Options(path=path, state=state, state_dir=st)), clock_fn=lambda t: "12:00:00")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        first = _live(app)
        for step in range(2):  # two growths: a trend
            grow_in_child(path, fmt, 20, 20 * step)
            await pilot.press("r")
            await settle(pilot)
    # quitting closed the service, which wrote the state
    if state:
        edit_state(st, lambda doc: earlier(doc, 60.0))  # that TUI ran a minute ago
    grow_in_child(path, fmt, 20, 40)
    app = create_app(Service(Options(path=path, state=state, state_dir=st)), clock_fn=lambda t: "12:00:00")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        return first, _live(app)


async def test_a_restarted_tui_shows_rates_and_time_to_full_at_once(tmp_path, fmt):
    first, again = await _run_twice(tmp_path, fmt, state=True)
    assert "time to full: measuring" in first and "transactions –   records –" in first, first
    assert "map full in" in again and "txn/s" in again, again
    window = float(again.split("(over the last ", 1)[1].split(" s;", 1)[0])
    assert window >= 60, again


async def test_without_state_a_restarted_tui_is_measuring(tmp_path):
    _, again = await _run_twice(tmp_path, "1.0", state=False)
    assert "time to full: measuring" in again, again
