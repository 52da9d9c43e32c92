"""The schema of the demo application, written the way zlmdb applications are.

It stands in for an application such as Crossbar.io's cfxdb: ``@zlmdb.table``
classes, CBOR records with ``marshal()``/``parse()``, FlatBuffers records with
``build``/``cast``, and an index. ``zlmdb-inspect --import zlmdb_inspect.demo.app``
decodes the demo database with this code, as a user would with their own.
"""

from __future__ import annotations

import uuid
from typing import Any

import flatbuffers
import numpy as np
import zlmdb

from zlmdb_inspect.demo.schema import demo_generated as fbs


class User:
    """A user account (CBOR)."""

    def __init__(self, oid: uuid.UUID | None = None, name: str | None = None,
                 email: str | None = None, created: int | None = None,
                 roles: list[str] | None = None, quota: int | None = None):
        self.oid = oid
        self.name = name
        self.email = email
        self.created = created
        self.roles = roles or []
        self.quota = quota

    def marshal(self) -> dict[str, Any]:
        return {"oid": str(self.oid), "name": self.name, "email": self.email,
                "created": self.created, "roles": list(self.roles), "quota": self.quota}

    @staticmethod
    def parse(data: dict[str, Any]) -> User:
        return User(oid=uuid.UUID(data["oid"]), name=data.get("name"), email=data.get("email"),
                    created=data.get("created"), roles=data.get("roles"), quota=data.get("quota"))


class Attachment:
    """A stored file; deliberately large, so it lives on LMDB overflow pages."""

    def __init__(self, oid: int = 0, filename: str = "", content_type: str = "", data: bytes = b""):
        self.oid, self.filename, self.content_type, self.data = oid, filename, content_type, data

    def marshal(self) -> dict[str, Any]:
        return {"oid": self.oid, "filename": self.filename, "content_type": self.content_type,
                "size": len(self.data), "data": self.data}

    @staticmethod
    def parse(data: dict[str, Any]) -> Attachment:
        return Attachment(data["oid"], data["filename"], data["content_type"], data["data"])


class Session:
    """A WAMP session (FlatBuffers, the hot path)."""

    def __init__(self, from_fbs: fbs.Session | None = None):
        self._fbs = from_fbs
        self.session = from_fbs.Session() if from_fbs else 0
        self.realm = (from_fbs.Realm() or b"").decode() if from_fbs else ""
        self.authid = (from_fbs.Authid() or b"").decode() if from_fbs else ""
        self.authrole = (from_fbs.Authrole() or b"").decode() if from_fbs else ""
        self.joined_at = from_fbs.JoinedAt() if from_fbs else 0
        self.left_at = from_fbs.LeftAt() if from_fbs else 0
        self.transport = bytes(from_fbs.TransportAsNumpy()) if from_fbs and from_fbs.TransportLength() else b""

    def marshal(self) -> dict[str, Any]:
        return {"session": self.session, "realm": self.realm, "authid": self.authid,
                "authrole": self.authrole, "joined_at": self.joined_at,
                "left_at": self.left_at or None, "transport": self.transport.hex()}

    @staticmethod
    def cast(buf: bytes) -> Session:
        return Session(fbs.Session.GetRootAs(buf, 0))

    def build(self, builder: flatbuffers.Builder) -> int:
        realm = builder.CreateString(self.realm)
        authid = builder.CreateString(self.authid)
        authrole = builder.CreateString(self.authrole)
        transport = builder.CreateByteVector(self.transport)
        fbs.SessionStart(builder)
        fbs.SessionAddSession(builder, self.session)
        fbs.SessionAddRealm(builder, realm)
        fbs.SessionAddAuthid(builder, authid)
        fbs.SessionAddAuthrole(builder, authrole)
        fbs.SessionAddJoinedAt(builder, self.joined_at)
        fbs.SessionAddLeftAt(builder, self.left_at)
        fbs.SessionAddTransport(builder, transport)
        return fbs.SessionEnd(builder)


class Event:
    """A published event in the time-series event store (FlatBuffers)."""

    def __init__(self, from_fbs: fbs.Event | None = None):
        self.timestamp = from_fbs.Timestamp() if from_fbs else 0
        self.publication = from_fbs.Publication() if from_fbs else 0
        self.topic = (from_fbs.Topic() or b"").decode() if from_fbs else ""
        self.payload_size = from_fbs.PayloadSize() if from_fbs else 0
        self.acknowledged = from_fbs.Acknowledged() if from_fbs else False

    def marshal(self) -> dict[str, Any]:
        return {"timestamp": self.timestamp, "publication": self.publication, "topic": self.topic,
                "payload_size": self.payload_size, "acknowledged": self.acknowledged}

    @staticmethod
    def cast(buf: bytes) -> Event:
        return Event(fbs.Event.GetRootAs(buf, 0))

    def build(self, builder: flatbuffers.Builder) -> int:
        topic = builder.CreateString(self.topic)
        fbs.EventStart(builder)
        fbs.EventAddTimestamp(builder, self.timestamp)
        fbs.EventAddPublication(builder, self.publication)
        fbs.EventAddTopic(builder, topic)
        fbs.EventAddPayloadSize(builder, self.payload_size)
        fbs.EventAddAcknowledged(builder, self.acknowledged)
        return fbs.EventEnd(builder)


@zlmdb.table("a1f2e3d4-0001-4c2b-9a10-5e0000000001", marshal=User.marshal, parse=User.parse)
class Users(zlmdb.MapUuidCbor):
    """User accounts (CBOR) by user oid."""


@zlmdb.table("a1f2e3d4-0002-4c2b-9a10-5e0000000002")
class IndexUsersByName(zlmdb.MapStringUuid):
    """Index: user name -> user oid."""


@zlmdb.table("a1f2e3d4-0003-4c2b-9a10-5e0000000003", build=Session.build, cast=Session.cast)
class Sessions(zlmdb.MapOidFlatBuffers):
    """WAMP sessions (FlatBuffers) by session id."""


@zlmdb.table("a1f2e3d4-0004-4c2b-9a10-5e0000000004", build=Event.build, cast=Event.cast)
class Events(zlmdb.MapTimestampUuidFlatBuffers):
    """Event store (FlatBuffers), a time series keyed by (timestamp, publication uuid)."""


@zlmdb.table("a1f2e3d4-0005-4c2b-9a10-5e0000000005", marshal=Attachment.marshal,
             parse=Attachment.parse, compress=None)
class Attachments(zlmdb.MapOidCbor):
    """Uploaded files (CBOR, several KB each: stored on overflow pages)."""


@zlmdb.table("a1f2e3d4-0006-4c2b-9a10-5e0000000006", marshal=lambda d: d, parse=lambda d: d,
             compress=zlmdb.PersistentMap.COMPRESS_ZLIB)
class AuditLog(zlmdb.MapOidCbor):
    """Audit trail (CBOR, zlib-compressed) by sequence number."""


@zlmdb.table("a1f2e3d4-0007-4c2b-9a10-5e0000000007", marshal=lambda d: d, parse=lambda d: d)
class Settings(zlmdb.MapStringJson):
    """Node settings (JSON) by key."""


class DemoSchema:
    """Attaches the demo tables to a database, as an application's schema class does."""

    def __init__(self, db: zlmdb.Database):
        self.users = db.attach_table(Users)
        self.idx_users_by_name = db.attach_table(IndexUsersByName)
        self.users.attach_index("idx_users_by_name", self.idx_users_by_name, lambda u: u.name)
        self.sessions = db.attach_table(Sessions)
        self.events = db.attach_table(Events)
        self.attachments = db.attach_table(Attachments)
        self.audit = db.attach_table(AuditLog)
        self.settings = db.attach_table(Settings)


def timestamp(ns: int) -> np.datetime64:
    return np.datetime64(ns, "ns")
