"""Built-in decoders for keys and values, for databases whose code we do not run, and the named
codecs (``key_as``/``value_as``) that one table's records are read with.

Every decoder takes arbitrary bytes and never raises: it returns a
:class:`Decoded` with a JSON-ready value, the decoder's name and, where the
bytes were not what it expected, an error. JSON conventions (see README):
UUIDs as canonical strings, bytes as ``"hex:…"``, numpy datetime64 as ISO 8601
strings with nanoseconds and ``Z``, numpy scalars as numbers, arrays and
composite keys as JSON arrays.
"""

from __future__ import annotations

import functools
import io
import json
import struct
import time
import zlib
from dataclasses import dataclass
from typing import Any

from zlmdb_inspect.core.times import TIME_MAX_NS, TIME_MIN_NS, ts_iso
from zlmdb_inspect.tables.flatbuffers import flatbuffers_raw
from zlmdb_inspect.tables.values import cbor_strict, hexs, jsonable, printable

MAX_OID = 2**53  # zlmdb's OID range (exact in IEEE doubles)


@dataclass
class Decoded:
    value: Any
    decoder: str
    error: str | None = None


# -- keys ----------------------------------------------------------------------

def uuid_text(b: bytes) -> str:
    """``str(uuid.UUID(bytes=b))`` of 16 bytes, without building the UUID (a quarter of its cost:
    sampling reads a thousand keys a run, most of them UUIDs, twice)."""
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def is_ts(ns: int) -> bool:
    return TIME_MIN_NS <= ns <= TIME_MAX_NS


def _part(b: bytes) -> tuple[Any, str]:
    """One fixed-size key component by its length and content."""
    n = len(b)
    if n == 16:
        return uuid_text(b), "uuid"
    if n == 8:
        be, le = struct.unpack(">Q", b)[0], struct.unpack("<Q", b)[0]
        if is_ts(be) and is_ts(le):  # both plausible: the one nearer to now
            now = time.time_ns()
            return (ts_iso(be), "timestamp") if abs(be - now) <= abs(le - now) else (ts_iso(le), "timestamp-le")
        if is_ts(be):
            return ts_iso(be), "timestamp"
        if be <= MAX_OID:  # zlmdb OIDs are below 2**53; a little-endian timestamp is not
            return be, "oid"
        if is_ts(le):
            return ts_iso(le), "timestamp-le"
        return be, "oid"
    if n in (20, 32):
        return hexs(b), f"bytes{n}"
    if n == 2:
        return struct.unpack(">H", b)[0], "uint16"
    if n == 1:
        return b[0], "uint8"
    s = printable(b)
    if s is not None:
        return s, "string"
    return hexs(b), "bytes"


def plausible_uuid(b: bytes) -> bool:
    """An RFC 4122 UUID (version and variant bits), or a small integer one."""
    return (1 <= b[6] >> 4 <= 8 and b[8] >> 6 == 2) or b[:8] == bytes(8)


_SPLITS = [(16, 16), (8, 16), (16, 8), (8, 8), (16, 16, 16), (8, 16, 16), (16, 8, 16),
           (16, 20), (32, 16), (8, 32), (16, 32), (20, 20), (16, 16, 16, 16)]


def decode_key(b: bytes) -> Decoded:
    """A key without its 2-byte slot prefix, by inspection."""
    try:
        n = len(b)
        if n == 0:
            return Decoded("", "empty")
        s = printable(b)
        if s is not None and n > 2:  # printable UTF-8 is text (a 20-character e-mail is not bytes20)
            return Decoded(s, "string")
        if n == 32 and plausible_uuid(b[:16]) and plausible_uuid(b[16:]):
            return Decoded([uuid_text(b[:16]), uuid_text(b[16:])], "uuid+uuid")
        if n in (1, 2, 8, 16, 20, 32):
            v, name = _part(b)
            if name != "bytes":
                return Decoded(v, name)
        if n == 24 and plausible_uuid(b[:16]) and is_ts(struct.unpack(">Q", b[16:])[0]):
            # a UUID, then a time (zlmdb's Map*UuidTimestamp*), not an OID and a UUID
            return Decoded([uuid_text(b[:16]), ts_iso(struct.unpack(">Q", b[16:])[0])], "uuid+timestamp")
        for split in _SPLITS:
            if sum(split) == n:
                parts, names, off = [], [], 0
                for size in split:
                    v, name = _part(b[off:off + size])
                    parts.append(v)
                    names.append(name)
                    off += size
                return Decoded(parts, "+".join(names))
        for head in (16, 8):  # a fixed part followed by a string
            if n > head:
                s = printable(b[head:])
                if s is not None:
                    v, name = _part(b[:head])
                    return Decoded([v, s], f"{name}+string")
        if s is not None:
            return Decoded(s, "string")
        return Decoded(hexs(b), "bytes")
    except Exception as e:  # noqa: BLE001 - decoders never raise
        return Decoded(hexs(b), "bytes", f"{type(e).__name__}: {e}")


# -- values --------------------------------------------------------------------

def is_pickle(b: bytes) -> bool:
    return len(b) >= 3 and b[0] == 0x80 and 2 <= b[1] <= 5 and b.rstrip(b"\x00")[-1:] == b"."


def is_pickle5_framed(b: bytes) -> bool:
    if len(b) < 7:
        return False
    n = struct.unpack(">I", b[:4])[0]
    return 4 + n <= len(b) and is_pickle(b[4:4 + n])


def load_pickle(b: bytes) -> Any:
    import pickle

    if is_pickle5_framed(b):
        n = struct.unpack(">I", b[:4])[0]
        return pickle.loads(b[4:4 + n])
    return pickle.loads(b)


def decode_value(b: bytes, allow_pickle: bool = False, fbs=None, fbs_type: str | None = None,
                 _depth: int = 0) -> Decoded:
    """A value by inspection. ``fbs`` is a :class:`FbsSchemas` for typed FlatBuffers."""
    try:
        return _decode_value(b, allow_pickle, fbs, fbs_type, _depth)
    except Exception as e:  # noqa: BLE001 - decoders never raise
        return Decoded(hexs(b), "bytes", f"{type(e).__name__}: {e}")


def _decode_value(b: bytes, allow_pickle: bool, fbs, fbs_type, depth: int) -> Decoded:
    n = len(b)
    if n == 0:
        return Decoded(None, "empty")
    if fbs is not None and fbs_type:
        v, err = fbs.decode(b, fbs_type)
        if err is None:
            return Decoded(v, f"flatbuffers:{fbs_type}")
    if is_pickle(b) or is_pickle5_framed(b):
        if not allow_pickle:
            return Decoded("pickle (not loaded)", "pickle")
        try:
            return Decoded(jsonable(load_pickle(b)), "pickle")
        except Exception as e:  # noqa: BLE001
            return Decoded(hexs(b), "pickle", f"unpickling failed: {type(e).__name__}: {e}")
    if b[:6] == b"\x93NUMPY":
        import numpy as np

        arr = np.load(io.BytesIO(b), allow_pickle=False)
        return Decoded(jsonable(arr), f"numpy:{arr.dtype}{list(arr.shape)}")
    if depth == 0 and n >= 2 and b[0] == 0x78 and b[1] in (0x01, 0x5E, 0x9C, 0xDA):
        try:
            inner = zlib.decompress(b)
        except zlib.error:
            inner = None
        if inner is not None:
            d = _decode_value(inner, allow_pickle, fbs, fbs_type, depth + 1)
            return Decoded(d.value, "zlib+" + d.decoder, d.error)
    if b[:1] in (b"{", b"[") or (b[:1] == b'"' and b[-1:] == b'"'):
        try:
            return Decoded(jsonable(json.loads(b.decode("utf-8"))), "json")
        except (ValueError, UnicodeDecodeError):
            pass
    major = b[0] >> 5
    cbor_tried = major in (4, 5, 6) or (n > 16 and major in (2, 3))  # array, map, tag, long text/bytes
    if cbor_tried:
        try:
            return Decoded(jsonable(cbor_strict(b)), "cbor")
        except Exception:  # noqa: BLE001
            pass
    if n in (8, 16) and printable(b) is None:
        v, name = _part(b)
        return Decoded(v, name)
    if n >= 12:
        v = flatbuffers_raw(b)
        if v is not None:
            return Decoded(v, "flatbuffers")
    s = printable(b)
    if s is not None:
        return Decoded(s, "string")
    if not cbor_tried:  # (the same bytes fail the same way twice)
        try:
            return Decoded(jsonable(cbor_strict(b)), "cbor")
        except Exception:  # noqa: BLE001
            pass
    return Decoded(hexs(b), "bytes")


# -- one codec per table: named decoders, inferred from a sample -------------------
#
# A codec name says how every record of a table is read: key codecs are parts
# joined by "+" ("uuid", "oid+timestamp-le", "uuid+string"), value codecs a
# family ("cbor", "json", "string", "uuid", "flatbuffers", "zlib+cbor", ...).
# ``key_as``/``value_as`` read bytes with a named codec and raise
# :class:`Mismatch` when the bytes are not what it reads, so a record that
# differs from the rest of its table is found instead of decoded otherwise.

PART_SIZES = {"uuid": 16, "oid": 8, "uint64": 8, "timestamp": 8, "timestamp-le": 8,
              "bytes16": 16, "bytes20": 20, "bytes32": 32, "uint16": 2, "uint8": 1}
VARIABLE_PARTS = ("string", "bytes")

DESCRIBE = {"cbor": "CBOR", "json": "JSON", "string": "UTF-8 text", "uuid": "a 16-byte UUID",
            "oid": "an 8-byte OID", "timestamp": "an 8-byte timestamp", "timestamp-le": "an 8-byte timestamp",
            "flatbuffers": "a FlatBuffers table", "pickle": "a pickle", "numpy": "a numpy array",
            "empty": "empty", "bytes": "bytes"}


class Mismatch(ValueError):
    """The bytes are not what the codec reads."""


def describe(codec: str) -> str:
    if codec in DESCRIBE:
        return DESCRIBE[codec]
    if codec.startswith("flatbuffers:"):
        return f"a FlatBuffers {codec.split(':', 1)[1]}"
    if codec.startswith("zlib+"):
        return f"zlib-compressed {describe(codec[5:])}"
    return codec  # composite keys: their parts say it


def _utf8(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Mismatch(f"not UTF-8 ({e.reason} at byte {e.start})") from None


def _read_part(name: str, b: bytes) -> Any:
    if name == "uuid":
        return uuid_text(b)
    if name in ("oid", "uint64"):
        return struct.unpack(">Q", b)[0]
    if name == "timestamp":
        return ts_iso(struct.unpack(">Q", b)[0])
    if name == "timestamp-le":
        return ts_iso(struct.unpack("<Q", b)[0])
    if name == "uint16":
        return struct.unpack(">H", b)[0]
    if name == "uint8":
        return b[0]
    if name == "string":
        return _utf8(b)
    return hexs(b)  # bytes, bytes16/20/32


def key_parts(codec: str) -> list[str] | None:
    """The parts of a key codec, or None when it is not one (at most one variable-size part)."""
    parts = codec.split("+")
    if any(p not in PART_SIZES and p not in VARIABLE_PARTS for p in parts):
        return None
    if sum(1 for p in parts if p in VARIABLE_PARTS) > 1:
        return None
    return parts


@functools.lru_cache(maxsize=256)
def _key_plan(codec: str) -> tuple[tuple[str, ...], int, bool] | None:
    """A key codec's parts, their fixed size and whether one part is variable (None: not a key codec)."""
    parts = key_parts(codec)
    if parts is None:
        return None
    return tuple(parts), sum(PART_SIZES.get(p, 0) for p in parts), any(p in VARIABLE_PARTS for p in parts)


def key_as(codec: str, b: bytes) -> Any:
    """``b`` read as ``codec`` (a key codec name); :class:`Mismatch` when it does not fit."""
    if codec == "empty":
        if b:
            raise Mismatch(f"{len(b)} bytes, not empty")
        return ""
    plan = _key_plan(codec)
    if plan is None:
        raise Mismatch(f"no key codec {codec!r}")
    parts, fixed, variable = plan
    if (len(b) != fixed) if not variable else (len(b) < fixed):
        raise Mismatch(f"{len(b)} bytes, not {fixed}" if not variable else f"{len(b)} bytes, fewer than {fixed}")
    out, off = [], 0
    for p in parts:
        size = PART_SIZES.get(p, len(b) - fixed)
        out.append(_read_part(p, b[off:off + size]))
        off += size
    return out[0] if len(out) == 1 else out


def value_as(codec: str, b: bytes, allow_pickle: bool = False, fbs=None) -> Any:
    """``b`` read as ``codec`` (a value codec name); :class:`Mismatch` when it does not fit."""
    try:
        return _value_as(codec, b, allow_pickle, fbs)
    except Mismatch:
        raise
    except Exception as e:  # noqa: BLE001 - every decoder failure is a mismatch, never a crash
        raise Mismatch(f"{type(e).__name__}: {e}") from None


def _value_as(codec: str, b: bytes, allow_pickle: bool, fbs) -> Any:
    if codec == "empty":
        if b:
            raise Mismatch(f"{len(b)} bytes, not empty")
        return None
    if codec == "cbor":
        return jsonable(cbor_strict(b))
    if codec == "json":
        return jsonable(json.loads(_utf8(b)))
    if codec == "string":
        return _utf8(b)
    if codec == "bytes":
        return hexs(b)
    if codec == "flatbuffers":
        v = flatbuffers_raw(b)
        if v is None:
            raise Mismatch("no FlatBuffers table layout")
        return v
    if codec.startswith("flatbuffers:"):
        if fbs is None:
            raise Mismatch("no --fbs schema")
        v, err = fbs.decode(b, codec.split(":", 1)[1])
        if err is not None:
            raise Mismatch(err)
        return v
    if codec == "pickle":
        if not (is_pickle(b) or is_pickle5_framed(b)):
            raise Mismatch("no pickle protocol header")
        return jsonable(load_pickle(b)) if allow_pickle else "pickle (not loaded)"
    if codec == "numpy":
        if b[:6] != b"\x93NUMPY":
            raise Mismatch("no .npy header")
        import numpy as np

        return jsonable(np.load(io.BytesIO(b), allow_pickle=False))
    if codec.startswith("zlib+"):
        try:
            inner = zlib.decompress(b)
        except zlib.error as e:
            raise Mismatch(f"not zlib ({e})") from None
        return _value_as(codec[5:], inner, allow_pickle, fbs)
    if _key_plan(codec) is not None:  # uuid, oid, timestamp, bytes20+timestamp, ...
        return key_as(codec, b)
    raise Mismatch(f"no value codec {codec!r}")


def value_family(decoder: str) -> str:
    """The codec a built-in value decoder's name stands for (``numpy:float64[3]`` -> ``numpy``)."""
    if decoder.startswith("zlib+"):
        return "zlib+" + value_family(decoder[5:])
    return decoder.split(":", 1)[0] if decoder.startswith("numpy:") else decoder
