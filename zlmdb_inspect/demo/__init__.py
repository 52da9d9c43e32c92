"""demo/ — the built-in demo database: its application (``zlmdb_inspect.demo.app``, for ``--import``),
its FlatBuffers schema (``demo/schema``) and the builder and live writer behind ``--demo``."""

from zlmdb_inspect.demo.build import build_demo, write_for

__all__ = ["build_demo", "write_for"]
