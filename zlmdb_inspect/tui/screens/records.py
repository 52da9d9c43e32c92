"""A table's records: one page at a time, read by key, never the whole table."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import get_current_worker

from zlmdb_inspect.core.fmt import fmt_bytes
from zlmdb_inspect.core.kinds import Direction
from zlmdb_inspect.core.model import Table
from zlmdb_inspect.core.textsafe import json_visible
from zlmdb_inspect.service import Query, Record, RecordWindow, Refresh, Service, parse_query
from zlmdb_inspect.tui import bindings, prefs
from zlmdb_inspect.tui.messages import PageFailed, PositionFound, TargetFound, WindowLoaded
from zlmdb_inspect.tui.screens.search import SearchScreen
from zlmdb_inspect.tui.screens.shape import ShapeScreen
from zlmdb_inspect.tui.text import join, literal
from zlmdb_inspect.tui.widgets.changes import ChangesPane, ChangesPolled
from zlmdb_inspect.tui.widgets.datatable import MeasuredTable
from zlmdb_inspect.tui.widgets.fields import FieldPicker, cell_text, dumps_bounded, field_names, key_text, value_text
from zlmdb_inspect.tui.widgets.fields import short_text as _short
from zlmdb_inspect.tui.widgets.hexview import HexView
from zlmdb_inspect.tui.widgets.panels import short_name

PAGE_SIZE = 100
TEXT_PREVIEW = 4 * 1024  # characters of pretty JSON rendered before "m shows more" (~200 lines)
FULL_CACHE = 8  # fully decoded large records kept while browsing
AUTO_FULL_BYTES = 16 * 1024 * 1024  # larger values are decoded in full only when asked (m)
VALUE_WIDTH, FIELD_WIDTH = 120, 32  # widest Value / field column, in cells


class Prompt(ModalScreen[str | None]):
    """A one-line question (jump to key, filter, file name)."""

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


class RecordList(MeasuredTable):
    """The visible window of records; moving past either end slides the window by key."""

    @dataclass
    class Edge(Message):
        direction: Direction  # AFTER or BEFORE: past the last or the first row on screen

    class Resized(Message):
        """The list's width changed (screen resized, hex view opened): columns are fitted again."""

    def on_resize(self, event) -> None:
        self.post_message(self.Resized())

    def action_cursor_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1:
            self.post_message(self.Edge(Direction.AFTER))
            return
        super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.row_count and self.cursor_row <= 0:
            self.post_message(self.Edge(Direction.BEFORE))
            return
        super().action_cursor_up()


@dataclass
class StatusNote(Message):
    text: str


@dataclass
class FullDecoded(Message):
    raw_key: bytes
    record: Record | None  # None: gone, or the read failed (said on the status line)


class TableScreen(Screen):
    BINDINGS = list[BindingType](bindings.TABLE)

    def __init__(self, table: Table, start_key: bytes | None = None) -> None:
        super().__init__()
        self.table = table
        self.total = table.records  # kept current by each page load, `r` and the app's refresh
        self.window: RecordWindow | None = None
        self.rows: list[Record] = []  # the window in display order (newest first when reversed)
        self.reverse = False
        self.columns: list[str] = []  # value fields shown as columns; none: the Value column
        self.filter: str | None = None
        self.last_search = ""
        self.show_hex = False
        self.detail: Record | None = None
        self._start_key = start_key
        self._land: tuple[Direction, bytes] | None = None  # where the cursor goes once a slid page arrives
        self._more: tuple[bytes, int] | None = None  # (record key, how many times m was pressed)
        self._position: int | None = None  # index of the page's first record (key order) in the table
        self._full: dict[bytes, Record] = {}  # fully decoded large records, newest last
        self._key_width = 46
        self._pending_full: set[bytes] = set()  # large records being decoded in full
        self._shown: tuple | None = None  # what the detail shows now

    @property
    def service(self) -> Service:
        return self.app.service  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        yield Static("", id="table-title")
        with Horizontal(id="table-body"):
            yield RecordList(id="records", cursor_type="row", zebra_stripes=True)
            with Vertical(id="detail-side"):
                with VerticalScroll(id="detail-pane"):
                    yield Static("", id="detail")
                yield Static("", id="hex-head")
                yield HexView(id="hex")
        yield Static("", id="table-status")
        yield Footer()

    def on_resize(self, event) -> None:
        self.set_class(event.size.width < 110, "narrow")

    @on(RecordList.Resized)
    def _rerender(self) -> None:
        """Column widths follow the list's width (no read)."""
        if self.window is not None:
            self._render_rows(self.query_one("#records", DataTable).cursor_row)

    def on_mount(self) -> None:
        self.set_class(self.app.size.width < 110, "narrow")
        self.set_class(False, "hex")
        self.columns = list(self.service.settings.columns.get(self._prefs_key(), []))
        self._title()
        if self._start_key is not None:
            self.load(self._start_key, Direction.FROM)
        else:
            self.load(None, Direction.FIRST)
        self.query_one("#records", DataTable).focus()

    def _title(self) -> None:
        decoding = self.service.decoding(self.table)
        self.query_one("#table-title", Static).update(join(
            (f" {short_name(self.table)} ", "bold reverse"), f"  slot {self.table.slot} · ",
            f"{self.total:,} records", " · newest first" if self.reverse else "",
            " · app decoder" if decoding.app_class is not None else " · built-in decoders",
            ("" if self.table.metadata else "  (no metadata record)", "yellow")))

    def _prefs_path(self) -> str:
        return self.service.settings.columns_path

    def _prefs_key(self) -> str:
        return self.table.name or f"slot {self.table.slot}"

    # -- loading -------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="page")
    def load(self, anchor: bytes | None, direction: Direction, index: int | None = None) -> None:
        """A window by key; with ``index``, from the record at that position (found by page counts)."""
        svc = self.service
        try:
            if index is not None:
                anchor = svc.key_at(self.table, index)
                if anchor is None:
                    self.post_message(PageFailed(f"no record at position {index + 1:,}"))
                    return
            window = svc.read_window(self.table, anchor, direction, PAGE_SIZE, self.filter)
        except Exception as e:  # noqa: BLE001
            self.post_message(PageFailed(f"{type(e).__name__}: {e}"))
            return
        if not get_current_worker().is_cancelled:  # a newer request replaced this one
            self.post_message(WindowLoaded(window, direction))

    @on(WindowLoaded)
    def _window_loaded(self, msg: WindowLoaded) -> None:
        page = msg.window
        if not page.records and self.window is not None and msg.direction in (Direction.AFTER, Direction.BEFORE):
            self._status("no more records that way")
            return
        self.window = page
        for i, r in enumerate(page.records):  # a large record decoded before keeps its decoding
            full = self._full.get(r.raw_key)
            if r.truncated and full is not None and full.size == r.size:
                page.records[i] = full
        row = 0
        land, self._land = self._land, None
        keys = [r.raw_key for r in page.records]
        if land is not None and keys:
            side, key = land
            if side is Direction.AFTER:
                row = next((i for i, k in enumerate(keys) if k > key), len(keys) - 1)
            else:
                row = max((i for i, k in enumerate(keys) if k < key), default=0)
        elif msg.direction.backwards and keys:
            row = len(keys) - 1
        self._render_rows(len(keys) - 1 - row if self.reverse else row)
        self._position = None
        self._status()
        if keys:
            self._locate(keys[0])
        else:
            none = "No records" + (" match the filter." if self.filter else ".")
            self.query_one("#detail", Static).update(Text(none))

    def _cells(self, r: Record, key_width: int) -> list[Text]:
        key = key_text(r.key, key_width)
        size = Text(fmt_bytes(r.size), justify="right")
        if self.columns:
            v = r.value if isinstance(r.value, dict) else {}
            cells = [literal(cell_text(v.get(f), f), FIELD_WIDTH) for f in self.columns]
            if r.error:
                cells[0] = join(("⚠ ", "bold red"), cells[0])
            return [key, *cells, size]
        val = value_text(r.value, VALUE_WIDTH)
        if r.error:
            val = join(("⚠ ", "bold red"), _short(r.error, 50, "red"), "  ", value_text(r.value, 80))
        return [key, val, size]

    def _render_rows(self, cursor: int) -> None:
        """The page's rows in display order, cursor at display row ``cursor``, its detail shown.

        Column widths are set from the cells here. Auto-width columns are measured by the
        DataTable later, when it is next idle, and every frame drawn before that measurement
        shows them as wide as their headers (`Key  Value  Size`, seen once after `j` then `i`);
        with the widths given, no frame depends on when that measurement runs.
        """
        t = self.query_one("#records", DataTable)
        avail = t.size.width - t.styles.scrollbar_size_vertical  # the scrollbar may come with the rows
        key_width = self._key_width = min(30 if self.has_class("narrow") else 46, max(16, avail // 2 or 46))
        records = self.window.records if self.window is not None else []
        self.rows = list(reversed(records)) if self.reverse else list(records)
        labels = ["Key", *(self.columns or ["Value"]), "Size"]
        rows = [self._cells(r, key_width) for r in self.rows]
        widths = [max([cell_len(lb), *(c[i].cell_len for c in rows)]) for i, lb in enumerate(labels)]
        if avail > 0:
            widths = _fit(widths, avail - 1, value_column=not self.columns)
        with self.app.batch_update():
            t.clear(columns=True)
            keys = ["key", *(f"f:{f}" for f in self.columns), "size"] if self.columns else ["key", "value", "size"]
            for label, key, w in zip(labels, keys, widths):
                t.add_column(literal(label, 40), key=key, width=w)
            for i, cells in enumerate(rows):
                t.add_row(*cells, key=str(i))
        if self.rows:
            t.move_cursor(row=min(max(cursor, 0), len(self.rows) - 1), animate=False)
            rec = self._current()
            if rec is not None:
                self._show(rec)

    @work(thread=True, exclusive=True, group="position")
    def _locate(self, raw_key: bytes) -> None:
        try:
            found = self.service.locate(self.table, raw_key)
        except Exception:  # noqa: BLE001 - the position is a nicety; the page is what matters
            found = None
        if not get_current_worker().is_cancelled:
            index, total = found if found is not None else (None, None)
            self.post_message(PositionFound(raw_key, index, total))

    @on(PositionFound)
    def _position_found(self, msg: PositionFound) -> None:
        if msg.total is not None and msg.total != self.total:
            self.total = msg.total
            self._title()
        if self.window and self.window.records and self.window.records[0].raw_key == msg.key:
            self._position = msg.index
            self._status()

    def snapshot_refreshed(self, ref: Refresh) -> None:
        """The app took a new snapshot: if this table's count changed, read position and total again."""
        t = ref.snapshot.table_by_slot(self.table.slot)
        if t is None or t.records == self.total:
            return
        self.total = t.records
        self._title()
        if self.window and self.window.records:
            self._locate(self.window.records[0].raw_key)
        else:
            self._status()

    @on(PageFailed)
    def _page_failed(self, msg: PageFailed) -> None:
        self._status(f"read failed: {msg.error}")

    @on(StatusNote)
    def _note(self, msg: StatusNote) -> None:
        self._status(msg.text)

    def _status(self, extra: str = "") -> None:
        p = self.window
        parts = []
        if p is not None:
            if self._position is not None and p.records and not self.filter:
                first = self._position + 1
                last = min(self._position + len(p.records), max(self.total, first))
                parts.append(f"records {first:,}–{last:,} of {max(self.total, last):,}")
            else:
                where = ("whole table" if p.at_start and p.at_end else "first page" if p.at_start
                         else "last page" if p.at_end else "middle")
                parts.append(f"{len(p.records)} records shown ({where})")
            if self.reverse:
                parts.append("newest first")
            if self.filter:
                parts.append(f"filter {self.filter!r}: {p.scanned:,} records scanned")
        if extra:
            parts.append(extra)
        self.query_one("#table-status", Static).update(literal("  ·  ".join(parts), None))

    # -- detail -------------------------------------------------------------------------

    def _current(self) -> Record | None:
        if not self.rows:
            return None
        t = self.query_one("#records", DataTable)
        return self.rows[min(t.cursor_row, len(self.rows) - 1)]

    @on(DataTable.RowHighlighted, "#records")
    def _highlight(self, event: DataTable.RowHighlighted) -> None:
        rec = self._current()
        if rec is not None:
            self._show(rec)

    def _head(self, rec: Record) -> Text:
        decoding = self.service.decoding(self.table)
        lines = [join(("table ", "bold"), self.table.label(), f"  slot {self.table.slot}")]
        if decoding.app_class is not None:
            lines.append(join(("class ", "bold"), decoding.app_class))
        lines.append(join(("decoder ", "bold"), rec.decoder, ("  size ", "bold"), f"{rec.size:,} bytes"))
        if rec.truncated and rec.raw_key in self._pending_full:
            lines[-1].append(f"  (decoding all {fmt_bytes(rec.size)}…)", style="yellow")
        elif rec.truncated:
            lines[-1].append(f"  (the first {fmt_bytes(len(rec.raw_value or b''))} shown; m decodes all "
                             f"{fmt_bytes(rec.size)})", style="yellow")
        for path, iso in list(rec.time_hints().items())[:8]:
            raw = rec.value.get(path) if isinstance(rec.value, dict) else None
            lines.append(join(("time ", "bold"), path or "value", " ", (iso, "cyan"),
                              f"  (raw {raw})" if isinstance(raw, int) else ""))
        for note in decoding.notes[1:]:  # the first says the codecs
            lines.append(join(("note ", "bold yellow"), (note, "yellow"), width=400))
        head = Text("\n").join(lines)
        if rec.error:
            head.append("\nerror: ", style="bold red")
            head.append_text(literal(rec.error, 2000, "red"))
        head.no_wrap = False  # escaped text may wrap in the detail pane
        return head

    def _show(self, rec: Record) -> None:
        self.detail = rec
        if rec.truncated:
            full = self._full.get(rec.raw_key)
            if full is not None:
                rec = self.detail = full
            elif rec.size <= AUTO_FULL_BYTES:
                self._decode_full(rec.raw_key)
        shown = (rec, self.show_hex, self._more, rec.raw_key in self._pending_full, self.total)
        if self._shown is not None and shown[0] is self._shown[0] and shown[1:] == self._shown[1:]:
            return  # the same detail again (a highlight after a render): not drawn twice
        self._shown = shown
        head = self._head(rec)
        if self.show_hex:
            key = join(("key ", "bold"), rec.raw_key.hex(), width=None)  # at most 1,022 hex digits
            hex_head = Text("\n").join([head, key])
            hex_head.no_wrap = False
            self.query_one("#hex-head", Static).update(hex_head)
            hv = self.query_one("#hex", HexView)
            if hv.data != (rec.raw_value or b""):
                hv.show(rec.raw_value or b"")
            return
        doc = {"key": rec.key, "value": rec.value}
        if rec.error and rec.fallback is not None:
            doc["fallback"] = rec.fallback
        limit = TEXT_PREVIEW * 8 ** self._more[1] if self._more and self._more[0] == rec.raw_key else TEXT_PREVIEW
        text = json_visible(dumps_bounded(doc, limit))
        if len(text) > limit:
            head.append(f"\nshowing the first {limit:,} characters (m shows more, w saves it all)", style="yellow")
            text = text[:limit] + "\n…"
        body = Syntax(text, "json", theme="ansi_dark").highlight(text)  # lexed once, not per frame
        body.rstrip()
        self.query_one("#detail", Static).update(Group(head, Text(""), body))

    def _decode_full(self, raw_key: bytes) -> None:
        if raw_key not in self._pending_full:  # once: a thread worker cannot be stopped
            self._pending_full.add(raw_key)
            self._load_full(raw_key)

    @work(thread=True, group="full")
    def _load_full(self, raw_key: bytes) -> None:
        """Decode all of a large value off the UI thread; the list showed a preview of it."""
        try:
            rec = self.service.read_record(self.table, raw_key, preview=None)
        except Exception as e:  # noqa: BLE001
            self.post_message(PageFailed(f"{type(e).__name__}: {e}"))
            rec = None
        self.post_message(FullDecoded(raw_key, rec))

    @on(FullDecoded)
    def _record_loaded(self, msg: FullDecoded) -> None:
        rec = msg.record
        self._pending_full.discard(msg.raw_key)
        if rec is None:
            return
        self._full[rec.raw_key] = rec
        while len(self._full) > FULL_CACHE:
            self._full.pop(next(iter(self._full)))
        for i, r in enumerate(self.rows):
            if r.raw_key == rec.raw_key:
                self.rows[i] = rec
                if self.window is not None:
                    self.window.records[self.window.records.index(r)] = rec
                t = self.query_one("#records", DataTable)
                cells = self._cells(rec, self._key_width)
                cols = list(t.columns)
                for col, cell in list(zip(cols, cells))[1:-1]:  # key and size do not change
                    t.update_cell(str(i), col, cell)
        if self.detail is not None and self.detail.raw_key == rec.raw_key:
            self._show(rec)

    @on(RecordList.Edge)
    def _slide(self, msg: RecordList.Edge) -> None:
        """Keep browsing past the window: load the next half page by key, cursor moving on by one."""
        p = self.window
        if p is None or not p.records:
            return
        direction = msg.direction.flipped() if self.reverse else msg.direction
        if (direction is Direction.AFTER and p.at_end) or (direction is Direction.BEFORE and p.at_start):
            self._status("at the end of the table" if msg.direction is Direction.AFTER
                         else "at the start of the table")
            return
        mid = p.records[len(p.records) // 2].raw_key
        self._land = (direction, p.records[-1 if direction is Direction.AFTER else 0].raw_key)
        self.load(mid[2:], direction)

    # -- actions -----------------------------------------------------------------------

    def action_back(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        self.app.pop_screen()

    def action_first(self) -> None:
        self.load(None, self._start())

    def action_last(self) -> None:
        self.load(None, Direction.FIRST if self.reverse else Direction.LAST)

    def _start(self) -> Direction:
        """Where the list starts: the first key, or the last when newest first."""
        return Direction.LAST if self.reverse else Direction.FIRST

    def _page_by_key(self, direction: Direction) -> None:
        p = self.window
        if direction is Direction.AFTER and p and p.records and not p.at_end:
            self.load(p.records[-1].raw_key[2:], Direction.AFTER)
        elif direction is Direction.BEFORE and p and p.records and not p.at_start:
            self.load(p.records[0].raw_key[2:], Direction.BEFORE)
        else:
            self._status("at the end of the table" if direction is Direction.AFTER else "at the start of the table")

    def action_next_page(self) -> None:
        self._page_by_key(Direction.BEFORE if self.reverse else Direction.AFTER)

    def action_prev_page(self) -> None:
        self._page_by_key(Direction.AFTER if self.reverse else Direction.BEFORE)

    def action_reverse(self) -> None:
        """Newest (last key) first, or back to key order; the cursor stays on its record."""
        self.reverse = not self.reverse
        self._title()
        if self.window is not None:
            t = self.query_one("#records", DataTable)
            self._render_rows(len(self.rows) - 1 - t.cursor_row)
            self._status()

    def action_reload(self) -> None:
        """Read the page again from its first record, and the table's count with it."""
        p = self.window
        if p is not None and p.records:
            self.load(p.records[0].raw_key[2:], Direction.FROM)
        else:
            self.load(None, self._start())

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
                index = int(n) - 1 if text.startswith("#") else int(self.total * n / 100)
                self.load(None, Direction.FROM, index=min(max(index, 0), max(self.total - 1, 0)))
                return
            try:
                key = self.service.parse_key(self.table, text)
            except Exception as e:  # noqa: BLE001
                self._status(f"cannot read that key: {e}")
                return
            self.load(key, Direction.FROM)

        self.app.push_screen(Prompt("Jump to a key or key prefix (UUID, number, date, text, hex:…), "
                                    "a record number (#1000) or a position (50%):"), go)

    # -- whole table: search, follow, shape --------------------------------------------

    def action_search(self) -> None:
        """A query over the whole table from the current record (unless ``from:`` says where),
        scanned in a worker on the search screen; the chosen match is shown here."""
        def go(text: str | None) -> None:
            if not text or not text.strip():
                return
            self.last_search = text
            q = parse_query(text)
            row = self.query_one("#records", DataTable).cursor_row
            what = q.describe()
            at_first = row == 0 and self.window is not None and self.window.at_start
            if q.start is None and self.rows and 0 <= row < len(self.rows) and not self.reverse and not at_first:
                q = Query(q.kind, q.expr, "hex:" + self.rows[row].raw_key[2:].hex(), q.stop)
                what = Query(q.kind, q.expr, None, q.stop).describe() + ", from the selected record"
            svc, table = self.service, self.table

            def found(raw_key: bytes | None) -> None:
                if raw_key is not None:
                    self.load(raw_key[2:], Direction.FROM)

            self.app.push_screen(SearchScreen(f" Search {short_name(table)}: {what} ",
                                              lambda: svc.query(table, q)), found)

        self.app.push_screen(Prompt("Search the whole table: text, re:REGEX or jq:EXPR "
                                    "(first, optionally: from:KEY to:KEY)", self.last_search), go)

    def action_follow_changes(self) -> None:
        """The "Changes" pane: the table's inserts, updates and deletes as they happen (again: closed)."""
        panes = self.query(ChangesPane)
        if panes:
            panes.remove()
            self._status("stopped following the table's changes")
            return
        follower = self.service.follow(self.table)
        self.mount(ChangesPane(follower.poll, self.app.interval, id="changes"),  # type: ignore[attr-defined]
                   before=self.query_one("#table-status"))
        self._status("following the table's changes (f again: stop)")

    def on_changes_polled(self, msg: ChangesPolled) -> None:
        """New records of a time-ordered table arrive at its end: a window there stays there."""
        if msg.changes and self.window is not None and self.window.at_end and not self.reverse:
            self.load(None, Direction.LAST)

    def action_shape(self) -> None:
        svc, table = self.service, self.table
        self.app.push_screen(ShapeScreen(
            f" Shape of {short_name(table)} ",
            lambda progress, cancel: svc.shape(table, progress, cancel),
            lambda key: svc.key_text(table, key)))

    def action_filter(self) -> None:
        def go(text: str | None) -> None:
            if text is None:
                return
            self.filter = text or None
            self.load(None, self._start())

        self.app.push_screen(Prompt("Filter on the decoded text (empty clears):", self.filter or ""), go)

    def action_columns(self) -> None:
        """Pick the value fields shown as the list's columns (remembered on request)."""
        fields = field_names(r.value for r in self.rows)
        if not fields:
            self._status("these values have no named fields (they are not maps): the list shows Value")
            return

        def done(result: tuple[list[str], bool] | None) -> None:
            if result is None:
                return
            self.columns, remember = result
            if self.window is not None:
                self._render_rows(self.query_one("#records", DataTable).cursor_row)
            if remember:
                path = self._prefs_path()
                try:
                    prefs.save_columns(path, self._prefs_key(), self.columns)
                except (OSError, ValueError) as e:
                    self._status(f"columns not saved: {e}")
                    return
                remembered = self.service.settings.columns
                if self.columns:
                    remembered[self._prefs_key()] = list(self.columns)
                else:
                    remembered.pop(self._prefs_key(), None)
                self._status(f"columns saved for this table in {path}")

        self.app.push_screen(FieldPicker(self.table.label(), fields, self.columns, self._prefs_path()), done)

    def action_copy(self) -> None:
        rec = self._current()
        if rec is None:
            return
        self._export(rec.raw_key, None)

    def action_save(self) -> None:
        rec = self._current()
        if rec is None:
            return
        default = os.path.join(os.getcwd(), _file_name(short_name(self.table), rec.raw_key))

        def go(path: str | None) -> None:
            if path:
                self._export(rec.raw_key, os.path.expanduser(path.strip()))

        self.app.push_screen(Prompt("Save the record as JSON to this file (an existing file is not "
                                    "overwritten):", default), go)

    @work(thread=True, exclusive=True, group="export")
    def _export(self, raw_key: bytes, path: str | None) -> None:
        """The whole record as JSON: to the terminal's clipboard (path None) or a new file."""
        svc = self.service
        try:
            rec = svc.read_record(self.table, raw_key, preview=None)
        except Exception as e:  # noqa: BLE001
            self.post_message(StatusNote(f"read failed: {type(e).__name__}: {e}"))
            return
        if rec is None:
            self.post_message(StatusNote("the record is gone (deleted since the page was read)"))
            return
        text = json.dumps(rec.to_json(), ensure_ascii=False, default=str, indent=None if path is None else 2)
        if path is None:
            self.app.call_from_thread(self.app.copy_to_clipboard, text)
            self.post_message(StatusNote(
                f"record ({len(text):,} characters of JSON) sent to the terminal's clipboard (OSC 52); "
                "terminals that ignore OSC 52 copy nothing: w saves it to a file"))
            return
        db_dir = os.path.realpath(svc.directory)
        if os.path.realpath(os.path.dirname(os.path.abspath(path))) == db_dir:
            self.post_message(StatusNote("not saved: the database's own directory is never written to"))
            return
        try:
            with open(path, "x", encoding="utf-8") as f:
                f.writelines((text, "\n"))
        except FileExistsError:
            self.post_message(StatusNote(f"not saved: {path} exists (it is never overwritten)"))
            return
        except OSError as e:
            self.post_message(StatusNote(f"not saved: {e.strerror or e}: {path}"))
            return
        self.post_message(StatusNote(f"record saved as JSON to {path} ({len(text) + 1:,} bytes)"))

    def action_toggle_hex(self) -> None:
        self.show_hex = not self.show_hex
        self.set_class(self.show_hex, "hex")
        if self.detail is not None:
            self._show(self.detail)

    def action_more(self) -> None:
        """Decode a very large value in full; then show eight times more of its JSON each time
        (bounded steps, so the UI never freezes)."""
        rec = self.detail or self._current()
        if rec is None:
            return
        if rec.truncated and rec.raw_key not in self._full:
            self._decode_full(rec.raw_key)
            self._show(rec)
            return
        steps = self._more[1] + 1 if self._more and self._more[0] == rec.raw_key else 1
        self._more = (rec.raw_key, steps)
        self._show(rec)

    def action_maximize_pane(self) -> None:
        """The focused pane (list or detail) over the whole screen; again (or escape) restores it."""
        if self.maximized is not None:
            self.minimize()
            return
        focused = self.focused
        side = self.query_one("#detail-side")
        in_side = focused is not None and (focused is side or side in focused.ancestors)
        self.maximized = side if in_side else self.query_one("#records")  # a container: set directly

    def action_follow(self) -> None:
        rec = self._current()
        last = self.app.last_refresh  # type: ignore[attr-defined]
        snap = last.snapshot if last else None
        if rec is None or snap is None or rec.points_to is None or rec.raw_value is None:
            self._status("this record does not point to another record")
            return
        self._follow(rec.raw_value, [t for t in snap.tables if t.slot not in (0, self.table.slot)])

    @work(thread=True, exclusive=True, group="record")
    def _follow(self, target: bytes, tables: list[Table]) -> None:
        try:
            table = self.service.find_target(target, tables)
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


def _fit(widths: list[int], avail: int, value_column: bool) -> list[int]:
    """Column widths (Key, fields or Value, Size) that fit ``avail`` cells, so Size stays in view.

    Value takes what the others leave; chosen fields share the room with the key, the widest
    giving way first (cells end in an ellipsis), none narrower than 8.
    """
    w = list(widths)
    excess = sum(x + 2 for x in w) - avail  # two cells of padding a column
    if excess <= 0:
        return w
    if value_column:
        w[1] = max(12, w[1] - excess)
        return w
    cut = min(excess, max(0, w[0] - 16))  # keys first, down to 16 cells
    w[0] -= cut
    excess -= cut
    while excess > 0:
        i = max(range(1, len(w) - 1), key=lambda j: w[j])
        if w[i] <= 8:
            break
        w[i] -= 1
        excess -= 1
    return w


def _file_name(table: str, raw_key: bytes) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{table}-{raw_key[2:].hex()[:32]}.json")
