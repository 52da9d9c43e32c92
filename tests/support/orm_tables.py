"""The zlmdb tables conftest's databases use, defined once per process.

zlmdb's table registry rejects a second ``@zlmdb.table`` of the same oid with other marshal/parse
functions (and returns None for the class when they are equal). pytest re-imports conftest.py on each
session in one process (mutmut runs its stats and clean runs so); this module, imported by name from
tests/support, is cached in sys.modules and so registers each table once.
"""

from __future__ import annotations

import zlmdb


def identity(obj):
    """marshal and parse of the CBOR tables: the stored dict is the object."""
    return obj


@zlmdb.table("5e1f0000-0000-4000-8000-000000000001", marshal=identity, parse=identity)
class TUsers(zlmdb.MapUuidCbor):
    """test users"""


@zlmdb.table("5e1f0000-0000-4000-8000-000000000002")
class TIdxNames(zlmdb.MapStringUuid):
    """test index"""


@zlmdb.table("5e1f0000-0000-4000-8000-000000000003", marshal=identity, parse=identity)
class TPairs(zlmdb.MapUuidUuidCbor):
    """uuid-uuid cbor"""


@zlmdb.table("5e1f0000-0000-4000-8000-000000000004")
class TPickles(zlmdb.MapOidPickle):
    """pickles"""
