"""The records screen's detail pane: the selected record decoded (JSON, time hints, the table's
notes) or as hex, and the cache of large records decoded in full.

Large values arrive as previews; the pane asks for the whole value (``FullWanted``) and the
screen's worker reads it, so the UI never blocks on a large decode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from zlmdb_inspect.core.fmt import fmt_bytes
from zlmdb_inspect.core.model import Table
from zlmdb_inspect.core.textsafe import json_visible
from zlmdb_inspect.service import Record, TableDecoding
from zlmdb_inspect.tui.text import join, literal
from zlmdb_inspect.tui.widgets.fields import dumps_bounded
from zlmdb_inspect.tui.widgets.hexview import HexView

TEXT_PREVIEW = 4 * 1024  # characters of pretty JSON rendered before "m shows more" (~200 lines)
FULL_CACHE = 8  # fully decoded large records kept while browsing
AUTO_FULL_BYTES = 16 * 1024 * 1024  # larger values are decoded in full only when asked (m)


class RecordDetail(Vertical):
    """One record: its head (table, class, decoder, size, times, notes, error) over JSON or hex."""

    @dataclass
    class FullWanted(Message):
        """Decode all of this record's value (the list holds a preview of it)."""

        raw_key: bytes

    def __init__(self, table: Table, decoding: Callable[[], TableDecoding], **kw: Any) -> None:
        super().__init__(**kw)
        self.table = table
        self.decoding = decoding  # asked at each show: the codecs learn as records are read
        self.record: Record | None = None
        self.show_hex = False
        self._more: tuple[bytes, int] | None = None  # (record key, how many times m was pressed)
        self._full: dict[bytes, Record] = {}  # fully decoded large records, newest last
        self._pending: set[bytes] = set()  # large records being decoded in full
        self._shown: tuple | None = None  # what the pane shows now

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-pane"):
            yield Static("", id="detail")
        yield Static("", id="hex-head")
        yield HexView(id="hex")

    def decoded(self, rec: Record) -> Record:
        """``rec``, or its full decoding when one was read before (same size: the same value)."""
        full = self._full.get(rec.raw_key)
        return full if rec.truncated and full is not None and full.size == rec.size else rec

    def show_nothing(self, why: str) -> None:
        self.query_one("#detail", Static).update(Text(why))

    def set_hex(self, on: bool) -> None:
        """Hex or JSON (the screen's ``hex`` class lays the panes out, set before this)."""
        self.show_hex = on
        if self.record is not None:
            self.show(self.record)

    def more(self, rec: Record) -> None:
        """Decode a very large value in full; then show eight times more of its JSON each time
        (bounded steps, so the UI never freezes)."""
        if rec.truncated and rec.raw_key not in self._full:
            self._want_full(rec.raw_key)
            self.show(rec)
            return
        steps = self._more[1] + 1 if self._more and self._more[0] == rec.raw_key else 1
        self._more = (rec.raw_key, steps)
        self.show(rec)

    def full_decoded(self, raw_key: bytes, rec: Record | None) -> None:
        """The screen's worker read the whole value (None: gone, or the read failed)."""
        self._pending.discard(raw_key)
        if rec is None:
            return
        self._full[rec.raw_key] = rec
        while len(self._full) > FULL_CACHE:
            self._full.pop(next(iter(self._full)))
        if self.record is not None and self.record.raw_key == rec.raw_key:
            self.show(rec)

    def _want_full(self, raw_key: bytes) -> None:
        if raw_key not in self._pending:  # once: a thread worker cannot be stopped
            self._pending.add(raw_key)
            self.post_message(self.FullWanted(raw_key))

    def _head(self, rec: Record) -> Text:
        decoding = self.decoding()
        lines = [join(("table ", "bold"), self.table.label(), f"  slot {self.table.slot}")]
        if decoding.app_class is not None:
            lines.append(join(("class ", "bold"), decoding.app_class))
        lines.append(join(("decoder ", "bold"), rec.decoder, ("  size ", "bold"), f"{rec.size:,} bytes"))
        if rec.truncated and rec.raw_key in self._pending:
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

    def show(self, rec: Record) -> None:
        """Show ``rec`` (its full decoding once read; a large value's is asked for here)."""
        self.record = rec
        if rec.truncated:
            full = self._full.get(rec.raw_key)
            if full is not None:
                rec = self.record = full
            elif rec.size <= AUTO_FULL_BYTES:
                self._want_full(rec.raw_key)
        shown = (rec, self.show_hex, self._more, rec.raw_key in self._pending)
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
