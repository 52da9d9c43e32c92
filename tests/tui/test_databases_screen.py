"""The Databases screen on its own: rows, a broken database's row, a slow one, enter."""

from __future__ import annotations

import threading

from conftest import build_orm_db, open_db, sha
from textual.app import App
from textual.widgets import DataTable

from zlmdb_inspect.core.fmt import fmt_bytes
from zlmdb_inspect.service.fleet import Fleet
from zlmdb_inspect.tui.screens.databases import COLUMNS, DatabaseChosen, DatabasesScreen
from zlmdb_inspect.tui.settle import settle


class Host(App):
    def __init__(self, fleet: Fleet) -> None:
        super().__init__()
        self.fleet = fleet
        self.chosen: list[str] = []

    def on_mount(self) -> None:
        self.push_screen(DatabasesScreen(self.fleet, 60.0, lambda t: "12:00:00"))

    def on_database_chosen(self, msg: DatabaseChosen) -> None:
        self.chosen.append(msg.path)


def _row(t: DataTable, key: str) -> list[str]:
    return [c.plain if hasattr(c, "plain") else str(c) for c in t.get_row(key)]


async def test_rows_a_broken_database_and_a_slow_one(tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    ca = build_orm_db(a, "1.0", n=40)
    cb = build_orm_db(b, "0.9", n=70)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "data.mdb").write_bytes(b"\0" * 8192)
    slow = str(tmp_path / "slow")
    build_orm_db(slow, "1.0", n=10)
    release = threading.Event()

    def opener(path: str):
        if path == slow:
            release.wait(30)  # a database that takes long to open
        return open_db(path)

    digests = {p: sha(p) for p in (a, b, slow)}
    fleet = Fleet([a, b, str(broken), slow], opener)
    app = Host(fleet)
    try:
        async with app.run_test(size=(140, 20)) as pilot:
            t = app.screen.query_one("#databases-table", DataTable)
            for _ in range(200):  # the others are shown while the slow one is still being read
                await pilot.pause(0.05)
                if all(fleet.last(p) is not None for p in (a, b, str(broken))):
                    break
            await pilot.pause(0.2)
            ra, rb, rbroken, rslow = (_row(t, p) for p in (a, b, str(broken), slow))
            col = {key: i for i, (key, _) in enumerate(COLUMNS)}
            assert ra[col["format"]] == "1.0" and ra[col["records"]] == f"{sum(ca.values()):,}"
            assert ra[col["used"]].endswith("%") and ra[col["status"]].strip() in ("OK", "WARNING", "CRITICAL")
            # available: the same figure (and words) as the overview and --check
            res = fleet.last(a)
            assert res is not None and res.snapshot is not None
            assert ra[col["available"]] == fmt_bytes(res.snapshot.capacity.available_bytes)
            assert rb[col["format"]] == "0.9" and rb[col["records"]] == f"{sum(cb.values()):,}" == "212"
            assert rbroken[col["status"]].strip() == "UNKNOWN" and rbroken[col["format"]] == "–"
            err = fleet.last(str(broken))
            assert err is not None and err.error and err.error.startswith(rbroken[col["warning"]].rstrip("…"))
            assert rslow[col["status"]] == "reading…"
            release.set()
            await settle(pilot)
            assert _row(t, slow)[col["format"]] == "1.0"
            t.move_cursor(row=0)
            await pilot.press("enter")
            await pilot.pause(0.1)
            assert app.chosen == [a]
            t.move_cursor(row=2)  # the broken one says why instead of opening
            await pilot.press("enter")
            await pilot.pause(0.1)
            assert app.chosen == [a]
    finally:
        release.set()
        fleet.close()
    assert {p: sha(p) for p in (a, b, slow)} == digests


async def test_enter_opens_the_overview_and_escape_returns(tmp_path):
    from zlmdb_inspect.tui.screens.overview import Overview
    from zlmdb_inspect.tui.screenshots import build_fleet, fleet_app

    root = str(tmp_path / "crossbar")
    paths = build_fleet(root)
    digests = {p: sha(p) for p in paths[1:]}
    app = fleet_app(root, interval=60.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DatabasesScreen)
        t = app.screen.query_one("#databases-table", DataTable)
        t.move_cursor(row=3)  # realms/realm2
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, Overview) and app.service.path == paths[3]
        assert app.last_refresh is not None and app.last_refresh.snapshot.path == paths[3]
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DatabasesScreen)
        t.move_cursor(row=1)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, Overview) and app.service.path == paths[1]
        await pilot.press("escape", "q")
    assert {p: sha(p) for p in paths[1:]} == digests
