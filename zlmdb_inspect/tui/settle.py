"""Waiting for a headless app by condition, not by fixed sleeps (tests and screenshots).

A fixed ``pause(0.2)`` once let a snapshot be taken on a slower machine before the tables'
DataTable had measured its columns (Textual measures them when the widget is next idle), so the
screen behind the help box was drawn with columns as wide as their headers.
"""

from __future__ import annotations

import time

from textual.pilot import Pilot
from textual.widgets import DataTable
from textual.worker import WorkerCancelled, WorkerState


def _busy(app) -> str | None:
    """What is still in flight, or None when the whole screen stack is quiet."""
    if any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers):
        return "a worker"
    nodes = [app, *(n for s in app.screen_stack for n in s.walk_children(with_self=True))]
    for n in nodes:
        if not n._message_queue.empty():
            return f"messages for {n!r}"
        if isinstance(n, DataTable) and (n._require_update_dimensions or n._updated_cells):
            return f"{n!r} not measured"
    return None


async def settle(pilot: Pilot, timeout: float = 30.0) -> None:
    """Wait until no worker runs, every queue on every screen is empty and tables are measured.

    Two quiet looks in a row are required, because a handler may start a worker or post a message.
    """
    app = pilot.app
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2:
        await pilot.pause(0.05)
        try:
            await app.workers.wait_for_complete()
            busy = _busy(app)
        except WorkerCancelled:  # an exclusive worker (a refresh) replaced by its successor while waited for
            busy = "a worker cancelled while waited for"
        if busy is None:
            quiet += 1
            continue
        quiet = 0
        if time.monotonic() > deadline:
            raise AssertionError(f"the app did not settle in {timeout:g} s: {busy}")
