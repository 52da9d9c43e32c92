"""Issue 30, what was left: a jump or ``from:`` that lands on another key says so (read in a worker),
the figures named as the glossary names them, composite keys that tell rows apart, the warning's
Practice line and messages that do not fit at 80x24."""

from __future__ import annotations

import threading

from conftest import open_table as _open
from conftest import sha
from textual.widgets import Static

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import Service
from zlmdb_inspect.tui.app import create_app
from zlmdb_inspect.tui.screens.search import SearchScreen
from zlmdb_inspect.tui.settle import settle


def _app(path: str):
    app = create_app(Service(Options(path=path)), clock_fn=lambda t: "12:00:00", interval=3600)
    app.animation_level = "none"
    return app


def _status(app) -> str:
    return str(app.screen.query_one("#table-status", Static).render())



def _seek_threads(app) -> list[threading.Thread]:
    """Record the thread each ``seek_key`` runs in (never the UI's)."""
    seen: list[threading.Thread] = []
    real = app.service.seek_key

    def seek_key(table, text):
        seen.append(threading.current_thread())
        return real(table, text)

    app.service.seek_key = seek_key
    return seen


async def test_jump_to_a_key_that_is_not_there_says_showing_the_next_one(demo_db):
    before = sha(demo_db)
    app = _app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot, "IndexUsersByName")
        threads = _seek_threads(app)
        for text in ("user000123x", "user000123"):
            await pilot.press("j")
            await settle(pilot)
            await pilot.press(*text, "enter")
            await settle(pilot)
            if text.endswith("x"):
                assert screen.window.records[0].key == "user000124"
                assert "no key user000123x; showing the next one" in _status(app)
            else:  # a key that is there: nothing said, and the note about the last jump is gone
                assert screen.window.records[0].key == "user000123"
                assert "no key" not in _status(app)
        assert len(threads) == 2 and all(t is not threading.main_thread() for t in threads)
        await pilot.press("j")
        await settle(pilot)
        await pilot.press(*"zzz", "enter")  # after every key: said, not "No records."
        await settle(pilot)
        assert "no key zzz, and none after it" in _status(app)
    assert sha(demo_db) == before


async def test_search_from_a_key_that_is_not_there_says_so(demo_db):
    app = _app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot, "IndexUsersByName")
        threads = _seek_threads(app)
        await pilot.press("slash")
        await settle(pilot)
        await pilot.press("ctrl+u", *"from:user000200x user", "enter")
        await settle(pilot)
        assert isinstance(app.screen, SearchScreen)
        for _ in range(100):
            await pilot.pause(0.05)
            if app.screen.progress is not None and app.screen.progress.done:
                break
        line = str(app.screen.query_one("#search-progress", Static).render())
        assert line.startswith("no key user000200x; showing the next one · scanned"), line
        assert threads and all(t is not threading.main_thread() for t in threads)


async def test_overview_figures_have_the_glossarys_names_and_checks_numbers(demo_db):
    """Issue 30 item 5: "in use" with its percentage over the map, available and the high-water mark,
    each named, with the same figures --check and the map-headroom warning give."""
    import subprocess
    import sys

    from conftest import ROOT, screen_text

    from zlmdb_inspect.core.fmt import fmt_bytes

    app = _app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        cap = app.screen.refresh_data.snapshot.capacity
        lines = screen_text(app).splitlines()
    in_use = f"{fmt_bytes(cap.in_use_bytes)}, {cap.used_pct:.1f}% of {fmt_bytes(cap.map_size)} ("
    assert lines[1].startswith(" in use ") and in_use in lines[1], lines[1]
    assert lines[2].startswith(f" available {fmt_bytes(cap.available_bytes)} ("), lines[2]
    assert f"  high-water mark {fmt_bytes(cap.used_bytes)}  " in lines[2], lines[2]
    check = subprocess.run([sys.executable, "-m", "zlmdb_inspect", demo_db, "--check"], cwd=ROOT,
                           capture_output=True, text=True, timeout=120).stdout
    assert f"{cap.used_pct:.1f}% of map in use, {fmt_bytes(cap.available_bytes)} available" in check, check


def test_plural_and_one_number_format():
    from zlmdb_inspect.core.fmt import plural

    assert plural(1, "reader slot") == "1 reader slot"
    assert plural(2, "reader slot") == "2 reader slots"
    assert plural(1, "match", "matches") == "1 match" and plural(1234, "match", "matches") == "1,234 matches"


async def test_warning_detail_scrolls_to_its_practice_line_where_it_cannot_show(tmp_path):
    """At 80x16 the detail has no room for a long warning: tab to it, end scrolls to the Practice line."""
    from conftest import screen_text

    from zlmdb_inspect.tui.screenshots import build_fleet

    realm2 = build_fleet(str(tmp_path / "crossbar"))[3]  # map-headroom's message the longest
    app = _app(realm2)
    async with app.run_test(size=(80, 16)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        text = screen_text(app)
        assert " map-headroom  (warning)" in text and "Practice: " not in text, text
        await pilot.press("tab", "end")
        await settle(pilot)
        assert "Practice: Deployment Considerations: Database sizing" in screen_text(app)
        await pilot.press("home", "shift+tab", "down")  # the next warning: its detail from its first line
        await settle(pilot)
        assert " orphan-slot  (warning)" in screen_text(app)
