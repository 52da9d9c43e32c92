"""storage/ — the file on disk and the processes around it: the page format, the B-tree walk, leaf
scans, read-ahead, the read-only environment (inspector), /proc maps, lock.mdb (liveness locks and the
writer mutex) and the cursor-count child process (run as ``python -m zlmdb_inspect.storage.cursor_count``;
nothing imports it)."""

__all__ = ["cursor_count", "inspector", "leaves", "lockfile", "pageformat", "prefetch", "procmaps", "walk",
           "writerlock"]
