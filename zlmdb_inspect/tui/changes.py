"""Follow mode's "Changes" pane: a table's inserts, updates and deletes as they happen.

A timer starts a thread worker every refresh interval; it polls the table's
:class:`zlmdb_inspect.follow.Follower` (one short read transaction) and posts the changes.
Newest first, at most ``KEEP`` rows; inserts and updates highlighted, deletes struck through,
page-range changes (beyond the exactly followed records) in italics.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from zlmdb_inspect.tui.datatable import MeasuredTable
from zlmdb_inspect.tui.text import join, literal

KEEP = 200
STYLES = {"insert": "bold green", "update": "bold yellow", "delete": "strike dim", "pages": "italic"}


@dataclass
class ChangesPolled(Message):
    changes: list[dict[str, Any]]
    at: float


@dataclass
class FollowFailed(Message):
    error: str


def _text(v: object, width: int) -> str:
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
    return s[:width * 4]


class ChangesPane(Vertical):
    """Polls ``poll()`` (changes as ``--dump --follow`` prints them) every ``interval`` seconds."""

    DEFAULT_CSS = """
    ChangesPane { height: 12; border-top: solid $accent; }
    ChangesPane #changes-title { height: 1; }
    ChangesPane DataTable { height: 1fr; }
    """

    def __init__(self, poll: Callable[[], list[dict[str, Any]]], interval: float, **kw: Any) -> None:
        super().__init__(**kw)
        self.poll = poll
        self.interval = interval
        self.items: list[dict[str, Any]] = []  # newest first, at most KEEP
        self.seen = 0  # changes reported since following started
        self._busy = False

    def compose(self) -> ComposeResult:
        yield Static(literal("Changes (following…)", None), id="changes-title")
        table: DataTable = MeasuredTable(id="changes-list", cursor_type="row")
        table.add_columns("Change", "Key", "Value", "Txn")
        yield table

    def on_mount(self) -> None:
        self._tick()
        self.set_interval(self.interval, self._tick)

    def _tick(self) -> None:
        if not self._busy:  # one poll at a time; a slow one is not queued up behind
            self._busy = True
            self._poll()

    @work(thread=True, exclusive=True, group="follow")
    def _poll(self) -> None:
        try:
            self.post_message(ChangesPolled(self.poll(), time.time()))
        except Exception as e:  # noqa: BLE001 - the database went away, damage
            self.post_message(FollowFailed(f"{type(e).__name__}: {e}"))

    def on_changes_polled(self, msg: ChangesPolled) -> None:
        self._busy = False
        if not msg.changes:
            return
        self.seen += len(msg.changes)
        # newest first: a poll's changes (in key order) go on top, the oldest fall off the end
        self.items = (list(reversed(msg.changes)) + self.items)[:KEEP]
        table = self.query_one("#changes-list", DataTable)
        table.clear()
        for i, ch in enumerate(self.items):
            kind = ch.get("change", "?")
            style = STYLES.get(kind, "")
            key = ch.get("key") if kind != "pages" else f"{ch.get('from')} … {ch.get('to')}"
            value = ch.get("value", "") if kind != "pages" else f"{ch.get('was')} → {ch.get('records')} records"
            table.add_row(literal(kind, 8, style), literal(_text(key, 40), 40, style),
                          literal(_text(value, 80), 80, style), literal(str(ch.get("txnid", "")), 10, style),
                          key=str(i))
        self.query_one("#changes-title", Static).update(
            join(("Changes", "bold"), f" · {self.seen:,} since following began, newest first", width=None))

    def on_follow_failed(self, msg: FollowFailed) -> None:
        self._busy = False
        self.query_one("#changes-title", Static).update(join(("Changes: ", "bold"), ("error: ", "bold red"),
                                                            msg.error, width=None))
