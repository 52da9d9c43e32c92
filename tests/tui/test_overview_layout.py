"""The overview at 80x24 and wider: nothing cut or wrapped that matters; keys and marks as users expect."""

from __future__ import annotations

import uuid

import cbor2
from conftest import raw_env, screen_text
from textual.widgets import DataTable, Static

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import Service
from zlmdb_inspect.tui.app import create_app
from zlmdb_inspect.tui.settle import settle
from zlmdb_inspect.tui.widgets.panels import TablesTab


async def test_title_is_one_line_and_words_read_as_sentences(demo_db):
    app = create_app(Service(Options(path=demo_db)), clock_fn=lambda t: "08:21:47")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        lines = screen_text(app).splitlines()
        assert "1 warning   1 info" in lines[0]
        assert lines[0].rstrip().endswith(("refreshed 08:21:47", "refreshed 08:21:47 (every 2 s)"))
        assert lines[1].startswith(" in use ") and "time to full: measuring…" in lines[3]  # < 30 s of history
        await pilot.press("4")
        await settle(pilot)
        text = screen_text(app)
        assert "time to full: measuring…" in text and "map full in not" not in text


async def test_sizes_widen_when_a_refresh_makes_them_longer(demo_db):
    app = create_app(Service(Options(path=demo_db)), clock_fn=lambda t: "12:00:00")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        ov = app.screen
        await pilot.press("p")  # no refresh of our own in between
        await settle(pilot)
        ref = ov.refresh_data
        ref.snapshot.tables[1].bytes = 1023 * 1024 + 900  # "1023.9 KiB": wider than any size before
        ov.query_one(TablesTab).show(ref)  # same rows: cells updated in place
        await settle(pilot)
        assert "1023.9 KiB" in screen_text(app)


async def test_end_and_home_move_in_the_tables_list(demo_db):
    app = create_app(Service(Options(path=demo_db)), clock_fn=lambda t: "12:00:00")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        t = app.screen.query_one("#tables-table", DataTable)
        await pilot.press("end")
        assert t.cursor_row == t.row_count - 1 and t.scroll_x == 0
        await pilot.press("home")
        assert t.cursor_row == 0


async def test_sort_column_and_direction_are_marked(demo_db):
    app = create_app(Service(Options(path=demo_db)), clock_fn=lambda t: "12:00:00")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        t = app.screen.query_one("#tables-table", DataTable)

        def labels():
            return [c.label.plain for c in t.columns.values()]

        assert labels()[0] == "Slot ▲"
        t.move_cursor(row=4)  # Events: the cursor stays on it when the order changes
        await pilot.press("s")  # by name, A to Z
        await settle(pilot)
        assert labels()[:2] == ["Slot", "Table ▲"]
        assert str(t.get_cell_at((t.cursor_row, 1))) == "Events"
        await pilot.press("s")  # by records, biggest first
        await settle(pilot)
        assert labels()[2] == "Records ▼" and "▲" not in "".join(labels())
        recs = [int(str(t.get_cell_at((i, 2))).replace(",", "")) for i in range(t.row_count)]
        assert recs == sorted(recs, reverse=True)
        slots = [int(str(t.get_cell_at((i, 0)))) for i in range(t.row_count)]
        ties = [s for s, n in zip(slots, recs) if recs.count(n) > 1 and n == recs[slots.index(1)]]
        assert ties == sorted(ties) and len(ties) >= 2  # equal counts stay in slot order
        x = sum(c.get_render_width(t) for c in list(t.columns.values())[:2]) + 2
        await pilot.click("#tables-table", offset=(x, 0))  # the sorted column's header again: reversed
        await settle(pilot)
        assert labels()[2] == "Records ▲"


async def test_class_names_in_the_list_full_names_under_it(tmp_path):
    # with Twisted installed, zlmdb names each table by its class path (twisted.python.reflect.qual)
    path = str(tmp_path / "cfx")
    env = raw_env(path, "1.0")
    with env.begin(write=True) as txn:
        oid = "5e1f0000-0000-4000-8000-0000000000c1"
        txn.put(b"\0\0\0\x01", cbor2.dumps({"oid": oid, "slot": 1, "description": "publications",
                                              "name": "cfxdb.realmstore._publication.Publications"}))
        txn.put(b"\0\x01" + uuid.UUID(int=1).bytes, cbor2.dumps({"topic": "com.example"}))
    env.close()
    app = create_app(Service(Options(path=path)), clock_fn=lambda t: "12:00:00")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        t = app.screen.query_one("#tables-table", DataTable)
        assert [str(t.get_cell_at((i, 1))) for i in range(t.row_count)] == ["(zlmdb catalog)", "Publications"]
        t.move_cursor(row=1)
        await settle(pilot)
        info = str(app.screen.query_one("#table-info", Static).content)
        # the full name, then the description (what the list cuts at 80 columns), then the oid
        assert info == f"cfxdb.realmstore._publication.Publications  description publications  oid {oid}", info


async def test_a_sparse_file_says_what_it_takes_on_disk(tmp_path):
    """A map written with MDB_WRITEMAP makes data.mdb as large as the map, mostly holes: the overview gives the
    apparent size and, beside it, the blocks it holds (what `du` says), so `file 64.0 MiB` does not mislead."""
    import os

    from zlmdb import lmdb

    path = str(tmp_path / "sparse")
    env = lmdb.open(path, map_size=64 * 1024 * 1024, writemap=True)
    with env.begin(write=True) as txn:
        txn.put(b"\0\x01key", b"v" * 100)
    env.close()
    st = os.stat(os.path.join(path, "data.mdb"))
    assert st.st_size == 64 * 1024 * 1024 and st.st_blocks * 512 < st.st_size // 10  # sparse here
    app = create_app(Service(Options(path=path)), clock_fn=lambda t: "12:00:00")
    async with app.run_test(size=(160, 24)) as pilot:
        await settle(pilot)
        text = " ".join(screen_text(app).split())
        await pilot.press("q")
    from zlmdb_inspect.core.fmt import fmt_bytes

    assert f"file 64.0 MiB ({fmt_bytes(st.st_blocks * 512)} on disk)" in text, text
