"""A table's records: one page at a time, read by key, never the whole table."""

from __future__ import annotations

import json
from dataclasses import dataclass

from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.worker import get_current_worker
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Static

from zlmdb_inspect.fmt import fmt_bytes
from zlmdb_inspect.model import Table
from zlmdb_inspect.records import PREVIEW_BYTES, Page, Record
from zlmdb_inspect.tui import bindings
from zlmdb_inspect.tui.messages import PageFailed, PageLoaded, PositionFound, RecordLoaded, TargetFound
from zlmdb_inspect.tui.text import join, literal
from zlmdb_inspect.textsafe import json_visible

PAGE_SIZE = 100
HEX_PREVIEW = 4096
TEXT_PREVIEW = 32 * 1024  # characters of pretty JSON rendered before "m shows all"


class Prompt(ModalScreen[str | None]):
    """A one-line question (jump to key, filter)."""

    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question, self.value = question, value

    def compose(self) -> ComposeResult:
        yield Static(literal(self.question, None), id="prompt-label")
        yield Input(value=self.value, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _short(v, width: int = 120, style: str = "") -> Text:
    """A decoded value as one literal line (JSON unless it is a string), cut with an ellipsis."""
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
    return literal(s, width, style)


def key_text(key, width: int = 46) -> Text:
    """A key as the list shows it: composite parts side by side, not as JSON."""
    if isinstance(key, list):
        return _short(" ".join(str(k) for k in key), width)
    return _short(key if isinstance(key, str) else str(key), width)


def hexdump(b: bytes, limit: int = HEX_PREVIEW, width: int = 80) -> str:
    """Offset, hex and printable columns, as many bytes a line as ``width`` allows (4 to 16)."""
    per = max(4, min(16, (width - 12) // 4 // 4 * 4))
    lines = []
    for off in range(0, min(len(b), limit), per):
        chunk = b[off:off + per]
        lines.append(f"{off:08x}  {chunk.hex(' '):<{3 * per - 1}}  " + "".join(chr(c) if 32 <= c < 127 else "." for c in chunk))
    if len(b) > limit:
        lines.append(f"… {len(b) - limit} more bytes")
    return "\n".join(lines)


class RecordList(DataTable):
    """The visible window of records; moving past either end slides the window by key."""

    @dataclass
    class Edge(Message):
        direction: str  # "after" or "before"

    def action_cursor_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1:
            self.post_message(self.Edge("after"))
            return
        super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.row_count and self.cursor_row <= 0:
            self.post_message(self.Edge("before"))
            return
        super().action_cursor_up()


class TableScreen(Screen):
    BINDINGS = bindings.TABLE

    def __init__(self, table: Table, start_key: bytes | None = None) -> None:
        super().__init__()
        self.table = table
        self.page: Page | None = None
        self.filter: str | None = None
        self.show_hex = False
        self.detail: Record | None = None
        self._start_key = start_key
        self._land: tuple[str, bytes] | None = None  # where the cursor goes once a slid page arrives
        self._more: tuple[bytes, int] | None = None  # (record key, how many times m was pressed)
        self._position: int | None = None  # index of the page's first record in the table

    def compose(self) -> ComposeResult:
        yield Static("", id="table-title")
        with Horizontal(id="table-body"):
            yield RecordList(id="records", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="detail-pane"):
                yield Static("", id="detail")
        yield Static("", id="table-status")
        yield Footer()

    def on_resize(self, event) -> None:
        narrow = event.size.width < 110
        if narrow != self.has_class("narrow"):
            self.set_class(narrow, "narrow")
            if self.page is not None:
                t = self.query_one("#records", DataTable)
                self._render_rows(t.cursor_row)

    def on_mount(self) -> None:
        self.set_class(self.app.size.width < 110, "narrow")
        t = self.query_one("#records", DataTable)
        t.add_column("Key", key="key")
        t.add_column("Value", key="value")
        t.add_column("Size", key="size")
        codec = self.app.service.catalog.codec(self.table)
        self.query_one("#table-title", Static).update(join(
            (f" {self.table.label()} ", "bold reverse"), f"  slot {self.table.slot}  ",
            f"{self.table.records:,} records  decoder: ", codec.name,
            ("" if self.table.metadata else "  (no metadata record)", "yellow")))
        if self._start_key is not None:
            self.load(self._start_key, "from")
        else:
            self.load(None, "first")
        t.focus()

    # -- loading -------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="page")
    def load(self, anchor: bytes | None, direction: str, index: int | None = None) -> None:
        """A page by key; with ``index``, from the record at that position (found by page counts)."""
        svc = self.app.service
        try:
            if index is not None:
                anchor = svc.catalog.key_at(svc.inspector, self.table, index)
                if anchor is None:
                    self.post_message(PageFailed(f"no record at position {index + 1:,}"))
                    return
            page = svc.catalog.read_page(svc.inspector, self.table, anchor, direction, PAGE_SIZE, self.filter)
        except Exception as e:  # noqa: BLE001
            self.post_message(PageFailed(f"{type(e).__name__}: {e}"))
            return
        if not get_current_worker().is_cancelled:  # a newer request replaced this one
            self.post_message(PageLoaded(page, direction))

    @on(PageLoaded)
    def _page_loaded(self, msg: PageLoaded) -> None:
        page = msg.page
        if not page.records and self.page is not None and msg.direction in ("after", "before"):
            self._status("no more records that way")
            return
        self.page = page
        row = 0
        land, self._land = self._land, None
        keys = [r.raw_key for r in page.records]
        if land is not None and keys:
            side, key = land
            if side == "after":
                row = next((i for i, k in enumerate(keys) if k > key), len(keys) - 1)
            else:
                row = max((i for i, k in enumerate(keys) if k < key), default=0)
        elif msg.direction in ("last", "before") and keys:
            row = len(keys) - 1
        self._render_rows(row)
        self._position = None
        self._status()
        if keys:
            self._locate(keys[0])
        else:
            self.query_one("#detail", Static).update(Text("No records" + (" match the filter." if self.filter else ".")))

    def _render_rows(self, cursor: int) -> None:
        """The page's rows (keys narrower on a narrow screen), cursor at ``cursor``, its detail shown."""
        t = self.query_one("#records", DataTable)
        width = 30 if self.has_class("narrow") else 46
        with self.app.batch_update():
            t.clear()
            for i, r in enumerate(self.page.records):
                val = _short(r.value)
                if r.error:
                    val = join(("⚠ ", "bold red"), _short(r.error, 50, "red"), "  ", _short(r.value, 80))
                t.add_row(key_text(r.key, width), val, Text(fmt_bytes(r.size)), key=str(i))
        if self.page.records:
            t.move_cursor(row=min(cursor, len(self.page.records) - 1), animate=False)
            self._show(self._current())

    @work(thread=True, exclusive=True, group="position")
    def _locate(self, raw_key: bytes) -> None:
        svc = self.app.service
        try:
            index = svc.catalog.position(svc.inspector, self.table, raw_key)
        except Exception:  # noqa: BLE001 - the position is a nicety; the page is what matters
            index = None
        if not get_current_worker().is_cancelled:
            self.post_message(PositionFound(raw_key, index))

    @on(PositionFound)
    def _position_found(self, msg: PositionFound) -> None:
        if self.page and self.page.records and self.page.records[0].raw_key == msg.key:
            self._position = msg.index
            self._status()

    @on(PageFailed)
    def _page_failed(self, msg: PageFailed) -> None:
        self._status(f"read failed: {msg.error}")

    def _status(self, extra: str = "") -> None:
        p = self.page
        parts = []
        if p is not None:
            if self._position is not None and p.records and not self.filter:
                parts.append(f"records {self._position + 1:,}–{self._position + len(p.records):,} "
                             f"of {self.table.records:,}")
            else:
                where = ("whole table" if p.at_start and p.at_end else "first page" if p.at_start
                         else "last page" if p.at_end else "middle")
                parts.append(f"{len(p.records)} records shown ({where})")
            if self.filter:
                parts.append(f"filter {self.filter!r}: {p.scanned:,} records scanned")
        if extra:
            parts.append(extra)
        self.query_one("#table-status", Static).update(literal("  ·  ".join(parts), None))

    # -- detail -------------------------------------------------------------------------

    def _current(self) -> Record | None:
        if not self.page or not self.page.records:
            return None
        t = self.query_one("#records", DataTable)
        return self.page.records[min(t.cursor_row, len(self.page.records) - 1)]

    @on(DataTable.RowHighlighted, "#records")
    def _highlight(self, event: DataTable.RowHighlighted) -> None:
        rec = self._current()
        if rec is not None:
            self._show(rec)

    def _show(self, rec: Record) -> None:
        self.detail = rec
        d = self.query_one("#detail", Static)
        head = join(("decoder ", "bold"), literal(rec.decoder), ("  size ", "bold"), f"{rec.size:,} bytes")
        if rec.truncated:
            head.append(f"  (first {len(rec.raw_value or b''):,} bytes; m loads more)", style="yellow")
        if rec.error:
            head.append("\nerror: ", style="bold red")
            head.append_text(literal(rec.error, 2000, "red"))
        head.no_wrap = False  # escaped text may wrap in the detail pane
        if self.show_hex:
            body = hexdump(rec.raw_value or b"", width=self.query_one("#detail-pane").size.width - 2)
            d.update(Text.assemble(head, "\n\nkey  ", rec.raw_key.hex(), "\n\n", body))
            return
        doc = {"key": rec.key, "value": rec.value}
        if rec.error and rec.fallback is not None:
            doc["fallback"] = rec.fallback
        text = json_visible(json.dumps(doc, indent=2, ensure_ascii=False, default=str))
        limit = TEXT_PREVIEW * 8 ** self._more[1] if self._more and self._more[0] == rec.raw_key else TEXT_PREVIEW
        if len(text) > limit:
            head.append(f"\n{len(text):,} characters; showing the first {limit:,} (m shows more)", style="yellow")
            text = text[:limit] + "\n…"
        from rich.console import Group

        d.update(Group(head, Text(""), Syntax(text, "json", word_wrap=True, theme="ansi_dark")))

    @on(RecordList.Edge)
    def _slide(self, msg: RecordList.Edge) -> None:
        """Keep browsing past the window: load the next half page by key, cursor moving on by one."""
        p = self.page
        if p is None or not p.records:
            return
        if (msg.direction == "after" and p.at_end) or (msg.direction == "before" and p.at_start):
            self._status("at the end of the table" if msg.direction == "after" else "at the start of the table")
            return
        mid = p.records[len(p.records) // 2].raw_key
        self._land = (msg.direction, p.records[-1 if msg.direction == "after" else 0].raw_key)
        self.load(mid[2:], msg.direction)

    # -- actions -----------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_first(self) -> None:
        self.load(None, "first")

    def action_last(self) -> None:
        self.load(None, "last")

    def action_next_page(self) -> None:
        if self.page and self.page.records and not self.page.at_end:
            self.load(self.page.records[-1].raw_key[2:], "after")
        else:
            self._status("at the end of the table")

    def action_prev_page(self) -> None:
        if self.page and self.page.records and not self.page.at_start:
            self.load(self.page.records[0].raw_key[2:], "before")
        else:
            self._status("at the start of the table")

    def action_jump(self) -> None:
        def go(text: str | None) -> None:
            if not text:
                return
            text = text.strip()
            if text.startswith("#") or text.endswith("%"):
                try:
                    n = float(text.strip("#%").replace(",", ""))
                except ValueError:
                    self._status(f"not a position: {text!r}")
                    return
                index = int(n) - 1 if text.startswith("#") else int(self.table.records * n / 100)
                self.load(None, "from", index=min(max(index, 0), max(self.table.records - 1, 0)))
                return
            try:
                key = self.app.service.catalog.parse_key(self.table, text)
            except Exception as e:  # noqa: BLE001
                self._status(f"cannot read that key: {e}")
                return
            self.load(key, "from")

        self.app.push_screen(Prompt("Jump to a key or key prefix (UUID, number, date, text, hex:…), "
                                    "a record number (#1000) or a position (50%):"), go)

    def action_filter(self) -> None:
        def go(text: str | None) -> None:
            if text is None:
                return
            self.filter = text or None
            self.load(None, "first")

        self.app.push_screen(Prompt("Filter on the decoded text (empty clears):", self.filter or ""), go)

    def action_copy(self) -> None:
        rec = self._current()
        if rec is None:
            return
        self.app.copy_to_clipboard(json.dumps(rec.to_json(), ensure_ascii=False, default=str))
        self._status("record copied as JSON")

    def action_toggle_hex(self) -> None:
        self.show_hex = not self.show_hex
        if self.detail is not None:
            self._show(self.detail)

    def action_more(self) -> None:
        """Show eight times more of the record: bounded steps, so a huge value never freezes the UI."""
        rec = self._current() if self.detail is None else self.detail
        if rec is None:
            return
        steps = self._more[1] + 1 if self._more and self._more[0] == rec.raw_key else 1
        self._more = (rec.raw_key, steps)
        if rec.truncated:
            self._load_more(rec.raw_key, PREVIEW_BYTES * 8 ** steps)
        else:
            self._show(rec)

    @work(thread=True, exclusive=True, group="record")
    def _load_more(self, raw_key: bytes, preview: int) -> None:
        svc = self.app.service
        try:
            rec = svc.catalog.read_record(svc.inspector, self.table, raw_key, preview=preview)
        except Exception as e:  # noqa: BLE001
            self.post_message(PageFailed(str(e)))
            return
        self.post_message(RecordLoaded(rec, rec is not None and not rec.truncated))

    @on(RecordLoaded)
    def _record_loaded(self, msg: RecordLoaded) -> None:
        if msg.record is not None:
            self._show(msg.record)

    def action_follow(self) -> None:
        rec = self._current()
        snap = self.app.last_refresh.snapshot if self.app.last_refresh else None
        if rec is None or snap is None or rec.points_to is None or rec.raw_value is None:
            self._status("this record does not point to another record")
            return
        self._follow(rec.raw_value, [t for t in snap.tables if t.slot not in (0, self.table.slot)])

    @work(thread=True, exclusive=True, group="record")
    def _follow(self, target: bytes, tables: list[Table]) -> None:
        svc = self.app.service
        try:
            table = svc.catalog.find_target(svc.inspector, target, tables)
        except Exception as e:  # noqa: BLE001
            self.post_message(PageFailed(str(e)))
            return
        self.post_message(TargetFound(table, target))

    @on(TargetFound)
    def _open_target(self, msg: TargetFound) -> None:
        if msg.table is None:
            self._status("the record it points to is in no table (a dangling index entry)")
            return
        self.app.push_screen(TableScreen(msg.table, start_key=msg.key))
