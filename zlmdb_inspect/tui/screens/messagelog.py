"""The message log: the session's last status messages in full, for those a status line had to cut
(``not saved: …Publications-000000adf24994…`` at 80 columns), and the screen that shows them."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from zlmdb_inspect.tui.text import literal

KEPT = 100  # messages kept, oldest dropped first


@dataclass(frozen=True)
class Entry:
    at: float  # time.time() when said
    where: str  # the screen that said it ("Events", "overview")
    text: str


class MessageLog:
    """The last :data:`KEPT` messages, oldest first."""

    def __init__(self, kept: int = KEPT) -> None:
        self.entries: deque[Entry] = deque(maxlen=kept)

    def add(self, where: str, text: str) -> None:
        if text:
            self.entries.append(Entry(time.time(), where, text))


def fit_line(line: str, width: int, key: str) -> Text:
    """``line`` as one literal status line of ``width`` cells: whole when it fits, else its start
    and ``… (more: KEY)``, the key that opens the message log where it reads in full."""
    text = literal(line, None)
    if width <= 0 or text.cell_len <= width:
        return text
    more = f"… (more: {key})"
    text.truncate(max(0, width - cell_len(more)), overflow="crop")
    text.append(more, "bold")
    return text


class MessageLogScreen(ModalScreen[None]):
    """The message log, newest last, each message wrapped in full (scrolls; escape closes)."""

    BINDINGS = [("escape,q,l", "dismiss", "Close")]

    def __init__(self, log: MessageLog, clock: Callable[[float], str]) -> None:
        super().__init__()
        self.messages, self.clock = log, clock

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="messages-box"):
            yield Static(self.text(), id="messages-text")

    def on_mount(self) -> None:
        box = self.query_one("#messages-box", VerticalScroll)
        box.border_title = f"Messages (the last {self.messages.entries.maxlen}; escape closes)"
        box.scroll_end(animate=False)

    def text(self) -> Text:
        out = Text()
        if not self.messages.entries:
            out.append("No messages yet.", "italic")
        for i, e in enumerate(self.messages.entries):
            out.append("\n" if i else "")
            out.append(f"{self.clock(e.at)} ", "bold")
            out.append_text(literal(e.where, 40, "dim"))
            out.append(": ", "dim")
            out.append_text(literal(e.text, None))  # wraps: the whole message, as data
        return out

