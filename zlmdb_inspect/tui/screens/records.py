"""A table's records: one page at a time, read by key, never the whole table.

The screen composes the record list (``widgets.recordlist``) and the detail pane
(``widgets.recorddetail``), holds the thread workers that read (windows, positions, full
decodings, exports, index targets) and the title and status lines that say what is shown.
"""

from __future__ import annotations

import json
import os
import re

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from zlmdb_inspect.core.fmt import plural
from zlmdb_inspect.core.kinds import Direction
from zlmdb_inspect.core.model import Table
from zlmdb_inspect.service import Query, Record, RecordWindow, Refresh, Service, parse_query
from zlmdb_inspect.tui import bindings, prefs
from zlmdb_inspect.tui.messages import (
    FullDecoded,
    PositionFound,
    StatusNote,
    TargetFound,
    WindowFailed,
    WindowLoaded,
)
from zlmdb_inspect.tui.screens.prompt import Prompt
from zlmdb_inspect.tui.screens.search import SearchScreen
from zlmdb_inspect.tui.screens.shape import ShapeScreen
from zlmdb_inspect.tui.text import join
from zlmdb_inspect.tui.widgets.changes import KEEP, ChangesPane, ChangesPolled
from zlmdb_inspect.tui.widgets.fields import FieldPicker, compact_iso, field_names
from zlmdb_inspect.tui.widgets.panels import short_name
from zlmdb_inspect.tui.widgets.recorddetail import RecordDetail
from zlmdb_inspect.tui.widgets.recordlist import RecordList
from zlmdb_inspect.tui.widgets.recordlist import fit_widths as _fit  # noqa: F401  (tests import it from here)

__all__ = ["PAGE_SIZE", "Prompt", "TableScreen"]

PAGE_SIZE = 100


class TableScreen(Screen):
    BINDINGS = list[BindingType](bindings.TABLE)

    def __init__(self, table: Table, start_key: bytes | None = None) -> None:
        super().__init__()
        self.table = table
        self.total = table.records  # kept current by each page load, `r` and the app's refresh
        self.filter: str | None = None
        self.last_search = ""
        self._start_key = start_key
        self._position: int | None = None  # index of the page's first record (key order) in the table
        self._newest: str | None = None  # the table's last key as a time, when keys are ordered by time
        self._window_note: str | None = None  # said about the window shown, until another is loaded
        self._status_line = ""  # the status line in full (fitted to the width on each resize)

    @property
    def service(self) -> Service:
        return self.app.service  # type: ignore[attr-defined]

    @property
    def record_list(self) -> RecordList:
        return self.query_one("#records", RecordList)

    @property
    def record_detail(self) -> RecordDetail:
        return self.query_one("#detail-side", RecordDetail)

    # what the list and the pane show, by the names the screen's callers (and tests) use
    @property
    def window(self) -> RecordWindow | None:
        return self.record_list.window

    @property
    def rows(self) -> list[Record]:
        return self.record_list.records

    @property
    def detail(self) -> Record | None:
        return self.record_detail.record

    def _current(self) -> Record | None:
        return self.record_list.current()

    def compose(self) -> ComposeResult:
        yield Static("", id="table-title")
        with Horizontal(id="table-body"):
            yield RecordList(id="records", cursor_type="row", zebra_stripes=True)
            yield RecordDetail(self.table, lambda: self.service.decoding(self.table), id="detail-side")
        yield Static("", id="table-status")
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < 110, "narrow")
        self._show_status()

    @on(RecordList.Resized)
    def _rerender(self) -> None:
        """Column widths follow the list's width (no read)."""
        if self.window is not None:
            self._render_rows(self.record_list.cursor_row)

    def on_mount(self) -> None:
        self.set_class(self.app.size.width < 110, "narrow")
        self.set_class(False, "hex")
        self.record_list.fields = list(self.service.settings.columns.get(self._prefs_key(), []))
        self._title()
        if self._start_key is not None:
            self.load(self._start_key, Direction.FROM)
        else:
            self.load(None, Direction.FIRST)
        self.record_list.focus()

    def _title(self) -> None:
        decoding = self.service.decoding(self.table)
        self.query_one("#table-title", Static).update(join(
            (f" {short_name(self.table)} ", "bold reverse"), f"  slot {self.table.slot} · ",
            f"{self.total:,} records", " · newest first" if self.record_list.reverse else "",
            f" up to {self._newest}" if self.record_list.reverse and self._newest else "",
            " · app decoder" if decoding.app_class is not None else " · built-in decoders",
            ("" if self.table.metadata else "  (no metadata record)", "yellow")))

    def _prefs_path(self) -> str:
        return self.service.settings.columns_path

    def _prefs_key(self) -> str:
        return self.table.name or f"slot {self.table.slot}"

    def _render_rows(self, cursor: int) -> None:
        """The list's rows, cursor at display row ``cursor``, and that record in the detail pane."""
        self.record_list.render_rows(cursor)
        rec = self.record_list.current()
        if rec is not None:
            self.record_detail.show(rec)

    # -- loading -------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="page")
    def load(self, anchor: bytes | None, direction: Direction, index: int | None = None) -> None:
        """A window by key; with ``index``, from the record at that position (found by page counts)."""
        svc = self.service
        try:
            if index is not None:
                anchor = svc.key_at(self.table, index)
                if anchor is None:
                    self.post_message(WindowFailed(f"no record at position {index + 1:,}"))
                    return
            window = svc.read_window(self.table, anchor, direction, PAGE_SIZE, self.filter)
        except Exception as e:  # noqa: BLE001
            self.post_message(WindowFailed(f"{type(e).__name__}: {e}"))
            return
        if not get_current_worker().is_cancelled:  # a newer request replaced this one
            self.post_message(WindowLoaded(window, direction))

    @work(thread=True, exclusive=True, group="page")
    def _jump(self, text: str) -> None:
        """A key as typed (``j``): where it lands, read off the UI thread (the key layout may need a
        sample), and the window from there; when no key equals it, the status line says so."""
        svc = self.service
        try:
            seek = svc.seek_key(self.table, text)
        except Exception as e:  # noqa: BLE001 - input that cannot be a key of this table: said why
            self.post_message(StatusNote(f"cannot read that key: {e}"))
            return
        try:
            window = svc.read_window(self.table, seek.key, Direction.FROM, PAGE_SIZE, self.filter)
        except Exception as e:  # noqa: BLE001
            self.post_message(WindowFailed(f"{type(e).__name__}: {e}"))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(WindowLoaded(window, Direction.FROM, seek.message))

    @on(RecordList.ReadWanted)
    def _read_wanted(self, msg: RecordList.ReadWanted) -> None:
        self.load(msg.anchor, msg.direction)

    @on(WindowLoaded)
    def _window_loaded(self, msg: WindowLoaded) -> None:
        page = msg.window
        if not page.records and self.window is not None and msg.direction in (Direction.AFTER, Direction.BEFORE):
            self._status("no more records that way")
            return
        self._window_note = msg.note
        if msg.note:
            self.app.messages.add(short_name(self.table), msg.note)  # type: ignore[attr-defined]
        pane = self.record_detail
        page.records[:] = [pane.decoded(r) for r in page.records]  # a large record decoded before keeps it
        self.record_list.show(page, msg.direction)
        if page.at_end and page.records and not self.filter:
            newest = key_time(page.records[-1].key)
            if newest != self._newest:
                self._newest = newest
                self._title()
        rec = self.record_list.current()
        if rec is not None:
            pane.show(rec)
        self._position = None
        self._status()
        if page.records:
            self._locate(page.records[0].raw_key)
        else:
            pane.show_nothing(msg.note or "No records" + (" match the filter." if self.filter else "."))

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
        if not self.is_mounted:  # pushed, not composed yet: its mount draws the title and reads the records
            return
        self._title()
        if self.window and self.window.records:
            self._locate(self.window.records[0].raw_key)
        else:
            self._status()

    @on(WindowFailed)
    def _window_failed(self, msg: WindowFailed) -> None:
        self._status(f"read failed: {msg.error}")

    @on(StatusNote)
    def _note(self, msg: StatusNote) -> None:
        self._status(msg.text)

    @on(RecordList.Said)
    def _said(self, msg: RecordList.Said) -> None:
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
                parts.append(f"{plural(len(p.records), 'record')} shown ({where})")
            if self.record_list.reverse:
                parts.append("newest first")
            if self.filter:
                parts.append(f"filter {self.filter!r}: {p.scanned:,} records scanned")
        for said in (self._window_note, extra):
            if said:
                parts.append(said)
        if extra:  # kept in full in the message log (`l`): the line may cut it
            self.app.messages.add(short_name(self.table), extra)  # type: ignore[attr-defined]
        self._status_line = "  ·  ".join(parts)
        self._show_status()

    def _show_status(self) -> None:
        line = self.query("#table-status")
        if line:
            status = line.first(Static)
            width = status.size.width or self.app.size.width
            status.update(self.app.status_line(self._status_line, width))  # type: ignore[attr-defined]

    # -- detail -------------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#records")
    def _highlight(self, event: DataTable.RowHighlighted) -> None:
        rec = self._current()
        if rec is not None:
            self.record_detail.show(rec)

    @on(RecordDetail.FullWanted)
    def _full_wanted(self, msg: RecordDetail.FullWanted) -> None:
        self._load_full(msg.raw_key)

    @work(thread=True, group="full")
    def _load_full(self, raw_key: bytes) -> None:
        """Decode all of a large value off the UI thread; the list showed a preview of it."""
        try:
            rec = self.service.read_record(self.table, raw_key, preview=None)
        except Exception as e:  # noqa: BLE001
            self.post_message(WindowFailed(f"{type(e).__name__}: {e}"))
            rec = None
        self.post_message(FullDecoded(raw_key, rec))

    @on(FullDecoded)
    def _record_loaded(self, msg: FullDecoded) -> None:
        if msg.record is not None:
            self.record_list.replace(msg.record)
        self.record_detail.full_decoded(msg.raw_key, msg.record)

    # -- actions -----------------------------------------------------------------------

    def action_back(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        self.app.pop_screen()

    def action_first(self) -> None:
        self.load(None, self.record_list.start())

    def action_last(self) -> None:
        self.load(None, self.record_list.end())

    def action_next_page(self) -> None:
        self.record_list.page(forward=True)

    def action_prev_page(self) -> None:
        self.record_list.page(forward=False)

    def action_reverse(self) -> None:
        """Newest first: the table's last key and backwards from it; again: key order from the first key.

        Not the page on screen turned round: "the latest events" is the question, wherever the list is.
        """
        lst = self.record_list
        lst.reverse = not lst.reverse
        self._title()
        self.load(None, lst.start())

    def action_reload(self) -> None:
        """Read the page again from its first record, and the table's count with it."""
        p = self.window
        if p is not None and p.records:
            self.load(p.records[0].raw_key[2:], Direction.FROM)
        else:
            self.load(None, self.record_list.start())

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
            self._jump(text)

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
            history: list[str] = self.app.search_history  # type: ignore[attr-defined]
            if text in history:
                history.remove(text)
            history.append(text)
            q = parse_query(text)
            svc, table = self.service, self.table
            typed_start = q.start  # from: as typed: where it lands is said (read in the scan's worker)
            start_note = (lambda: svc.seek_key(table, typed_start).message) if typed_start else None
            row = self.record_list.cursor_row
            what = q.describe()
            at_first = row == 0 and self.window is not None and self.window.at_start
            newest_first = self.record_list.reverse
            if q.start is None and self.rows and 0 <= row < len(self.rows) and not newest_first and not at_first:
                q = Query(q.kind, q.expr, "hex:" + self.rows[row].raw_key[2:].hex(), q.stop)
                what = Query(q.kind, q.expr, None, q.stop).describe() + ", from the selected record"
            self.app.push_screen(SearchScreen(f" Search {short_name(table)}: {what} ", lambda: svc.query(table, q),
                                              lambda raw_key: TableScreen(table, start_key=raw_key[2:]), q,
                                              start_note=start_note))

        history: list[str] = self.app.search_history  # type: ignore[attr-defined]
        self.app.push_screen(Prompt("Search the whole table: text, re:REGEX or jq:EXPR "
                                    "(first, optionally: from:KEY to:KEY); ↑ earlier searches",
                                    self.last_search or (history[-1] if history else ""), history), go)

    def action_follow_changes(self) -> None:
        """The "Changes" pane: the table's inserts, updates and deletes as they happen (again: closed)."""
        panes = self.query(ChangesPane)
        if panes:
            panes.remove()
            self._status("stopped following the table's changes")
            return
        follower = self.service.follow(self.table)
        self.mount(ChangesPane(lambda: follower.poll(newest=KEEP), self.app.interval,  # type: ignore[attr-defined]
                               txnid=lambda: follower.follower.last_txnid,
                               clock=self.app.clock, id="changes"),  # type: ignore[attr-defined]
                   before=self.query_one("#table-status"))
        self._status("following the table's changes (f again: stop)")

    def on_changes_polled(self, msg: ChangesPolled) -> None:
        """New records of a time-ordered table arrive at its end: a window there stays there."""
        if msg.changes and self.window is not None and self.window.at_end and not self.record_list.reverse:
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
            self.load(None, self.record_list.start())

        now = f" (now {self.filter!r})" if self.filter else ""
        self.app.push_screen(Prompt(f"Filter the records on their decoded text{now}; empty clears:"), go)

    def action_columns(self) -> None:
        """Pick the value fields shown as the list's columns (remembered on request)."""
        fields = field_names(r.value for r in self.rows)
        if not fields:
            self._status("these values have no named fields (they are not maps): the list shows Value")
            return

        def done(result: tuple[list[str], bool] | None) -> None:
            if result is None:
                return
            self.record_list.fields, remember = result
            if self.window is not None:
                self._render_rows(self.record_list.cursor_row)
            if remember:
                path = self._prefs_path()
                try:
                    prefs.save_columns(path, self._prefs_key(), self.record_list.fields)
                except (OSError, ValueError) as e:
                    self._status(f"columns not saved: {e}")
                    return
                remembered = self.service.settings.columns
                if self.record_list.fields:
                    remembered[self._prefs_key()] = list(self.record_list.fields)
                else:
                    remembered.pop(self._prefs_key(), None)
                self._status(f"columns saved for this table in {path}")

        self.app.push_screen(FieldPicker(self.table.label(), fields, self.record_list.fields, self._prefs_path()), done)

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
        on = not self.record_detail.show_hex
        self.set_class(on, "hex")
        self.record_detail.set_hex(on)

    def action_more(self) -> None:
        """Decode a very large value in full; then show more of its JSON each time."""
        rec = self.detail or self._current()
        if rec is not None:
            self.record_detail.more(rec)

    def action_maximize_pane(self) -> None:
        """The focused pane (list or detail) over the whole screen; again (or escape) restores it."""
        if self.maximized is not None:
            self.minimize()
            return
        focused = self.focused
        side = self.record_detail
        in_side = focused is not None and (focused is side or side in focused.ancestors)
        self.maximized = side if in_side else self.record_list  # a container: set directly

    def action_open_target(self) -> None:
        rec = self._current()
        last = self.app.last_refresh  # type: ignore[attr-defined]
        snap = last.snapshot if last else None
        if rec is None or snap is None or rec.points_to is None or rec.raw_value is None:
            self._status("this record does not point to another record")
            return
        self._open_target(rec.raw_value, [t for t in snap.tables if t.slot not in (0, self.table.slot)])

    @work(thread=True, exclusive=True, group="record")
    def _open_target(self, target: bytes, tables: list[Table]) -> None:
        try:
            table = self.service.find_target(target, tables)
        except Exception as e:  # noqa: BLE001
            self.post_message(WindowFailed(str(e)))
            return
        self.post_message(TargetFound(table, target))

    @on(TargetFound)
    def _target_found(self, msg: TargetFound) -> None:
        if msg.table is None:
            self._status("the record it points to is in no table (a dangling index entry)")
            return
        self.app.push_screen(TableScreen(msg.table, start_key=msg.key))


def key_time(key: object) -> str | None:
    """The time a key starts with (a timestamp key, or a composite key whose first part is one), as
    the list shows it; None when the key is not ordered by time first (cfxdb's Events: an OID)."""
    first = key[0] if isinstance(key, list | tuple) and key else key
    if isinstance(first, str) and _ISO.fullmatch(first):
        return compact_iso(first)
    return None


_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def _file_name(table: str, raw_key: bytes) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{table}-{raw_key[2:].hex()[:32]}.json")
