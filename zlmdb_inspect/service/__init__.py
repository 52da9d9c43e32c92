"""service/ — the one door to a database for every client (``Service``, blocking calls, own locking),
many databases at once (``fleet``) and finding them below a path (``discover``)."""

from typing import TYPE_CHECKING, Any

from zlmdb_inspect.service.database import (
    PREVIEW_BYTES,
    SERIES,
    Batching,
    KeySeek,
    Record,
    RecordWindow,
    Refresh,
    Service,
    TableDecoding,
    TimeToFull,
    WriterState,
    open_service,
    perfdata,
    prometheus_value,
)

if TYPE_CHECKING:
    from zlmdb_inspect.tables.follow import JsonFollow
    from zlmdb_inspect.tables.query import Query, QueryError
    from zlmdb_inspect.tables.query import parse as parse_query
    from zlmdb_inspect.tables.scanner import Progress, Scan
    from zlmdb_inspect.tables.shape import Histogram, Shape

# what only queries, follow mode and the shape view use: imported when first asked for, so that a
# one-shot report (--json, --check, --prometheus) does not pay for them at every start
_LAZY = {"JsonFollow": ("zlmdb_inspect.tables.follow", "JsonFollow"),
         "Query": ("zlmdb_inspect.tables.query", "Query"), "QueryError": ("zlmdb_inspect.tables.query", "QueryError"),
         "parse_query": ("zlmdb_inspect.tables.query", "parse"),
         "Progress": ("zlmdb_inspect.tables.scanner", "Progress"), "Scan": ("zlmdb_inspect.tables.scanner", "Scan"),
         "Histogram": ("zlmdb_inspect.tables.shape", "Histogram"), "Shape": ("zlmdb_inspect.tables.shape", "Shape")}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["Batching", "Histogram", "JsonFollow", "KeySeek", "PREVIEW_BYTES", "Progress", "Query", "QueryError",
           "Record", "RecordWindow", "Refresh", "SERIES", "Scan", "Service", "Shape", "TableDecoding",
           "TimeToFull", "WriterState", "open_service", "parse_query", "perfdata", "prometheus_value"]
