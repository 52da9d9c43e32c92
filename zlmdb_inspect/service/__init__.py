"""service/ — the one door to a database for every client (``Service``, blocking calls, own locking),
many databases at once (``fleet``) and finding them below a path (``discover``)."""

from zlmdb_inspect.service.database import (
    PREVIEW_BYTES,
    SERIES,
    Batching,
    Histogram,
    JsonFollow,
    KeySeek,
    Progress,
    Query,
    QueryError,
    Record,
    RecordWindow,
    Refresh,
    Scan,
    Service,
    Shape,
    TableDecoding,
    TimeToFull,
    WriterState,
    open_service,
    parse_query,
    perfdata,
    prometheus_value,
)

__all__ = ["Batching", "Histogram", "JsonFollow", "KeySeek", "PREVIEW_BYTES", "Progress", "Query", "QueryError",
           "Record", "RecordWindow", "Refresh", "SERIES", "Scan", "Service", "Shape", "TableDecoding",
           "TimeToFull", "WriterState", "open_service", "parse_query", "perfdata", "prometheus_value"]
