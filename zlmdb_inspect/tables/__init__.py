"""tables/ — a table's records: codecs and decoders (zlmdb's, FlatBuffers, the application's own),
record windows and sampling, the query language and scans, changes between polls, a table's shape."""

__all__ = ["decode", "flatbuffers", "follow", "inference", "query", "records", "scanner", "shape", "values"]
