"""Hostile database content never breaks or drives the screen or a terminal reading our output.

Every string from the database, a path or /proc is shown literally (escaped, cut with an
ellipsis); no markup, action, link or escape sequence from the data reaches a widget or a
terminal. See tests/hostile.py for the database.
"""

from __future__ import annotations

import ast
import fcntl
import json
import os
import pty
import re
import select
import struct
import sys
import termios
import time
from io import StringIO
from pathlib import Path

import pytest
from conftest import ROOT, run_cli, sha
from hostile import ACTION, DIR_NAME, HOSTILE, KEYS, LINK, TABLE_NAMES, UNBALANCED, build_hostile_db
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text
from textual.command import CommandPalette
from textual.widgets import DataTable, Static

from zlmdb_inspect.core.model import Reader
from zlmdb_inspect.core.options import Options
from zlmdb_inspect.core.textsafe import has_unsafe, json_visible, safe, visible
from zlmdb_inspect.reports.document import check_lines
from zlmdb_inspect.reports.prometheus import exposition
from zlmdb_inspect.service import Service
from zlmdb_inspect.service.fleet import result_of
from zlmdb_inspect.tui import text as tui_text
from zlmdb_inspect.tui.app import HelpScreen, create_app
from zlmdb_inspect.tui.screens.overview import Overview
from zlmdb_inspect.tui.screens.records import TableScreen
from zlmdb_inspect.tui.settle import settle
from zlmdb_inspect.tui.widgets.fields import key_text
from zlmdb_inspect.tui.widgets.fields import short_text as _short
from zlmdb_inspect.tui.widgets.hexview import HexView, hex_row
from zlmdb_inspect.tui.widgets.panels import ReadersTab

TUI = Path(ROOT) / "zlmdb_inspect" / "tui"


@pytest.fixture
def hostile_db(tmp_path) -> str:
    path = str(tmp_path) + "/" + DIR_NAME  # "[/i]" in it makes parent directories
    build_hostile_db(path)
    return path


# -- no markup built from data: static check of the TUI's source ---------------------------

SINKS = {"update", "notify", "add_row", "add_rows", "update_cell", "update_cell_at", "add_column",
         "from_markup", "Static", "Label", "Button", "SystemCommand", "Prompt", "write", "set_tooltip"}
ATTR_SINKS = {"label", "tooltip", "title", "sub_title", "border_title", "border_subtitle"}


def _built(node: ast.AST) -> bool:
    """A string made at run time from other values: f-string, %, .format(), str.join, concatenation."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return isinstance(node.left, (ast.Constant, ast.JoinedStr))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _built(node.left) or _built(node.right) or not (
            isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join"):
        return isinstance(node.func.value, (ast.Constant, ast.JoinedStr))
    if isinstance(node, ast.IfExp):
        return _built(node.body) or _built(node.orelse)
    return False


def _name(func: ast.AST) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def markup_from_data(source: str) -> list[str]:
    """Places where a widget gets a string built at run time (read as markup) instead of Text."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _name(node.func) in SINKS:
            if any(k.arg == "markup" and isinstance(k.value, ast.Constant) and k.value.value is False
                   for k in node.keywords):
                continue
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if _built(arg):
                    found.append(f"line {node.lineno}: {_name(node.func)}({ast.unparse(arg)[:60]})")
            if _name(node.func) == "from_markup" and node.args and not isinstance(node.args[0], ast.Constant):
                found.append(f"line {node.lineno}: from_markup of a non-constant")
        if isinstance(node, ast.Assign) and _built(node.value):
            for t in node.targets:
                if isinstance(t, ast.Attribute) and t.attr in ATTR_SINKS:
                    found.append(f"line {node.lineno}: .{t.attr} = {ast.unparse(node.value)[:60]}")
    return found


def test_no_widget_gets_markup_built_from_data():
    found = {p.name: markup_from_data(p.read_text()) for p in sorted(TUI.glob("*.py"))}
    assert {k: v for k, v in found.items() if v} == {}


def test_the_markup_check_finds_what_it_looks_for():
    bad = '''
self.query_one("#t", Static).update(f"[b]{path}[/b]")
t.add_row(name, "%s" % desc)
self.notify("sorted by {}".format(key))
t.update_cell(k, c, "x" + value)
tab.label = f"Warnings ({n})"
Text.from_markup(s)
yield Static(" · ".join(parts))
'''
    assert len(markup_from_data(bad)) == 7
    good = '''
self.query_one("#t", Static).update(join((path, "bold")))
t.add_row(literal(name), Text(f"{n:,}"))
self.notify("A constant message", severity="warning")
self.notify(f"{n} things", markup=False)
tab.label = Text(f"Warnings ({n})")
'''
    assert markup_from_data(good) == []


# fields that hold outside strings: given to Text() or a widget, they must pass through literal()/join()
DATA_ATTRS = {"name", "description", "creator", "key", "value", "error", "message", "path", "decoder",
              "subject", "thread", "fallback", "practice", "question"}
RAW_SINKS = {"Text", "assemble", "update", "add_row", "update_cell", "add_column", "Static", "notify", "Label"}
SAFE_CALLS = {"literal", "join", "key_text", "_short", "value_text", "prose_text", "safe", "visible", "json_visible",
              "hexdump"}


def _data_fields(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Call) and _name(node.func) in SAFE_CALLS:
        return []
    if isinstance(node, ast.Attribute) and node.attr in DATA_ATTRS:
        return [ast.unparse(node)]
    return [d for c in ast.iter_child_nodes(node) for d in _data_fields(c)]


def raw_data_fields(source: str) -> list[str]:
    """Data fields handed to Text() or a widget without the literal helper (no escapes, maybe markup)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _name(node.func) in RAW_SINKS:
            for arg in [*node.args, *(k.value for k in node.keywords if k.arg not in ("key", "id", "classes"))]:
                found += [f"line {node.lineno}: {_name(node.func)}(… {d} …)" for d in _data_fields(arg)]
    return found


def test_data_fields_reach_widgets_only_through_the_helper():
    found = {p.name: raw_data_fields(p.read_text()) for p in sorted(TUI.glob("*.py"))}
    assert {k: v for k, v in found.items() if v} == {}
    bad = '''
Text.assemble(("decoder ", "bold"), rec.decoder)
d.update(Text(rec.error, style="red"))
t.add_row(str(rd.pid), rd.name or "")
Text(f" {self.app.service.path} ")
'''
    assert len(raw_data_fields(bad)) == 5  # update(Text(rec.error)) twice: outer and inner call
    assert raw_data_fields('join(("decoder ", "bold"), rec.decoder); t.add_row(literal(rd.name, 24))') == []


# -- the helper and the renderers: property tests ----------------------------------------

MARKUPISH = st.text(alphabet=st.sampled_from(list("[]/@=!\\:;#'\"ab bold link click") +
                                               ["\x1b", "\x07", "\x00", "\x7f", "\x85", "\x9b", "\u202e",
                                                "\u2066", "\n", "\t", "\r", "\ufeff", "é", "漢", "😀"]), max_size=80)
STRINGS = st.one_of(st.text(max_size=200), MARKUPISH, st.sampled_from(HOSTILE + TABLE_NAMES + KEYS))


def _terminal_output(renderable, width: int = 300) -> str:
    """What Rich would send to a terminal for ``renderable`` (no colour codes, so only the text)."""
    out = StringIO()
    Console(file=out, width=width, color_system=None, force_terminal=False, legacy_windows=False).print(
        renderable, end="")
    return out.getvalue()


@settings(max_examples=300, deadline=None)
@given(STRINGS, st.one_of(st.none(), st.integers(min_value=1, max_value=120)))
def test_literal_shows_any_string_as_escaped_text(s, width):
    t = tui_text.literal(s, width)
    assert t.plain == safe(s, width) and not has_unsafe(t.plain) and not t.spans
    assert width is None or len(t.plain) <= width
    out = _terminal_output(t, width=t.cell_len + 2)
    assert not has_unsafe(out.replace("\n", "")) and t.plain.rstrip() in out
    end = tui_text.literal(s, width, keep_end=True).plain
    assert not has_unsafe(end) and (width is None or len(end) <= width)
    assert end == visible(s) or end.startswith("…") and visible(s).endswith(end[1:])


@settings(max_examples=200, deadline=None)
@given(STRINGS, STRINGS)
def test_join_makes_data_literal_and_keeps_program_text(a, b):
    t = tui_text.join(Text("label: ", style="bold"), (a, "red"), " ", b, width=None)
    assert t.plain == "label: " + safe(a) + " " + safe(b)
    assert not has_unsafe(t.plain[len("label: "):])


@settings(max_examples=200, deadline=None)
@given(STRINGS)
def test_record_cells_and_detail_show_any_string_literally(s):
    # the list's key and value cells
    assert key_text(s, 10_000).plain == safe(s)
    assert key_text([s, 7], 10_000).plain == safe(f"{s} 7")
    assert _short(s, 10_000).plain == safe(s)
    assert _short(s).plain == safe(s, 120)
    for cell in (key_text(s), _short({"v": s}), _short([s, 1], 30)):
        assert not has_unsafe(cell.plain) and not cell.spans
        assert not has_unsafe(_terminal_output(cell).replace("\n", ""))
    # the detail: JSON text, valid, the same value, nothing raw but its own line breaks
    doc = json_visible(json.dumps({"key": s, "value": {"v": s}}, indent=2, ensure_ascii=False))
    assert json.loads(doc) == {"key": s, "value": {"v": s}}
    assert not has_unsafe(doc.replace("\n", ""))
    raw = s.encode("utf-8", "surrogatepass")
    assert not has_unsafe("".join("".join(hex_row(raw, off)) for off in range(0, len(raw), 16)))


# -- the TUI on a hostile database ------------------------------------------------------

def assert_screen_safe(app, *shown: str) -> str:
    """Nothing raw or clickable from the data on screen; each of ``shown`` visible literally."""
    strips = app.screen._compositor.render_strips()
    text = "\n".join(s.text for s in strips)
    assert not has_unsafe(text.replace("\n", "")), "a control character reached the screen"
    for strip in strips:
        for seg in strip:
            style = seg.style
            if style is None:
                continue
            assert not (style.link or "").startswith("https://evil"), "a link from the data"
            assert "app.quit" not in str(style.meta.get("@click", "")), "an action from the data"
    for s in shown:
        assert s in text, f"{s!r} not on screen"
    return text


def _widget_text(widget: Static) -> str:
    content = widget.content
    return content.plain if isinstance(content, Text) else _terminal_output(content, 200)


@pytest.fixture
def no_str_to_widgets(monkeypatch):
    """Fail when a widget is handed a str that markup would change (or with a control character).

    A str given to these is read as markup; on the hostile database every string from the data
    holds brackets or control characters, so any of them arriving as a str is caught.
    """
    got: list[str] = []

    def changed(s: str) -> bool:
        try:
            return Text.from_markup(s).plain != s or has_unsafe(s)
        except Exception:  # noqa: BLE001 - a MarkupError is the crash of issue 11
            return True

    def guard(cls, name, position, keyword):
        orig = getattr(cls, name)

        def wrapper(self, *args, **kw):
            value = args[position] if len(args) > position else kw.get(keyword)
            if isinstance(value, str) and changed(value):
                got.append(f"{cls.__name__}.{name}({value[:40]!r})")
            return orig(self, *args, **kw)

        monkeypatch.setattr(cls, name, wrapper)

    guard(Static, "update", 0, "content")
    guard(DataTable, "add_column", 0, "label")
    guard(DataTable, "update_cell", 2, "value")
    orig_add_row = DataTable.add_row

    def add_row(self, *cells, **kw):
        got.extend(f"DataTable.add_row({c[:40]!r})" for c in cells if isinstance(c, str) and changed(c))
        return orig_add_row(self, *cells, **kw)

    monkeypatch.setattr(DataTable, "add_row", add_row)
    return got


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_tui_browses_a_hostile_database_literally(hostile_db, size, no_str_to_widgets):
    before = sha(hostile_db)
    app = create_app(Service(Options(path=hostile_db)), clock_fn=lambda t: "12:00:00", interval=3600)
    names = [visible(n)[:39] for n in TABLE_NAMES]
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        ov = app.screen
        assert isinstance(ov, Overview) and ov.failures == []
        text = assert_screen_safe(app, *names)
        title, capacity = text.splitlines()[:2]
        # one line, path cut at its start
        assert visible(hostile_db)[-12:] in title and "refreshed 12:00:00 (every 3600 s)" in title
        assert capacity.startswith(" in use ")
        if size[0] >= 160:
            for t in ov.refresh_data.snapshot.tables[1:7]:
                assert visible(t.description)[:30] in text
        # the line under the list: the highlighted table's full name, oid and creator
        tables = ov.query_one("#tables-table", DataTable)
        for row, tb in enumerate(ov.refresh_data.snapshot.tables[1:7], start=1):
            tables.move_cursor(row=row)
            await settle(pilot)
            info = _widget_text(ov.query_one("#table-info", Static))
            assert info.startswith(visible(tb.name)[:20]) and visible(tb.creator)[:10] in info
            assert_screen_safe(app)
        tables.move_cursor(row=0)
        # every tab
        for tab in "2345":
            await pilot.press(tab)
            await settle(pilot)
            assert_screen_safe(app)
        await pilot.press("2")
        await settle(pilot)
        detail = _widget_text(ov.query_one("#warning-detail", Static))
        assert not has_unsafe(detail.replace("\n", "")) and "Table " in detail
        # a reader whose process name is hostile (/proc/PID/comm is whatever the process set)
        await pilot.press("p")  # paused: no refresh replaces the reader below
        await settle(pilot)
        ref = ov.refresh_data
        ref.snapshot.readers.append(Reader(pid=4242, thread="\x1b[2J" + UNBALANCED, txnid=1,
                                           name=ACTION + "\x1b]0;T\x07", alive=False))
        ov.query_one(ReadersTab).show(ref)
        await pilot.press("3")
        await settle(pilot)
        assert_screen_safe(app, visible(ACTION + "\x1b]0;T\x07")[:20])
        ref.snapshot.readers.pop()
        await pilot.press("p")
        # records of the first table: hostile keys and values
        await pilot.press("1")
        t = ov.query_one("#tables-table", DataTable)
        t.move_cursor(row=1)
        await pilot.press("enter")
        await settle(pilot)
        scr = app.screen
        assert isinstance(scr, TableScreen) and scr.table.slot == 1
        assert_screen_safe(app, visible(TABLE_NAMES[0]), "[/]-0", "[/i]-1", "[@click=app.quit]-2")
        assert len(scr.window.records) == len(KEYS)
        for i in range(len(KEYS)) if size[0] >= 160 else (0, 3):  # every record once, at one size
            scr.query_one("#records", DataTable).move_cursor(row=i)
            await settle(pilot)
            rec = scr.detail
            body = _widget_text(scr.query_one("#detail", Static))
            assert not has_unsafe(body.replace("\n", ""))
            assert json_visible(json.dumps(rec.value["name"], ensure_ascii=False))[:30] in body
            assert_screen_safe(app)
            await pilot.press("x")  # hex
            await settle(pilot)
            hv = scr.query_one("#hex", HexView)
            hexed = _widget_text(scr.query_one("#hex-head", Static)) + "\n".join(
                hv.render_line(y).text for y in range(hv.size.height))
            assert rec.raw_key.hex() in hexed and "0000  " in hexed and not has_unsafe(hexed.replace("\n", ""))
            assert_screen_safe(app)
            await pilot.press("x")
            await settle(pilot)
        # jump to a key prefix that is markup
        await pilot.press("j")
        await settle(pilot)
        assert_screen_safe(app, "Jump to a key")
        await pilot.press(*"[/i]")
        await pilot.press("enter")
        await settle(pilot)
        assert scr.window.records[0].key == "[/i]-1"
        assert_screen_safe(app, "[/i]-1")
        # a filter that is markup and an action
        await pilot.press("F")
        await settle(pilot)
        await pilot.press(*"[@click")
        await pilot.press("enter")
        await settle(pilot)
        assert [r.key for r in scr.window.records] == ["[@click=app.quit]-2"]
        assert_screen_safe(app, "filter '[@click'")
        # a jump that is not a position: the status quotes it
        await pilot.press("j")
        await settle(pilot)
        await pilot.press(*"#[/]")
        await pilot.press("enter")
        await settle(pilot)
        assert_screen_safe(app)
        await pilot.press("escape")
        await settle(pilot)
        # the index table: follow an entry with a hostile key to its record
        t.move_cursor(row=8)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.table.slot == 8
        assert_screen_safe(app, "idx [/]Evil[bold")
        await pilot.press("down")
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, TableScreen) and app.screen.table.slot == 7
        assert_screen_safe(app, "by uuid [/i]")
        # help and the command palette
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        assert_screen_safe(app, "This screen")  # the help: this screen's keys first
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"[/i]")
        await settle(pilot)
        assert_screen_safe(app)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, TableScreen)
        await pilot.press("q")
    assert app.return_code == 0
    assert sha(hostile_db) == before
    assert no_str_to_widgets == []


# -- text outputs ---------------------------------------------------------------------------

def _raw_controls(s: str) -> bool:
    return has_unsafe(s.replace("\n", ""))


def test_check_and_prometheus_carry_no_control_characters(hostile_db):
    svc = Service(Options(path=hostile_db))
    try:
        ref = svc.refresh(live=False)
    finally:
        svc.close()
    lines = check_lines(ref.snapshot, ref.warnings)
    assert lines and not any(has_unsafe(line) for line in lines)
    assert visible(hostile_db) in lines[0] and any(visible(TABLE_NAMES[3]) in line for line in lines)
    prom = exposition([result_of(hostile_db, ref)])
    assert not _raw_controls(prom)
    assert '\\\\x1b]0;TITLE\\\\x07osc' in prom  # the label value reads \x1b once parsed
    assert f'table="{ACTION}"' in prom and f'table="{LINK}"' in prom


def test_cli_outputs_on_a_hostile_database(hostile_db):
    r = run_cli(hostile_db, "--check")
    # exit 0: large-values is info for KiB values
    assert r.returncode == 0 and not _raw_controls(r.stdout) and "\\x1b]0;T\\x07" in r.stdout
    r = run_cli(hostile_db + "/missing", "--json")
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and not _raw_controls(r.stderr)
    assert "\\x1b]0;T\\x07\\u202e/missing" in r.stderr
    r = run_cli(hostile_db, "--json")
    doc = json.loads(r.stdout)
    assert not _raw_controls(r.stdout) and [t["name"] for t in doc["tables"][1:7]] == TABLE_NAMES
    r = run_cli(hostile_db, "--dump", UNBALANCED)
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 0 and not _raw_controls(r.stdout) and len(recs) == len(KEYS)
    assert {rec["value"]["name"] for rec in recs} == set(KEYS)
    r = run_cli(hostile_db, "--watch", "--count", "1", "--interval", "0.1")
    assert r.returncode == 0 and not _raw_controls(r.stdout)
    assert json.loads(r.stdout.splitlines()[0])["path"] == hostile_db
    r = run_cli(hostile_db, "--prometheus")
    assert r.returncode == 0 and not _raw_controls(r.stdout)


def test_the_real_tui_sends_nothing_from_the_data_to_the_terminal(hostile_db):
    """The app in a pseudo-terminal: no title-setting or other sequence from the data; q exits 0."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the TUI at 100x30
        os.environ.update(COLUMNS="100", LINES="30", TERM="xterm-256color")
        os.execv(sys.executable, [sys.executable, "-m", "zlmdb_inspect", hostile_db])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    out = b""

    def read_for(seconds: float, until: bytes | None = None) -> None:
        nonlocal out
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if until is not None and until in out:
                return
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    out += os.read(fd, 65536)
                except OSError:
                    return

    read_for(30, until=b"refreshed")
    assert b"refreshed" in out, out[-500:]
    read_for(1.0)
    os.write(fd, b"q")
    read_for(10)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    for raw in (b"\x1b]0;T\x07", b"\x1b]0;TITLE", b"\x1b[31mred", b"\xe2\x80\xae", b"\x00del"):
        assert raw not in out
    assert not re.search(rb"\x1b]8;[^\x1b]*evil", out)  # no hyperlink to the data's target
    assert b"\\x1b]0;T\\x07" in out  # the path, shown escaped



async def test_error_messages_quoting_data_are_shown_literally(hostile_db):
    """A refresh or page read that fails with a message quoting names or keys (as decoders do)."""
    from zlmdb_inspect.tui.messages import RefreshFailed, WindowFailed

    error = f"ValueError: bad key {KEYS[3]!s} in {UNBALANCED} {ACTION}"
    app = create_app(Service(Options(path=hostile_db)), clock_fn=lambda t: "12:00:00", interval=3600)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        ov = app.screen
        ov.post_message(RefreshFailed(error))
        await settle(pilot)
        assert_screen_safe(app, "refresh failed: " + visible(error)[:30])
        ov.query_one("#tables-table", DataTable).move_cursor(row=1)
        await pilot.press("enter")
        await settle(pilot)
        app.screen.post_message(WindowFailed(error))
        await settle(pilot)
        assert_screen_safe(app, "read failed: " + visible(error)[:30])
        await pilot.press("q")
    assert app.return_code == 0


def test_integers_too_long_to_print_are_shown_in_hex(tmp_path):
    """A CBOR value holding an integer of over 4,300 decimal digits (Python prints none) as a value, as a
    map key and in a set: --dump, --json and the time estimate read every record; the integer is shown
    as hexadecimal text (the dump stopped with an internal error at the first such record)."""
    import uuid

    import cbor2
    from zlmdb import lmdb

    path = str(tmp_path / "db")
    huge = 10 ** 5000
    env = lmdb.open(path, map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(b"\0\0\0\1", cbor2.dumps({"oid": str(uuid.UUID(int=1)), "name": "T", "description": None,
                                          "creator": "test", "slot": 1}))
        for i in range(40):
            v = {"created": 1767225600 + 3600 * i, "n": i}
            if i == 3:
                v["n"] = huge
            if i == 4:
                v["m"] = {huge: 1}
            if i == 5:
                v["s"] = cbor2.CBORTag(258, [huge, 1])
            txn.put(b"\0\1" + struct.pack(">Q", i), cbor2.dumps(v))
    env.close()
    before = sha(path)
    r = run_cli(path, "--dump", "T")
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 0 and len(recs) == 40, r.stderr
    assert recs[3]["value"]["n"] == hex(huge) and recs[4]["value"]["m"] == {hex(huge): 1}
    assert recs[0]["value"]["n"] == 0 and not any(rec["error"] for rec in recs)
    r = run_cli(path, "--json", "--no-state")
    doc = json.loads(r.stdout)
    assert r.returncode in (0, 1) and doc["tables"][1]["time"]["source"] == "value:created"
    assert sha(path) == before
