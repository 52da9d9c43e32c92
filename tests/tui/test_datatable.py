"""A row drawn before its table measured its columns is redrawn at the measured widths.

The CI failure this pins down: on a loaded machine the overview was captured with every
column as wide as its header, because Textual's line cache does not know the widths.
"""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from zlmdb_inspect.tui.widgets.datatable import MeasuredTable


class _One(App):
    CSS = "#t { width: 1fr; height: 1fr; }"  # a fixed size, as in the overview: no resize redraws it

    def __init__(self, cls: type[DataTable]) -> None:
        super().__init__()
        self.cls = cls

    def compose(self) -> ComposeResult:
        yield self.cls(id="t")


async def _drawn_after_measuring(cls: type[DataTable]) -> str:
    app = _One(cls)
    async with app.run_test(size=(60, 6)) as pilot:
        t = app.query_one("#t", DataTable)
        t.add_columns("Slot", "Table")
        await pilot.pause()
        t.add_row("1", "IndexUsersByName", key="1")
        early = t.render_line(1).text  # a frame drawn before the table was next idle
        assert "IndexUsersByName" not in early
        await pilot.pause()
        await pilot.pause()
        return t.render_line(1).text


async def test_rows_are_redrawn_at_measured_widths():
    assert "IndexUsersByName" in await _drawn_after_measuring(MeasuredTable)


async def test_plain_datatable_keeps_the_header_widths():
    """Why MeasuredTable exists (if Textual fixes this, MeasuredTable can go)."""
    if "IndexUsersByName" in await _drawn_after_measuring(DataTable):
        pytest.fail("Textual now redraws measured rows: MeasuredTable is no longer needed")
