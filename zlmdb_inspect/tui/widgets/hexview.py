"""A hex dump of any size, 16 bytes a row, rendered lazily with Textual's Line API.

Only the rows on screen are built (``render_line``), through an LRU cache of strips, so a
100 MiB value scrolls as quickly as a 100-byte one and opening it costs nothing per byte.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

PER_ROW = 16
_PRINTABLE = bytes(range(32, 127))
_TO_ASCII = bytes(c if c in _PRINTABLE else ord(".") for c in range(256))


def hex_row(data: bytes, offset: int, digits: int = 8) -> tuple[str, str, str]:
    """(offset, hex, text) columns of the row at ``offset``: hex grouped in pairs of bytes."""
    chunk = data[offset:offset + PER_ROW]
    h = chunk.hex()
    groups = " ".join(h[i:i + 4] for i in range(0, len(h), 4))
    return f"{offset:0{digits}x}", f"{groups:<39}", chunk.translate(_TO_ASCII).decode("ascii")


class HexView(ScrollView, can_focus=True):
    """The bytes of one value; ``show(data)`` replaces them."""

    DEFAULT_CSS = """
    HexView {
        height: 1fr;
    }
    """
    OFFSET_STYLE = Style(dim=True)
    TEXT_STYLE = Style(color="cyan")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data = b""
        self._digits = 8
        self._cache: LRUCache[int, Strip] = LRUCache(maxsize=1024)

    @property
    def rows(self) -> int:
        return (len(self.data) + PER_ROW - 1) // PER_ROW

    @property
    def line_width(self) -> int:
        return self._digits + 2 + 39 + 2 + PER_ROW

    def show(self, data: bytes) -> None:
        self.data = bytes(data)
        self._digits = max(4, len(f"{max(len(data) - 1, 0):x}"))
        self._cache.clear()
        self.virtual_size = Size(self.line_width, self.rows)
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        if row >= self.rows:
            return Strip.blank(self.size.width, self.rich_style)
        strip = self._cache.get(row)
        if strip is None:
            base = self.rich_style
            off, hx, txt = hex_row(self.data, row * PER_ROW, self._digits)
            strip = Strip([Segment(off, base + self.OFFSET_STYLE), Segment("  " + hx + "  ", base),
                           Segment(txt, base + self.TEXT_STYLE)], self.line_width)
            self._cache[row] = strip
        return strip.crop_extend(scroll_x, scroll_x + self.size.width, self.rich_style)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    @property
    def cached_rows(self) -> int:
        """How many rows have been built (tests check that only visible ones are)."""
        return len(self._cache)
