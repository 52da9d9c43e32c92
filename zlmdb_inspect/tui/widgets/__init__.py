"""tui/widgets/ — widgets the screens share: overview panels, the measured DataTable, record cells,
the hex view, the changes pane, the records screen's list and detail pane."""

__all__ = ["changes", "datatable", "fields", "hexview", "panels", "recorddetail", "recordlist"]
