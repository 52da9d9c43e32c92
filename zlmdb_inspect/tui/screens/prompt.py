"""A one-line question asked over any screen (jump to key, filter, search, file name)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from zlmdb_inspect.tui.text import literal


class Prompt(ModalScreen[str | None]):
    """The answer on enter; ``None`` on escape (so an empty answer can mean "clear")."""

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
