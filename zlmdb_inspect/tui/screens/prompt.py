"""A one-line question asked over any screen (jump to key, filter, search, file name)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from zlmdb_inspect.tui.text import literal


class Prompt(ModalScreen[str | None]):
    """The answer on enter; ``None`` on escape (so an empty answer can mean "clear").

    With ``history`` (oldest first), up and down step through earlier answers.
    """

    BINDINGS = [("escape", "cancel", "Cancel"), ("up", "history(-1)", "Earlier"), ("down", "history(1)", "Later")]

    def __init__(self, question: str, value: str = "", history: list[str] | None = None) -> None:
        super().__init__()
        self.question, self.value = question, value
        self.history = list(history or [])
        # past the newest (the value given), or on it when the value is the newest
        self._at = len(self.history) - (1 if self.history and self.history[-1] == value else 0)

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        at = max(0, min(len(self.history), self._at + step))
        if at == self._at:
            return
        self._at = at
        box = self.query_one("#prompt-input", Input)
        box.value = self.history[at] if at < len(self.history) else self.value
        box.cursor_position = len(box.value)

    def compose(self) -> ComposeResult:
        yield Static(literal(self.question, None), id="prompt-label")
        yield Input(value=self.value, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
