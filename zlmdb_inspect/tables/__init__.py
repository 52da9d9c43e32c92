"""tables/ — a table's records: codecs and decoders (zlmdb's, FlatBuffers, the application's own),
the catalog (records, windows, sampling), the query language and scans, changes between polls, a
table's shape, two databases' records compared (and checksums)."""

__all__ = ["catalog", "compare", "decode", "flatbuffers", "follow", "inference", "query", "records", "sampling",
           "scanner", "shape", "values", "windows"]
