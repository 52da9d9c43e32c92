"""Issue 26 items 4, 8, 9, 10: what a real Crossbar.io node's data showed (prose, embedded CBOR, key ranges)."""

from __future__ import annotations

import json
import random
import uuid

import cbor2
import cfxdb_publications as pubs
import pytest
from conftest import raw_env, run_cli, screen_text, sha
from test_hostile_content import assert_screen_safe
from textual.widgets import DataTable, Static

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.core.textsafe import prose
from zlmdb_inspect.service import Service
from zlmdb_inspect.tables.decode import decode_value
from zlmdb_inspect.tables.values import embedded, jsonable
from zlmdb_inspect.tui.app import create_app
from zlmdb_inspect.tui.settle import settle

DOCSTRING = ("Persisted [b]publications[/b]\n    archive.\x1b[31m\n\n    Map :class:`zlmdb.MapOidFlatBuffers` from "
             "``publication`` to\n\t:class:`cfxdb.Publication`.")
FIRST = "Persisted [b]publications[/b] archive.\\x1b[31m"  # markup literal, the escape sequence escaped


def test_prose_joins_layout_whitespace_and_escapes_the_rest():
    assert prose("a\n\n    b\tc  d") == "a b c d"
    assert prose("first.\n  \n  second", first_paragraph=True) == "first."
    assert prose("\n\n  lead\n\nrest", first_paragraph=True) == "lead"
    assert prose("x\x00y\x1b[1m\u202ez") == "x\\x00y\\x1b[1m\\u202ez"  # real control characters stay escaped


def _db_with_docstring(tmp_path) -> str:
    path = str(tmp_path / "cfx")
    env = raw_env(path, "1.0")
    with env.begin(write=True) as txn:
        txn.put(b"\0\0\0\x01", cbor2.dumps({"oid": "5e1f0000-0000-4000-8000-0000000000c1", "slot": 1,
                                              "description": DOCSTRING, "creator": "crossbar\n  node-1",
                                              "name": "cfxdb.realmstore._publication.Publications"}))
        txn.put(b"\0\x01" + uuid.UUID(int=1).bytes, cbor2.dumps({"topic": "com.example"}))
    env.close()
    return path


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_descriptions_read_as_prose_in_the_list_and_the_info_line(tmp_path, size):
    app = create_app(Service(Options(path=_db_with_docstring(tmp_path))), clock_fn=lambda t: "12:00:00")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        t = app.screen.query_one("#tables-table", DataTable)
        t.move_cursor(row=1)
        await settle(pilot)
        cell = str(t.get_cell(t.coordinate_to_cell_key((1, 0)).row_key, "description"))
        assert cell == FIRST  # the first paragraph, not "\x0a\x0a    Map"
        info = str(app.screen.query_one("#table-info", Static).content)
        assert "creator crossbar node-1" in info
        assert (f"description {FIRST} Map :class:`zlmdb.MapOidFlatBuffers` from "
                "``publication`` to :class:`cfxdb.Publication`.") in info
        text = screen_text(app)
        assert "\\x0a" not in text
        # blank Rec/s and Growth columns (no history, no time), then the description as far as the width allows
        row = "Publications     1        2.0 KiB                 "
        assert row + (FIRST if size[0] >= 160 else FIRST[:21]) in text
        assert_screen_safe(app)


# -- item 8: CBOR and JSON documents inside byte fields ------------------------------------





@pytest.fixture(scope="module", params=["1.0", "0.9"])
def pubdb(request, tmp_path_factory):
    return pubs.create(str(tmp_path_factory.mktemp("pubs") / f"pubs-{request.param}"), request.param, n=90)


def _dump(*args: str) -> list[dict]:
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in r.stdout.splitlines()]


def test_grep_and_where_see_cbor_inside_flatbuffers_byte_vectors(pubdb):
    before = sha(pubdb["path"])
    recs = _dump(pubdb["path"], "--dump", "Publications")
    assert len(recs) == pubdb["n"]
    first = recs[0]["value"]
    assert first["field4"] == {"cbor_bytes": ["hello alice", 1]}  # args, decoded and marked
    assert first["field5"] == {"cbor_bytes": {"from": "carol", "n": 1}}  # kwargs
    found = _dump(pubdb["path"], "--dump", "Publications", "--grep", "bob")
    assert [r["key"] for r in found] == pubdb["bob"]
    where = _dump(pubdb["path"], "--dump", "Publications", "--where", '.value.field5.cbor_bytes.from == "bob"')
    assert [r["key"] for r in where] == [o for o in range(1, pubdb["n"] + 1) if o % 5 == 0]
    assert sha(pubdb["path"]) == before


def test_embedded_documents_are_strict():
    assert embedded(b'{"a": [1, "bob"]}') == {"json_bytes": {"a": [1, "bob"]}}
    assert embedded(b"[1,2]") == {"json_bytes": [1, 2]}
    assert embedded(b"\x82\x01\x63bob") == {"cbor_bytes": [1, "bob"]}
    assert embedded(b"\x63bob") == {"cbor_bytes": "bob"}
    for b in (b"\x01", b"\x18\x2a",  # a lone int, a byte or two of anything
              b"\xf5\xf5", b"\xc1\x1a\x00\x00\x00\x01",  # simple values, a tag
              b"\x82\x01\x02\x03",  # a trailing byte: not one item spanning the bytes
              b"\x63bo",  # truncated
              b"\x62\x1b[",  # text with an escape character
              b"\x9f\x01\xff",  # indefinite length
              b"\x83",  # lone header
              b"{not json}", b"[1,2", b"\"bob\""):
        assert embedded(b) is None, b
    rng = random.Random(26)
    decoded = [b for b in (rng.randbytes(rng.choice((8, 16, 20, 32, 64))) for _ in range(20_000)) if embedded(b)]
    assert decoded == []  # random ids, hashes and keys stay hex
    assert jsonable(b"\x82\x01\x02", embeds=False) == "hex:820102"  # keys keep their exact bytes


def test_hostile_embedded_content_stays_data():
    hostile = pubs.publication(1, pubs.BASE_NS, ["[bold red]x[/] \x1b[31m \u202e", {"k": b"\x82\x01\x02"}],
                               {"deep": [[[[[[[[["bob"]]]]]]]]]})
    d = decode_value(hostile)
    assert d.decoder == "flatbuffers" and d.error is None
    assert d.value["field4"] == {"cbor_bytes": ["[bold red]x[/] \x1b[31m \u202e", {"k": {"cbor_bytes": [1, 2]}}]}
    assert d.value["field5"]["cbor_bytes"]["deep"][0][0][0][0][0][0][0][0] == ["bob"]
    nested = b"\x63bob"
    for _ in range(200):  # bytes in CBOR in bytes ...: bounded, no recursion error
        nested = cbor2.dumps([nested])
    assert "nested too deep" in json.dumps(jsonable(nested))


# -- item 10: the Changes pane's order and its times -------------------------------------

from textual.app import App  # noqa: E402

from zlmdb_inspect.tui.widgets.changes import ORDER, ChangesPane, newest_first  # noqa: E402

TS = 1_796_418_180_123_456_789  # 2026-12-04T21:03:00.123456789Z


def test_newest_first_orders_a_poll_by_txnid_then_key_descending():
    polled = [{"change": "insert", "key": k, "txnid": t} for k, t in ((1, 9), (2, 7), (3, 9), (4, 8))]
    assert [c["key"] for c in newest_first(polled)] == [3, 1, 4, 2]


async def test_changes_pane_is_newest_first_and_shows_times_as_the_record_list_does():
    polls = [[{"change": "insert", "key": 1, "value": {"timestamp": TS, "n": 1}, "txnid": 6},
              {"change": "insert", "key": 2, "value": {"timestamp": TS, "n": 2}, "txnid": 5}],
             [{"change": "update", "key": 1, "value": {"timestamp": TS, "n": 3}, "txnid": 7}]]

    class PaneApp(App):
        def compose(self):
            yield ChangesPane(lambda: polls.pop(0) if polls else [], 0.05)

    app = PaneApp()
    async with app.run_test(size=(160, 24)) as pilot:
        for _ in range(20):
            await pilot.pause(0.05)
            if not polls:
                break
        await pilot.pause(0.2)
        t = app.query_one("#changes-list", DataTable)
        labels = [str(c.label) for c in t.columns.values()]
        col = {name: labels.index(name) for name in ("Change", "Key", "Value", "Page txn")}
        rows = [[str(t.get_cell_at((r, c))) for c in range(len(labels))] for r in range(t.row_count)]
        assert [(r[col["Change"]], r[col["Key"]], r[col["Page txn"]]) for r in rows] == [
            ("update", "1", "7"), ("insert", "1", "6"), ("insert", "2", "5")]
        assert rows[0][col["Value"]] == '{"timestamp": "2026-12-04T21:03:00.123456789Z", "n": 3}'
        assert ORDER in str(app.query_one("#changes-title", Static).content)
