"""``h`` on a table's records: histograms of its shape, computed in a worker with progress."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from zlmdb_inspect.core.fmt import fmt_bytes
from zlmdb_inspect.service import Histogram, Shape
from zlmdb_inspect.tui import bindings
from zlmdb_inspect.tui.text import join, literal

BAR = 40



@dataclass
class ShapeProgress(Message):
    shape: Shape
    labels: dict[bytes, str]  # the largest records' keys as the table shows them


@dataclass
class ShapeFailed(Message):
    error: str


def histogram_text(h: Histogram, sizes: bool) -> list[Text]:
    """A heading, then one line per bucket: its range, a bar, the count."""
    head = join((h.name, "bold"), width=None)
    if h.total:
        head.append_text(literal(f"   min {h.min:,} · mean {h.mean or 0:,.1f} · max {h.max:,}", None))
    lines = [head]
    top = max((c for _, _, c in h.rows()), default=0)
    for lo, hi, c in h.rows():
        label = (f"{fmt_bytes(lo)}–{fmt_bytes(hi)}" if sizes else f"{lo:,}–{hi:,}") if hi != lo else \
            (fmt_bytes(lo) if sizes else f"{lo:,}")
        bar = "█" * (round(BAR * c / top) if top else 0)
        lines.append(join(f"  {label:>20} ", (bar.ljust(BAR), "cyan"), f" {c:,}", width=None))
    return lines


def shape_text(s: Shape, labels: dict[bytes, str]) -> Text:
    state = "done" if s.done else ("cancelled" if s.cancelled else "reading…")
    lines = [literal(f"{state}: {s.where}, {s.leaves:,} leaf pages, {s.elapsed:.1f}s", None), Text("")]
    for h, sizes in ((s.key_size, True), (s.value_size, True), (s.per_leaf, False)):
        lines += histogram_text(h, sizes) + [Text("")]
    lines.append(join(("Largest records", "bold"), f"   ({s.overflow_records:,} values on overflow pages)",
                      width=None))
    for size, key in s.largest:
        lines.append(join(f"  {fmt_bytes(size):>10}  ", literal(labels.get(key, "hex:" + key.hex()), 100),
                          width=None))
    return Text("\n").join(lines)


class ShapeScreen(Screen[None]):
    BINDINGS = list[BindingType](bindings.SHAPE)
    DEFAULT_CSS = """
    ShapeScreen #shape-title { height: 1; background: $panel; }
    """

    def __init__(self, title: str, compute: Callable[[Callable[[Shape], None], threading.Event], Shape],
                 label_key: Callable[[bytes], str]) -> None:
        super().__init__()
        self.title_text = title
        self.compute = compute
        self.label_key = label_key
        self.cancel = threading.Event()
        self.shape: Shape | None = None

    def compose(self) -> ComposeResult:
        yield Static(literal(self.title_text, None), id="shape-title")
        with VerticalScroll():
            yield Static(literal("reading the table's pages…", None), id="shape-body")
        yield Footer()

    def on_mount(self) -> None:
        self._run()

    @work(thread=True, exclusive=True, group="shape")
    def _run(self) -> None:
        try:
            labels: dict[bytes, str] = {}

            def progress(sh: Shape) -> None:
                for _, key in sh.largest:
                    if key not in labels:
                        labels[key] = self.label_key(key)
                self.post_message(ShapeProgress(copy.deepcopy(sh), dict(labels)))

            progress(self.compute(progress, self.cancel))
        except Exception as e:  # noqa: BLE001 - damage, the database gone
            self.post_message(ShapeFailed(f"{type(e).__name__}: {e}"))

    def on_shape_progress(self, msg: ShapeProgress) -> None:
        self.shape = msg.shape
        self.query_one("#shape-body", Static).update(shape_text(msg.shape, msg.labels))

    def on_shape_failed(self, msg: ShapeFailed) -> None:
        self.query_one("#shape-body", Static).update(join(("error: ", "bold red"), msg.error, width=None))

    def action_back(self) -> None:
        self.cancel.set()
        self.dismiss(None)
