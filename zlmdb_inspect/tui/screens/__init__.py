"""tui/screens/ — one module per screen: overview, records, databases, search results, shape."""

__all__ = ["databases", "overview", "records", "search", "shape"]
