"""Where each table keeps its records' own time (issue 23), and samples of those times.

One source per table, the most exact one: the key's leading big-endian datetime64[ns] (``"key"``,
counted by the page walk), else a timestamp part further in the key (``"key:N"``, either byte
order, as zlmdb's ``MapUuidTimestamp*`` and cfxdb's ``Events`` write it), else a value field that
the sampled records carry as a plausible epoch time in s, ms, µs or ns (``"value:FIELD"``).
Plausible: 2000-01-01 up to now + 1 day. The non-leading sources are sampled: random keys drawn
uniformly between the table's first and last key, in short read transactions.
"""

from __future__ import annotations

import json
import random
import re
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zlmdb_inspect.core.digests import blake2b
from zlmdb_inspect.core.errors import NotWalkedError
from zlmdb_inspect.core.model import Table
from zlmdb_inspect.core.slots import slot_end, slot_of, slot_prefix
from zlmdb_inspect.core.times import TIME_MAX_NS, TIME_MIN_NS, plausible
from zlmdb_inspect.tables.decode import PART_SIZES, key_parts
from zlmdb_inspect.tables.flatbuffers import flatbuffers_raw_field
from zlmdb_inspect.tables.records import Codec
from zlmdb_inspect.tables.values import cbor_strict, jsonable

if TYPE_CHECKING:
    from zlmdb_inspect.storage.inspector import Inspector

SAMPLE = 1000  # records per estimate
BATCH = 250  # random seeks per read transaction
MIN_SHARE = 0.9  # of the profile's sampled records that must carry a plausible time in the field


@dataclass(frozen=True)
class TimeSource:
    """How to read one table's time from a raw record."""

    name: str  # "key", "key:2", "value:created"
    offset: int = 0  # key sources: the time's byte offset after the slot prefix
    little: bool = False  # key sources: little-endian (cfxdb's Events)
    field: str | None = None  # value sources: the field's path ("a.b")
    scale: int = 1  # value sources: ns per unit

    @property
    def leading(self) -> bool:
        return self.name == "key"


def leading_candidates(ins: Inspector) -> dict[int, tuple[int, int]]:
    """Slots whose first and last key both lead with a plausible big-endian time after the slot
    (2000..2100): ``{slot: (first ns, last ns)}``, from 3 cursor moves per slot in one short read
    (from the pages, a little slower, where LMDB's cursor must wait for a walk: a short file)."""

    def body(txn: Any, pf: Any, meta: Any) -> list[tuple[bytes, bytes]]:
        out: list[tuple[bytes, bytes]] = []
        cur = txn.cursor()
        ok = cur.set_range(slot_prefix(1))
        while ok:
            first = bytes(cur.key())
            if len(first) < 2:
                ok = cur.next()
                continue
            nxt = slot_end(slot_of(first))
            ok_next = cur.set_range(nxt) if nxt is not None else False
            if ok_next:
                cur.prev()
            else:
                cur.last()
            out.append((first, bytes(cur.key())))
            ok = ok_next and cur.set_range(nxt)  # back to the next slot's first key
        return out

    def pages(txn: Any, pf: Any, meta: Any) -> list[tuple[bytes, bytes]]:
        from zlmdb_inspect.storage.leaves import LeafWalk

        walk = LeafWalk(pf, meta)
        out: list[tuple[bytes, bytes]] = []
        first = walk.edge_keys(slot_prefix(1))[1]
        while first is not None:
            if len(first) < 2:
                first = walk.edge_keys(first + b"\0")[1]  # the next key
                continue
            nxt = slot_end(slot_of(first))
            last, first_next = walk.edge_keys(nxt if nxt is not None else LAST)
            if last is None:  # (none below a key at or above ``first``: damage)
                break
            out.append((first, last))
            first = first_next if nxt is not None else None
        return out

    try:
        edges = ins.read(body)
    except NotWalkedError:
        edges = ins.read(pages, bounded=True)
    found: dict[int, tuple[int, int]] = {}
    for first, last in edges:
        if len(first) >= 10 and len(last) >= 10:
            a = struct.unpack(">Q", first[2:10])[0]
            b = struct.unpack(">Q", last[2:10])[0]
            if TIME_MIN_NS <= a <= b < TIME_MAX_NS:
                found[slot_of(first)] = (a, b)
    return found


#: Above every LMDB key (at most 511 bytes).
LAST = b"\xff" * 512


def key_source(codec: Codec) -> TimeSource | None:
    """A time in the key after its first part (``key:N``), as the sampled key codec names it."""
    prof = codec.profile
    kc = prof.key_codec if prof is not None else None
    parts = key_parts(kc) if kc else None
    if not parts:
        return None
    if parts[0] == "timestamp":
        return TimeSource("key")
    offset = 0
    for i, p in enumerate(parts):
        if p not in PART_SIZES:
            return None  # after a variable part offsets are unknown
        if i and p in ("timestamp", "timestamp-le"):
            return TimeSource(f"key:{i + 1}", offset, p == "timestamp-le")
        offset += PART_SIZES[p]
    return None


def raw_key_source(keys: list[bytes], now_ns: int | None = None) -> TimeSource | None:
    """A time part further in the key, found in the sampled raw keys (with slot) where the key codec
    does not name one (a 24-byte UUID + time key also splits as OID + UUID): 8 bytes at an offset of
    8 or 16 that at least 90 % of the keys hold as a plausible time, big- or little-endian."""
    now_ns = now_ns or time.time_ns()
    if not keys:
        return None
    shortest = min(len(k) for k in keys) - 2
    for offset in (8, 16):
        if offset + 8 > shortest:
            break
        for little in (False, True):
            fmt = "<Q" if little else ">Q"
            good = sum(1 for k in keys if plausible(struct.unpack(fmt, k[2 + offset:10 + offset])[0], now_ns))
            if good >= MIN_SHARE * len(keys):
                return TimeSource("key:2", offset, little)
    return None


def _fields(value: Any, prefix: str = "", depth: int = 0) -> dict[str, int]:
    """``{path: integer}`` of a decoded value's integer fields (maps, nested up to 3 levels)."""
    out: dict[str, int] = {}
    if isinstance(value, dict) and depth < 3:
        for k, v in value.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, int) and not isinstance(v, bool):
                out[path] = v
            elif isinstance(v, dict):
                out.update(_fields(v, path, depth + 1))
    return out


def _get(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _unit(v: int, now_ns: int) -> int | None:
    """ns per unit of ``v`` as an epoch time (s, ms, µs or ns: their plausible ranges do not overlap)."""
    for scale in (1, 10**3, 10**6, 10**9):
        if plausible(v * scale, now_ns):
            return scale
    return None


def value_source(values: list[Any], now_ns: int | None = None) -> TimeSource | None:
    """A value field that at least 90 % of the sampled values carry as a plausible epoch time in one
    unit; among several, the finest unit, then the most often present, then the name."""
    now_ns = now_ns or time.time_ns()
    if not values:
        return None
    seen: dict[tuple[str, int], int] = {}
    for v in values:
        for path, n in _fields(v).items():
            scale = _unit(n, now_ns)
            if scale is not None:
                seen[(path, scale)] = seen.get((path, scale), 0) + 1
    good = [(scale, -count, path) for (path, scale), count in seen.items() if count >= MIN_SHARE * len(values)]
    if not good:
        return None
    scale, _, path = min(good)
    return TimeSource(f"value:{path}", field=path, scale=scale)


def time_of(src: TimeSource, raw_key: bytes, value: Any) -> int | None:
    """The record's time in ns (None: none there), from its raw key (with slot) or decoded value."""
    if src.field is None:
        b = raw_key[2 + src.offset:2 + src.offset + 8]
        if len(b) != 8:
            return None
        return struct.unpack("<Q" if src.little else ">Q", b)[0]
    return _field_time(src, _get(value, src.field))


def _field_time(src: TimeSource, v: Any) -> int | None:
    """A value field's time in ns: the field as decoded (None: not an integer)."""
    if not isinstance(v, int) or isinstance(v, bool):
        return None
    return v * src.scale


def sample_times(ins: Inspector, codec: Codec, table: Table, src: TimeSource, n: int = SAMPLE,
                 seed: int | None = None) -> list[int | None]:
    """The times of ``n`` records at random keys drawn uniformly between the table's first and
    last key (uniform over records where keys spread evenly: random UUIDs and OIDs, dense counters),
    read ``BATCH`` seeks per read transaction."""
    rng = random.Random(seed)
    prefix = slot_prefix(table.slot)
    end = slot_end(table.slot)

    def bounds(txn: Any, pf: Any, meta: Any) -> tuple[bytes, bytes] | None:
        cur = txn.cursor()
        if not cur.set_range(prefix) or bytes(cur.key()[:2]) != prefix:
            return None
        lo = bytes(cur.key())
        if end is not None and cur.set_range(end):
            cur.prev()
        else:
            cur.last()
        return lo, bytes(cur.key())

    b = ins.read(bounds)
    if b is None:
        return []
    lo, hi = b
    width = max(len(lo), len(hi)) - 2
    a = int.from_bytes(lo[2:].ljust(width, b"\0"), "big")
    z = int.from_bytes(hi[2:].ljust(width, b"\0"), "big")
    out: list[int | None] = []
    seen: dict[bytes, tuple[bytes, int | None]] = {}
    while len(out) < n:
        targets = [prefix + rng.randint(a, z).to_bytes(width, "big") for _ in range(min(BATCH, n - len(out)))]

        def body(txn: Any, pf: Any, meta: Any, targets: list[bytes] = targets) -> list[tuple[bytes, bytes | None]]:
            cur = txn.cursor()
            got = []
            for t in targets:
                k = bytes(cur.key()) if cur.set_range(t) else b""
                if k[:2] != prefix:  # past the table's last key: its first
                    cur.set_range(lo)
                    k = bytes(cur.key())
                got.append((k, bytes(cur.value()) if src.field is not None else None))
            return got

        for k, v in ins.read(body):
            if v is None:
                out.append(time_of(src, k, None))
                continue
            digest = blake2b(v, digest_size=16).digest()  # (not the value: 1,000 of up to 64 KiB)
            hit = seen.get(k)  # a small table's records are drawn again and again
            if hit is None or hit[0] != digest:
                hit = seen[k] = (digest, value_time(codec, src, k, v))
            out.append(hit[1])
    return out


_MISS: Any = object()


def value_time(codec: Codec, src: TimeSource, raw_key: bytes, raw_value: bytes) -> int | None:
    """:func:`time_of` over the record as ``codec.decode`` reads it. A CBOR or JSON value (the table's
    codec, no application class) has its field read off the parsed map, without converting the rest
    for display (``values.jsonable``: ~80 % of a sample's CPU on a cfxdb store); the same figure, as
    that conversion keeps maps of text keys and integers as they are. Anything else on the way (a
    map with other keys, bytes that may embed a document) is read the long way; the field itself is
    converted as display converts it (at its depth: too deep, a note, no time). A schemaless
    FlatBuffers value (``fieldN``) has only that field guessed."""
    prof = codec.profile
    vc = prof.value_codec if prof is not None and codec.pmap is None else None
    if vc == "flatbuffers" and src.field is not None and re.fullmatch(r"field(0|[1-9][0-9]*)", src.field):
        try:
            got = flatbuffers_raw_field(raw_value, int(src.field[5:]))  # that field guessed, not all of them
        except Exception:  # noqa: BLE001 - hostile bytes: the long way says how the record reads
            got = None
        if got is not None:
            return _field_time(src, got[0])
    parts = src.field.split(".") if src.field is not None else []
    if vc in ("cbor", "json") and parts:
        try:
            v = cbor_strict(raw_value) if vc == "cbor" else json.loads(raw_value.decode("utf-8"))
        except Exception:  # noqa: BLE001 - not this codec after all: the long way says how it is read
            v = _MISS
        for part in parts if v is not _MISS else ():
            if not isinstance(v, dict) or not all(type(x) is str for x in v):
                v = _MISS
                break
            v = v.get(part)
            if v is None:
                return None
        if v is not _MISS:  # the field itself as display shows it (the rest of the value is not converted)
            return _field_time(src, jsonable(v, len(parts)))
    return time_of(src, raw_key, codec.decode(raw_key, raw_value).value)
