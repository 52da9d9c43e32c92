"""tui/screens/ — one module per screen: overview, records, databases, search results, shape, and
the one-line prompt modal."""

__all__ = ["databases", "overview", "prompt", "records", "search", "shape"]
