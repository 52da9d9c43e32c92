"""The records screen's list: one window of a table's records, its columns, and where the next
window starts when the user pages or moves past either end.

The list never reads: it says what to read (``ReadWanted``) and the screen's worker reads it, so
LMDB work stays off the UI thread and in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message

from zlmdb_inspect.core.fmt import fmt_bytes
from zlmdb_inspect.core.kinds import Direction
from zlmdb_inspect.service import Record, RecordWindow
from zlmdb_inspect.tui.text import join, literal
from zlmdb_inspect.tui.widgets.datatable import MeasuredTable
from zlmdb_inspect.tui.widgets.fields import cell_text, key_cells, key_text, key_width_wanted, value_text
from zlmdb_inspect.tui.widgets.fields import short_text as _short

VALUE_WIDTH, FIELD_WIDTH = 120, 32  # widest Value / field column, in cells


class RecordList(MeasuredTable, inherit_bindings=False):
    """The visible window of records; moving past either end slides the window by key.

    Only the cursor keys are its own: ``pgup``/``pgdn``/``home``/``end`` would scroll within the
    window (a hundred records) while the screen's footer and help say they page the table; left to
    the screen, they do what those say.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("right", "cursor_right", "Cursor right", show=False),
        Binding("left", "cursor_left", "Cursor left", show=False),
    ]

    @dataclass
    class ReadWanted(Message):
        """Read a window from ``anchor`` (a key without its slot; None: the table's end) in ``direction``."""

        anchor: bytes | None
        direction: Direction

    @dataclass
    class Said(Message):
        """A line for the status bar (an end reached): the screen owns the status line."""

        text: str

    class Resized(Message):
        """The list's width changed (screen resized, hex view opened): columns are fitted again."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.window: RecordWindow | None = None
        self.records: list[Record] = []  # the window in display order (newest first when reversed)
        self.reverse = False
        self.fields: list[str] = []  # value fields shown as columns; none: the Value column
        self._land: tuple[Direction, bytes] | None = None  # where the cursor goes once a slid page arrives
        self._key_width = 46

    def on_resize(self, event: events.Resize) -> None:
        self.post_message(self.Resized())

    def action_cursor_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1:
            self._slide(Direction.AFTER)
            return
        super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.row_count and self.cursor_row <= 0:
            self._slide(Direction.BEFORE)
            return
        super().action_cursor_up()

    # -- where to read ---------------------------------------------------------------------

    def start(self) -> Direction:
        """Where the list starts: the first key, or the last when newest first."""
        return Direction.LAST if self.reverse else Direction.FIRST

    def end(self) -> Direction:
        return Direction.FIRST if self.reverse else Direction.LAST

    def page(self, forward: bool) -> None:
        """The next (or previous) page on screen: by key, the other way when newest first."""
        direction = Direction.AFTER if forward != self.reverse else Direction.BEFORE
        p = self.window
        if direction is Direction.AFTER and p and p.records and not p.at_end:
            self.post_message(self.ReadWanted(p.records[-1].raw_key[2:], Direction.AFTER))
        elif direction is Direction.BEFORE and p and p.records and not p.at_start:
            self.post_message(self.ReadWanted(p.records[0].raw_key[2:], Direction.BEFORE))
        else:
            self.post_message(self.Said("at the end of the table" if direction is Direction.AFTER
                                        else "at the start of the table"))

    def _slide(self, edge: Direction) -> None:
        """Keep browsing past the window: the next half page by key, the cursor moving on by one."""
        p = self.window
        if p is None or not p.records:
            return
        direction = edge.flipped() if self.reverse else edge
        if (direction is Direction.AFTER and p.at_end) or (direction is Direction.BEFORE and p.at_start):
            self.post_message(self.Said("at the end of the table" if edge is Direction.AFTER
                                        else "at the start of the table"))
            return
        mid = p.records[len(p.records) // 2].raw_key
        self._land = (direction, p.records[-1 if direction is Direction.AFTER else 0].raw_key)
        self.post_message(self.ReadWanted(mid[2:], direction))

    # -- showing ---------------------------------------------------------------------------

    def show(self, page: RecordWindow, direction: Direction) -> None:
        """A window that was read: the cursor where the user was heading (a slide: on by one)."""
        self.window = page
        row = 0
        land, self._land = self._land, None
        keys = [r.raw_key for r in page.records]
        if land is not None and keys:
            side, key = land
            if side is Direction.AFTER:
                row = next((i for i, k in enumerate(keys) if k > key), len(keys) - 1)
            else:
                row = max((i for i, k in enumerate(keys) if k < key), default=0)
        elif direction.backwards and keys:
            row = len(keys) - 1
        self.render_rows(len(keys) - 1 - row if self.reverse else row)

    def current(self) -> Record | None:
        """The record under the cursor."""
        if not self.records:
            return None
        return self.records[min(self.cursor_row, len(self.records) - 1)]

    def _cells(self, r: Record, key: Text) -> list[Text]:
        size = Text(fmt_bytes(r.size), justify="right")
        if self.fields:
            v = r.value if isinstance(r.value, dict) else {}
            cells = [literal(cell_text(v.get(f), f), FIELD_WIDTH) for f in self.fields]
            if r.error:
                cells[0] = join(("⚠ ", "bold red"), cells[0])
            return [key, *cells, size]
        val = value_text(r.value, VALUE_WIDTH)
        if r.error:
            val = join(("⚠ ", "bold red"), _short(r.error, 50, "red"), "  ", value_text(r.value, 80))
        return [key, val, size]

    def render_rows(self, cursor: int) -> None:
        """The window's rows in display order, cursor at display row ``cursor``.

        Column widths are set from the cells here. Auto-width columns are measured by the
        DataTable later, when it is next idle, and every frame drawn before that measurement
        shows them as wide as their headers (`Key  Value  Size`, seen once after `j` then `i`);
        with the widths given, no frame depends on when that measurement runs.
        """
        avail = self.size.width - self.styles.scrollbar_size_vertical  # the scrollbar may come with the rows
        narrow = self.screen.has_class("narrow")
        records = self.window.records if self.window is not None else []
        self.records = list(reversed(records)) if self.reverse else list(records)
        shown_keys = [r.key for r in self.records]
        half = max(16, avail // 2 or 46)
        # a composite key's last part (what tells the rows apart) shows whole, up to half the list
        key_width = self._key_width = min(max(30 if narrow else 46, key_width_wanted(shown_keys)), half)
        labels = ["Key", *(self.fields or ["Value"]), "Size"]
        rows = [self._cells(r, k) for r, k in zip(self.records, key_cells(shown_keys, key_width))]
        widths = [max([cell_len(lb), *(c[i].cell_len for c in rows)]) for i, lb in enumerate(labels)]
        if avail > 0:
            widths = fit_widths(widths, avail - 1, value_column=not self.fields)
        with self.app.batch_update():
            self.clear(columns=True)
            keys = ["key", *(f"f:{f}" for f in self.fields), "size"] if self.fields else ["key", "value", "size"]
            for label, key, w in zip(labels, keys, widths):
                self.add_column(literal(label, 40), key=key, width=w)
            for i, cells in enumerate(rows):
                self.add_row(*cells, key=str(i))
        if self.records:
            self.move_cursor(row=min(max(cursor, 0), len(self.records) - 1), animate=False)

    def replace(self, rec: Record) -> None:
        """A record decoded in full takes its preview's place (key and size cells do not change)."""
        for i, r in enumerate(self.records):
            if r.raw_key == rec.raw_key:
                self.records[i] = rec
                if self.window is not None:
                    self.window.records[self.window.records.index(r)] = rec
                cells = self._cells(rec, key_text(rec.key, self._key_width))
                for col, cell in list(zip(list(self.columns), cells))[1:-1]:
                    self.update_cell(str(i), col, cell)


def fit_widths(widths: list[int], avail: int, value_column: bool) -> list[int]:
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
