"""A cfxdb-like application schema: import it with ``--import cfxdb_app`` (PYTHONPATH=tests).

Modelled on cfxdb's realmstore/mrealm: UUID-keyed CBOR tables of objects with
``marshal()``, a string index keyed by e-mail address, and an event table keyed
by (OID, numpy datetime64[ns]) through zlmdb's ``_OidTimestampKeysMixin``, whose
key decoder raises on every key (``struct.unpack(">Q>Q")`` is not a valid format).
"""

from __future__ import annotations

from typing import Any

import zlmdb
from zlmdb import _types
from zlmdb._pmap import PersistentMap


class User:
    """A user object as cfxdb stores them: marshal() to a CBOR map, parse() back."""

    def __init__(self, data: dict[str, Any]):
        self.data = data

    def marshal(self) -> dict[str, Any]:
        return dict(self.data)

    @staticmethod
    def parse(data: dict[str, Any]) -> User:
        return User(data)


class Node:
    def __init__(self, data: dict[str, Any]):
        self.data = data

    def marshal(self) -> dict[str, Any]:
        return dict(self.data)

    @staticmethod
    def parse(data: dict[str, Any]) -> Node:
        return Node(data)


@zlmdb.table("cfd00000-0000-4000-8000-000000000001", marshal=User.marshal, parse=User.parse)
class Users(zlmdb.MapUuidCbor):
    """users (UUID -> CBOR)"""


@zlmdb.table("cfd00000-0000-4000-8000-000000000002")
class IndexUsersByEmail(zlmdb.MapStringUuid):
    """users by e-mail address (string -> UUID)"""


@zlmdb.table("cfd00000-0000-4000-8000-000000000003", marshal=Node.marshal, parse=Node.parse)
class Nodes(zlmdb.MapUuidCbor):
    """nodes: 3-9 KiB records"""


class MapOidTimestampCbor(_types._OidTimestampKeysMixin, _types._CborValuesMixin, PersistentMap):
    """(OID, datetime64[ns]) -> CBOR, composed from zlmdb's own mixins like its Map* classes."""

    def __init__(self, slot=None, compress=None, marshal=None, unmarshal=None):
        PersistentMap.__init__(self, slot=slot, compress=compress)
        _types._CborValuesMixin.__init__(self, marshal=marshal, unmarshal=unmarshal)


@zlmdb.table("cfd00000-0000-4000-8000-000000000004", marshal=lambda o: o, parse=lambda d: d)
class Events(MapOidTimestampCbor):
    """events keyed by (session oid, time); zlmdb's key decoder raises on them"""


@zlmdb.table("cfd00000-0000-4000-8000-000000000005")
class EventSessions(zlmdb.MapOidTimestampOid):
    """(OID, time) -> OID, zlmdb's MapOidTimestampOid"""


TABLES: list[type[PersistentMap]] = [Users, IndexUsersByEmail, Nodes, Events, EventSessions]
