"""The TUI's query, follow and shape screens, driven headless."""

from __future__ import annotations

import struct
import sys
import threading

import cbor2
from conftest import SUPPORT, raw_env
from textual.app import App
from textual.screen import Screen
from textual.widgets import DataTable, Static

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.storage.inspector import Inspector
from zlmdb_inspect.tables import query, scanner, shape
from zlmdb_inspect.tables.catalog import TableCodecs
from zlmdb_inspect.tables.scanner import Progress
from zlmdb_inspect.tui.screens.search import SearchScreen
from zlmdb_inspect.tui.screens.shape import ShapeScreen
from zlmdb_inspect.tui.settle import settle
from zlmdb_inspect.tui.widgets.changes import ChangesPane

sys.path.insert(0, SUPPORT)


def _db(path: str, n: int = 3000) -> None:
    env = raw_env(path, "1.0", map_size=64 * 1024 * 1024)
    with env.begin(write=True) as txn:
        for i in range(n):
            txn.put(struct.pack(">HQ", 1, i), cbor2.dumps({"i": i, "topic": f"com.example.t{i % 10}",
                                                           "tag": "[b]bold[/b]" if i == 7 else "x"}))
    env.close()


class Host(App):
    def __init__(self, screen_factory):
        super().__init__()
        self.factory = screen_factory
        self.result = "unset"

    def on_mount(self) -> None:
        self.push_screen(self.factory(), callback=lambda r: setattr(self, "result", r))


class Opened(Screen):
    """What a chosen match opens (the records screen, in the app): escape goes back."""

    BINDINGS = [("escape", "app.pop_screen", "Back")]

    def __init__(self, key: bytes) -> None:
        super().__init__()
        self.key = key


async def test_search_streams_matches_and_moves_between_them(tmp_path):
    path = str(tmp_path / "db")
    _db(path)
    with Inspector(path) as ins:
        cat = TableCodecs(Options(path=path))
        table = ins.snapshot().table_by_slot(1)
        q = query.parse("t3")
        app = Host(lambda: SearchScreen("Search t3", lambda: scanner.scan(ins, cat, table, q, chunk_max=256),
                                        Opened, q))
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            screen = app.screen
            rows = screen.query_one("#search-matches", DataTable)
            assert rows.row_count == 300 and screen.progress.done and screen.progress.chunks > 5
            text = str(screen.query_one("#search-progress", Static).render())
            assert "scanned 3,000 of 3,000" in text and "300 matches" in text and "done" in text
            await pilot.press("n", "n", "n", "b")
            assert rows.cursor_row == 2
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, Opened) and app.screen.key == struct.pack(">HQ", 1, 23)
            await pilot.press("escape")  # back to the matches, all of them, the cursor where it was
            await settle(pilot)
            assert app.screen is screen and rows.row_count == 300 and rows.cursor_row == 2
        # markup in data is shown literally
        app = Host(lambda: SearchScreen("Search", lambda: scanner.scan(ins, cat, table, query.parse("bold")), Opened,
                                        query.parse("bold")))
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            rows = app.screen.query_one("#search-matches", DataTable)
            assert rows.row_count == 1 and "[b]bold[/b]" in str(rows.get_row_at(0)[2])
            match = rows.get_row_at(0)[1]
            hit = next(s for s in match.spans if "reverse" in str(s.style))
            assert match.plain[hit.start:hit.end] == "bold" and ": " in match.plain
        # a bad expression is one line on screen, not a crash
        app = Host(lambda: SearchScreen("Search", lambda: scanner.scan(ins, cat, table, query.parse("jq:.value ==")),
                                        Opened))
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert "bad jq expression" in str(app.screen.query_one("#search-progress", Static).render())


class SlowScan:
    """A scan that runs until cancelled: escape must stop it."""

    def __init__(self):
        self._cancel = threading.Event()
        self.progress = Progress(total=10)

    def cancel(self):
        self._cancel.set()

    @property
    def cancelled(self):
        return self._cancel.is_set()

    def records(self, limit=None, on_progress=None):
        while not self._cancel.wait(0.01):
            self.progress.scanned += 1
            on_progress(self.progress)
        self.progress.cancelled = True
        on_progress(self.progress)
        return iter(())


async def test_escape_cancels_a_running_scan_then_goes_back():
    scan = SlowScan()
    app = Host(lambda: SearchScreen("Search", lambda: scan, Opened))
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("escape")
        await settle(pilot)
        assert scan.cancelled and isinstance(app.screen, SearchScreen)
        assert "cancelled" in str(app.screen.query_one("#search-progress", Static).render())
        await pilot.press("escape")
        await settle(pilot)
        assert app.result is None


class PaneHost(App):
    def __init__(self, poll):
        super().__init__()
        self.poll = poll

    def compose(self):
        yield ChangesPane(self.poll, interval=0.05, id="changes")


async def _drained(pilot, app, batches: list) -> tuple[ChangesPane, DataTable]:
    """Polls until the pane took every batch, then the pane and its table."""
    for _ in range(40):
        await pilot.pause(0.05)
        if not batches:
            break
    await settle(pilot)
    pane = app.query_one(ChangesPane)
    return pane, pane.query_one(DataTable)


async def test_changes_pane_newest_first_deletes_struck_through():
    batches = [[], [{"change": "insert", "key": "a", "value": {"v": 1}, "txnid": 5}],
               [{"change": "update", "key": "a", "value": {"v": 2}, "txnid": 6},
                {"change": "delete", "key": "b[/i]", "txnid": 6}]]

    def poll():
        return batches.pop(0) if batches else []

    app = PaneHost(poll)
    async with app.run_test(size=(120, 24)) as pilot:
        pane, table = await _drained(pilot, app, batches)
        cells = [table.get_row_at(i) for i in range(table.row_count)]
        assert [str(c[0]) for c in cells] == ["delete", "update", "insert"]
        assert "strike" in str(cells[0][2].style) and str(cells[0][2]) == "b[/i]"
        assert pane.seen == 3



async def test_changes_pane_counts_undecoded_changes_without_showing_them():
    """``JsonFollow.poll(newest=KEEP)`` leaves older changes undecoded: counted in the title, not rows."""
    batches = [[], [{"change": "insert", "txnid": 5, "_raw_key": b"a", "_undecoded": True},
                    {"change": "insert", "key": "b", "value": {"v": 1}, "txnid": 6},
                    {"change": "delete", "txnid": 5, "_raw_key": b"c", "_undecoded": True}]]

    def poll():
        return batches.pop(0) if batches else []

    app = PaneHost(poll)
    async with app.run_test(size=(120, 24)) as pilot:
        pane, table = await _drained(pilot, app, batches)
        assert [(str(r[0]), str(r[2])) for r in (table.get_row_at(i) for i in range(table.row_count))] == [
            ("insert", "b")]
        assert pane.seen == 3 and "3 changes" in str(pane.query_one("#changes-title", Static).content)

async def test_shape_screen_shows_histograms(tmp_path):
    path = str(tmp_path / "db")
    _db(path)
    with Inspector(path) as ins:
        table = ins.snapshot().table_by_slot(1)
        app = Host(lambda: ShapeScreen("Shape", lambda prog, cancel: shape.compute(ins, table, on_progress=prog,
                                                                                  cancel=cancel),
                                       lambda k: k.hex()))
        async with app.run_test(size=(120, 50)) as pilot:
            await settle(pilot)
            text = str(app.screen.query_one("#shape-body", Static).render())
            assert "done: all 3,000 records" in text and "Largest records" in text
            assert "records per leaf page" in text and app.screen.shape.records == 3000
            await pilot.press("escape")
            await settle(pilot)
            assert app.result is None


# -- on the records screen ------------------------------------------------------------------

async def test_records_screen_search_follow_and_shape(tmp_path, monkeypatch):
    from zlmdb_inspect.core.options import Options as Opts
    from zlmdb_inspect.service import Service
    from zlmdb_inspect.tui.app import create_app
    from zlmdb_inspect.tui.screens.records import Prompt, TableScreen
    from zlmdb_inspect.tui.widgets.changes import ChangesPane as Pane

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    path = str(tmp_path / "db")
    _db(path, 3000)
    app = create_app(Service(Opts(path=path)), clock_fn=lambda t: "12:00:00", interval=0.2)
    app.animation_level = "none"
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        scr = app.screen
        assert isinstance(scr, TableScreen)
        # / : a jq query from the current (first) record; enter on a match shows it in the table
        await pilot.press("slash")
        await settle(pilot)
        assert isinstance(app.screen, Prompt)
        await pilot.press(*'jq:.value.i == 2345', "enter")
        await settle(pilot)
        assert isinstance(app.screen, SearchScreen)
        assert app.screen.query_one("#search-matches", DataTable).row_count == 1
        await pilot.press("enter")
        await settle(pilot)
        match = app.screen
        assert isinstance(match, TableScreen) and match.rows[0].raw_key == struct.pack(">HQ", 1, 2345)
        # escape: back to the matches; again: back to the records the search started from
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, SearchScreen)
        assert app.screen.query_one("#search-matches", DataTable).row_count == 1
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is scr
        # h : the shape screen
        await pilot.press("h")
        await settle(pilot)
        assert isinstance(app.screen, ShapeScreen) and app.screen.shape.records == 3000
        await pilot.press("escape")
        await settle(pilot)
        # f : the Changes pane; a writer adds records, they show up
        await pilot.press("f")
        await pilot.pause(0.5)
        subprocess_write(path)
        for _ in range(60):
            await pilot.pause(0.1)
            pane = scr.query(Pane)
            if pane and pane.first().seen:
                break
        pane = scr.query_one(Pane)
        assert pane.seen == 5 and {c["change"] for c in pane.items} == {"insert"}
        await pilot.press("f")
        await settle(pilot)
        assert not scr.query(Pane)


def subprocess_write(path: str) -> None:
    import subprocess

    code = ("import struct, cbor2; from zlmdb import lmdb; "
            f"env = lmdb.open({path!r}, map_size=64 * 1024 * 1024, lib_version=1); "
            "txn = env.begin(write=True); "
            "[txn.put(struct.pack('>HQ', 1, 10**6 + i), cbor2.dumps({'i': i})) for i in range(5)]; "
            "txn.commit(); env.close()")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
