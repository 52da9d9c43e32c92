"""zlmdb-inspect: a read-only inspector and monitor for zlmdb databases."""

__version__ = "0.1.0"
