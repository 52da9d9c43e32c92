"""Which fields of a table's values form the records list's columns, and how a cell reads.

Values are the application's ``marshal()`` dicts (or built-in decodings); the picker offers the
top-level fields seen on the current page. Integer fields that are plausible epoch times show as
ISO times (:func:`zlmdb_inspect.core.times.time_hint`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widgets import Checkbox, SelectionList, Static
from textual.widgets.option_list import OptionDoesNotExist
from textual.widgets.selection_list import Selection

from zlmdb_inspect.core.times import time_hint
from zlmdb_inspect.tui.text import join, literal

MAX_FIELDS = 60  # offered in the picker


def field_names(values: Iterable[Any]) -> list[str]:
    """Top-level field names of dict values, in order of first appearance."""
    seen: dict[str, None] = {}
    for v in values:
        if isinstance(v, dict):
            for k in v:
                seen.setdefault(str(k), None)
                if len(seen) >= MAX_FIELDS:
                    return list(seen)
    return list(seen)


def compact_iso(iso: str) -> str:
    """``…T22:00:00.000000000Z`` as ``…T22:00:00Z`` (trailing zeros of the fraction dropped) for
    the list; the detail keeps every digit."""
    if "." not in iso or not iso.endswith("Z"):
        return iso
    head, frac = iso[:-1].split(".", 1)
    frac = frac.rstrip("0")
    return f"{head}.{frac}Z" if frac else f"{head}Z"


def cell_text(v: Any, name: str = "") -> str:
    """One value as the list shows it: times as ISO, strings as they are, the rest as JSON."""
    if name:
        iso = time_hint(name, v)
        if iso is not None:
            return compact_iso(iso)
    if v is None:
        return ""
    return v if isinstance(v, str) else dumps_bounded(v, 400, None)


def with_times(value: Any, clip: int = 1000) -> Any:
    """A dict value with its epoch-time fields as ISO strings, for the one-line Value column.

    Its strings are cut to ``clip`` characters first: a 2 MiB ``hex:…`` field is not encoded as
    JSON only to show its first hundred characters.
    """
    if isinstance(value, str):
        return value[:clip]
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        iso = time_hint(str(k), v)
        out[k] = compact_iso(iso) if iso is not None else v[:clip] if isinstance(v, str) else v
    return out


def short_text(v: Any, width: int = 120, style: str = "") -> Text:
    """A decoded value as one literal line (JSON unless it is a string), cut with an ellipsis.

    Only the start of a large value is encoded: a 1 MiB record costs no more than a small one.
    """
    s = v[:width * 4] if isinstance(v, str) else dumps_bounded(v, width * 4, None)
    return literal(s, width, style)


def value_text(value: Any, width: int = 120, style: str = "") -> Text:
    """A record's value as every list shows it (records, matches, changes): epoch times as ISO."""
    return short_text(with_times(value), width, style)


def key_text(key: Any, width: int = 46, style: str = "") -> Text:
    """A key as every list shows it: composite parts side by side, not as JSON."""
    if isinstance(key, list):
        return short_text(" ".join(str(k) for k in key), width, style)
    return short_text(key if isinstance(key, str) else str(key), width, style)


def _repeats(keys: list[Any]) -> list[int]:
    """For each key, how many leading parts of a composite key equal the row above's (never the
    last part: it is what tells the rows apart)."""
    out: list[int] = []
    prev: Any = None
    for key in keys:
        n = 0
        if isinstance(key, list) and isinstance(prev, list):
            while n < min(len(key), len(prev)) - 1 and key[n] == prev[n]:
                n += 1
        out.append(n)
        prev = key
    return out


def key_width_wanted(keys: list[Any]) -> int:
    """Cells a window's key column needs to show each composite key whole with the parts repeated
    from the row above as ``…`` (:func:`key_cells`); 0 for a window of plain keys."""
    return max((2 * same + len(" ".join(str(p) for p in k[same:]))
                for k, same in zip(keys, _repeats(keys)) if isinstance(k, list) and len(k) > 1), default=0)


def key_cells(keys: list[Any], width: int = 46, style: str = "") -> list[Text]:
    """A window's keys in display order as the records list shows them.

    A composite key's leading parts that equal the row above's read ``…`` (dim): cfxdb's Events
    rows all start with the same 15-digit OID, and cut at 30 cells they all read ``OID 2024-03-01T00…``.
    Where a part shown in full repeats on the row below (the first row of a run), it gives way
    to the parts after it; parts that differ from row to row are cut at the end only. Plain keys
    as :func:`key_text`; the detail pane keeps the whole key.
    """
    above_all = _repeats(keys)
    out = []
    for i, key in enumerate(keys):
        if not isinstance(key, list) or len(key) < 2:
            out.append(key_text(key, width, style))
            continue
        parts = [str(p) for p in key]
        above = above_all[i]
        below = above_all[i + 1] if i + 1 < len(keys) else 0
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("… " * above, "dim")
        rest = " ".join(parts[above:])
        if text.cell_len + len(rest) > width and below > above:  # repeated parts give way
            tail = " ".join(parts[below:])
            room = width - text.cell_len - len(tail) - 1
            if room >= 2:
                text.append_text(literal(" ".join(parts[above:below]), room, style))
                text.append(" ")
            else:
                text.append("… ", "dim")
            rest = tail
        text.append_text(literal(rest, max(1, width - text.cell_len), style))
        out.append(text)
    return out


class Checklist(SelectionList[str]):
    """A SelectionList whose unchecked boxes are empty (``▐ ▌``): Textual draws an ``X`` in both and
    tells them apart by colour alone, which a monochrome terminal or a dim theme loses."""

    def render_line(self, y: int) -> Strip:
        line = super().render_line(y)
        try:
            selection = self.get_option_at_index(self.scroll_offset.y + y)
        except OptionDoesNotExist:
            return line
        segments = list(line)
        if selection.value in self._selected or len(segments) < 3 or segments[1].text != Checkbox.BUTTON_INNER:
            return line
        segments[1] = Segment(" ", segments[1].style, segments[1].control)
        return Strip(segments, line.cell_length)


class FieldPicker(ModalScreen[tuple[list[str], bool] | None]):
    """Pick the list's columns: space toggles, enter applies, w applies and remembers."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "apply(False)", "Apply", priority=True),
        Binding("w", "apply(True)", "Apply and remember", priority=True),
    ]

    def __init__(self, table: str, fields: list[str], chosen: list[str], remember_path: str) -> None:
        super().__init__()
        self.table, self.fields, self.chosen, self.remember_path = table, fields, chosen, remember_path

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Static(join(("Columns of ", "bold"), (self.table, "bold"), width=60), id="picker-title")
            self.order = [f for f in self.chosen if f in self.fields] + [f for f in self.fields if f not in self.chosen]
            yield Checklist(*(Selection(literal(f, 60), f, f in self.chosen) for f in self.order),
                                     id="picker-list")
            hint = join("space toggles · enter applies · w applies and remembers in ",
                        (self.remember_path, "italic"), " · escape cancels · none chosen: the Value column",
                        width=None)
            hint.no_wrap = False
            yield Static(hint, id="picker-hint")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_apply(self, remember: bool) -> None:
        chosen = set(self.query_one(SelectionList).selected)
        self.dismiss(([f for f in self.order if f in chosen], remember))

    def action_cancel(self) -> None:
        self.dismiss(None)


def dumps_bounded(doc, limit: int, indent: int | None = 2) -> str:
    """JSON of ``doc`` (pretty by default), cut a little past ``limit`` characters without building
    all of it."""
    out, size = [], 0
    enc = json.JSONEncoder(indent=indent, ensure_ascii=False, default=str,
                           separators=(", ", ": ") if indent is None else None)
    for chunk in enc.iterencode(doc):
        out.append(chunk)
        size += len(chunk)
        if size > limit:
            out.append("…")
            break
    return "".join(out)
