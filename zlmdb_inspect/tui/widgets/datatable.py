"""The DataTable every screen uses: rows drawn at their measured widths, however busy the machine.

Textual measures new rows' column widths when the table is next idle, and caches rendered
lines by row and cursor, not by column widths. A frame drawn between ``add_row`` and that
measurement (a slow or loaded machine) stayed on screen with every column as wide as its
header ("(zlm…", "Even…") until something else cleared the cache: seen in CI as a failed
overview snapshot, and reproduced with the CPU saturated.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


class MeasuredTable(DataTable):
    """A DataTable that drops lines rendered before its columns were measured."""

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        rows = list(new_rows)
        before = [c.content_width for c in self.ordered_columns]
        super()._update_dimensions(rows)
        if rows and [c.content_width for c in self.ordered_columns] != before:
            self._clear_caches()  # lines drawn at the old widths; also asks for a repaint
