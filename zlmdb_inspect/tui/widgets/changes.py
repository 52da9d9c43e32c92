"""Follow mode's "Changes" pane: a table's inserts, updates and deletes as they happen.

A timer starts a thread worker every refresh interval; it polls the table's
:class:`zlmdb_inspect.tables.follow.Follower` (one short read transaction) and posts the changes.
Newest first, at most ``KEEP`` rows: a poll's changes go on top of the earlier ones (the order
they were seen); within one poll by the transaction that wrote them (the record's leaf's txnid on
1.0 files, where known), newest first, and by key, last first, among equal ones (time-ordered keys:
newest on top). Inserts and updates highlighted, deletes struck through, page-range changes
(beyond the exactly followed records) in italics. Keys and values render as the record list's.

The title says the pane is alive even when nothing changes: since which transaction (and when) it
watches, when it last checked and at which transaction. The "Page txn" column is the txnid of the
leaf page the record sits on (the last write to that page, shared by every record of a burst), not
the record's own commit, which LMDB does not keep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from zlmdb_inspect.tui.text import join, literal
from zlmdb_inspect.tui.widgets.datatable import MeasuredTable
from zlmdb_inspect.tui.widgets.fields import key_text, value_text
from zlmdb_inspect.tui.widgets.panels import clock

KEEP = 200
STYLES = {"insert": "bold green", "update": "bold yellow", "delete": "strike dim", "pages": "italic"}


@dataclass
class ChangesPolled(Message):
    changes: list[dict[str, Any]]
    at: float
    txnid: int | None = None  # the database's transaction the poll read


@dataclass
class FollowFailed(Message):
    error: str


ORDER = "newest first: by poll, then txnid, then key"


def newest_first(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One poll's changes (as ``JsonFollow.poll`` gives them, in key order) newest first: by txnid,
    then by key, both descending."""
    keyed = list(enumerate(changes))  # key order, as polled: its index stands for the key
    keyed.sort(key=lambda ic: (ic[1].get("txnid") or 0, ic[0]), reverse=True)
    return [c for _, c in keyed]


class ChangesPane(Vertical):
    """Polls ``poll()`` (changes as ``--dump --follow`` prints them) every ``interval`` seconds.

    Changes marked ``_undecoded`` (``JsonFollow.poll(newest=KEEP)``: older than the ``KEEP`` newest
    of their poll) are counted, not shown.
    """

    DEFAULT_CSS = """
    ChangesPane { height: 12; border-top: solid $accent; }
    ChangesPane #changes-title { height: 1; }
    ChangesPane DataTable { height: 1fr; }
    """

    def __init__(self, poll: Callable[[], list[dict[str, Any]]], interval: float,
                 txnid: Callable[[], int] | None = None, clock: Callable[[float], str] = clock, **kw: Any) -> None:
        """``txnid``: the transaction the last ``poll()`` read; ``clock``: times as the app shows them."""
        super().__init__(**kw)
        self.poll, self.txnid, self.clock = poll, txnid, clock
        self.interval = interval
        self.since: tuple[int | None, float] | None = None  # the first poll: (txnid, when)
        self.checked: tuple[int | None, float] | None = None  # the last poll
        self.items: list[dict[str, Any]] = []  # newest first, at most KEEP
        self.seen = 0  # changes reported since following started
        self._busy = False

    def compose(self) -> ComposeResult:
        yield Static(literal("Changes (reading the table's starting state…)", None), id="changes-title")
        table: DataTable = MeasuredTable(id="changes-list", cursor_type="row")
        table.add_columns("Change", "Seen", "Key", "Value", "Page txn")
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
            changes = self.poll()
            self.post_message(ChangesPolled(changes, time.time(), self.txnid() if self.txnid else None))
        except Exception as e:  # noqa: BLE001 - the database went away, damage
            self.post_message(FollowFailed(f"{type(e).__name__}: {e}"))

    def on_changes_polled(self, msg: ChangesPolled) -> None:
        self._busy = False
        first = self.since is None
        if self.since is None:  # the first poll takes the starting state: nothing to report
            self.since = (msg.txnid, msg.at)
        self.checked = (msg.txnid, msg.at)
        if msg.changes:
            self.seen += len(msg.changes)
            # newest first: a poll's changes go on top, the oldest fall off the end
            seen = self.clock(msg.at)
            shown = [c for c in newest_first(msg.changes) if not c.get("_undecoded")][:KEEP]
            self.items = ([{**c, "_seen": seen} for c in shown] + self.items)[:KEEP]
            self._rows()
        self._title(first)

    def _title(self, first: bool) -> None:
        assert self.since is not None and self.checked is not None
        (since_txn, since_at), (txn, at) = self.since, self.checked
        since = f"since txn {since_txn:,}" if since_txn is not None else "since"
        watching = f"{since} at {self.clock(since_at)}"
        if not first:
            watching += f", last checked {self.clock(at)}" + (f" (txn {txn:,})" if txn is not None else "")
        what = (f"{self.seen:,} changes, {ORDER}" if self.seen else "no changes")
        self.query_one("#changes-title", Static).update(
            join(("Changes", "bold"), f" · watching {watching} · {what}", width=None))

    def _rows(self) -> None:
        table = self.query_one("#changes-list", DataTable)
        table.clear()
        for i, ch in enumerate(self.items):
            kind = ch.get("change", "?")
            style = STYLES.get(kind, "")
            if kind == "pages":
                key = join(key_text(ch.get("from"), 19, style), (" … ", style), key_text(ch.get("to"), 19, style))
                value = literal(f"{ch.get('was')} → {ch.get('records')} records", 80, style)
            else:
                key, value = key_text(ch.get("key"), 40, style), value_text(ch.get("value", ""), 80, style)
            txn = ch.get("txnid")
            table.add_row(literal(kind, 8, style), literal(ch.get("_seen", ""), 10, style), key, value,
                          literal(f"{txn:,}" if isinstance(txn, int) else "", 12, style), key=str(i))

    def on_follow_failed(self, msg: FollowFailed) -> None:
        self._busy = False
        self.query_one("#changes-title", Static).update(join(("Changes: ", "bold"), ("error: ", "bold red"),
                                                            msg.error, width=None))
