"""Built-in decoders for keys and values, for databases whose code we do not run.

Every decoder takes arbitrary bytes and never raises: it returns a
:class:`Decoded` with a JSON-ready value, the decoder's name and, where the
bytes were not what it expected, an error. JSON conventions (see README):
UUIDs as canonical strings, bytes as ``"hex:…"``, numpy datetime64 as ISO 8601
strings with nanoseconds and ``Z``, numpy scalars as numbers, arrays and
composite keys as JSON arrays.
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cbor2

from zlmdb_inspect.core.times import ts_iso

TS_MIN = 946_684_800 * 10**9  # 2000-01-01
TS_MAX = 4_102_444_800 * 10**9  # 2100-01-01
MAX_OID = 2**53  # zlmdb's OID range (exact in IEEE doubles)


@dataclass
class Decoded:
    value: Any
    decoder: str
    error: str | None = None


def hexs(b: bytes) -> str:
    return "hex:" + b.hex()


EMBEDDED_MAX = 1 << 20  # bytes larger than this stay hex: a field's bytes are decoded inline, not a blob


def embedded(b: bytes, depth: int = 0) -> dict[str, Any] | None:
    """``{"cbor_bytes": item}`` or ``{"json_bytes": doc}`` when a byte field holds one whole CBOR item
    or JSON document (cfxdb keeps a publication's args and kwargs as CBOR in a FlatBuffers byte
    vector), else None: the field then shows as ``"hex:…"``.

    Strict, so random bytes are not "decoded": one CBOR item must span every byte, and be an
    array, a map or printable text (never a lone int, simple value or tag, which a byte or two of
    anything parses as); JSON must be an object or array in UTF-8. Two bytes at least.
    """
    n = len(b)
    if n < 2 or n > EMBEDDED_MAX:
        return None
    if b[:1] in (b"{", b"[") and b.rstrip(b" \t\r\n")[-1:] in (b"}", b"]"):
        try:
            return {"json_bytes": jsonable(json.loads(b.decode("utf-8")), depth + 1)}
        except (ValueError, UnicodeDecodeError, RecursionError):
            pass
    major = b[0] >> 5
    if major not in (3, 4, 5) or b[0] & 0x1F == 0x1F:  # text, array, map; no indefinite lengths
        return None
    try:
        v = cbor_strict(b)
    except Exception:  # noqa: BLE001 - anything cbor2 refuses is not CBOR
        return None
    if isinstance(v, str) and not (v and (v.isprintable() or v.replace("\n", "").isprintable())):
        return None
    return {"cbor_bytes": jsonable(v, depth + 1)}


def jsonable(v: Any, depth: int = 0, embeds: bool = True) -> Any:
    """Convert what application and built-in decoders return into JSON-ready values.

    ``embeds``: bytes holding a CBOR or JSON document show it decoded (:func:`embedded`); keys pass
    False, their bytes are shown exactly.
    """
    if depth > 64:
        return "…(nested too deep)"
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        b = bytes(v)
        return (embedded(b, depth) if embeds else None) or hexs(b)
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, dict):
        return {str(jsonable(k, depth + 1, embeds)) if not isinstance(k, str) else k: jsonable(x, depth + 1, embeds)
                for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x, depth + 1, embeds) for x in v]
    if isinstance(v, (set, frozenset)):
        return sorted((jsonable(x, depth + 1, embeds) for x in v), key=lambda x: json.dumps(x, default=str))
    try:
        import numpy as np

        if isinstance(v, np.datetime64):
            return ts_iso(int(v.astype("datetime64[ns]").astype("int64")))
        if isinstance(v, np.ndarray):
            return jsonable(v.tolist(), depth + 1, embeds)
        if isinstance(v, np.generic):
            return jsonable(v.item(), depth + 1, embeds)
    except Exception:  # noqa: BLE001
        pass
    import datetime as dt

    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, cbor2.CBORTag):
        return {"cbor_tag": v.tag, "value": jsonable(v.value, depth + 1, embeds)}
    if hasattr(v, "marshal") and callable(v.marshal):
        try:
            return jsonable(v.marshal(), depth + 1, embeds)
        except Exception as e:  # noqa: BLE001
            return f"<{type(v).__name__}: marshal() failed: {e}>"
    return repr(v)


# -- keys ----------------------------------------------------------------------

def _is_ts(ns: int) -> bool:
    return TS_MIN <= ns <= TS_MAX


def _printable(b: bytes) -> str | None:
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return s if s and s.isprintable() else None


def _part(b: bytes) -> tuple[Any, str]:
    """One fixed-size key component by its length and content."""
    n = len(b)
    if n == 16:
        return str(uuid.UUID(bytes=b)), "uuid"
    if n == 8:
        be, le = struct.unpack(">Q", b)[0], struct.unpack("<Q", b)[0]
        if _is_ts(be) and _is_ts(le):  # both plausible: the one nearer to now
            now = time.time_ns()
            return (ts_iso(be), "timestamp") if abs(be - now) <= abs(le - now) else (ts_iso(le), "timestamp-le")
        if _is_ts(be):
            return ts_iso(be), "timestamp"
        if be <= MAX_OID:  # zlmdb OIDs are below 2**53; a little-endian timestamp is not
            return be, "oid"
        if _is_ts(le):
            return ts_iso(le), "timestamp-le"
        return be, "oid"
    if n in (20, 32):
        return hexs(b), f"bytes{n}"
    if n == 2:
        return struct.unpack(">H", b)[0], "uint16"
    if n == 1:
        return b[0], "uint8"
    s = _printable(b)
    if s is not None:
        return s, "string"
    return hexs(b), "bytes"


def _plausible_uuid(b: bytes) -> bool:
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
        s = _printable(b)
        if s is not None and n > 2:  # printable UTF-8 is text (a 20-character e-mail is not bytes20)
            return Decoded(s, "string")
        if n == 32 and _plausible_uuid(b[:16]) and _plausible_uuid(b[16:]):
            return Decoded([str(uuid.UUID(bytes=b[:16])), str(uuid.UUID(bytes=b[16:]))], "uuid+uuid")
        if n in (1, 2, 8, 16, 20, 32):
            v, name = _part(b)
            if name != "bytes":
                return Decoded(v, name)
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
                s = _printable(b[head:])
                if s is not None:
                    v, name = _part(b[:head])
                    return Decoded([v, s], f"{name}+string")
        if s is not None:
            return Decoded(s, "string")
        return Decoded(hexs(b), "bytes")
    except Exception as e:  # noqa: BLE001 - decoders never raise
        return Decoded(hexs(b), "bytes", f"{type(e).__name__}: {e}")


# -- values --------------------------------------------------------------------

def cbor_strict(b: bytes) -> Any:
    """Decode exactly one CBOR item that spans all of ``b``."""
    fp = io.BytesIO(b)
    dec = cbor2.CBORDecoder(fp)
    v = dec.decode()
    if fp.tell() != len(b):
        raise ValueError(f"{len(b) - fp.tell()} bytes after the CBOR item")
    return v


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
    if major in (4, 5, 6) or (n > 16 and major in (2, 3)):  # array, map, tag, long text/bytes
        try:
            return Decoded(jsonable(cbor_strict(b)), "cbor")
        except Exception:  # noqa: BLE001
            pass
    if n in (8, 16) and _printable(b) is None:
        v, name = _part(b)
        return Decoded(v, name)
    if n >= 12:
        v = flatbuffers_raw(b)
        if v is not None:
            return Decoded(v, "flatbuffers")
    s = _printable(b)
    if s is not None:
        return Decoded(s, "string")
    try:
        return Decoded(jsonable(cbor_strict(b)), "cbor")
    except Exception:  # noqa: BLE001
        pass
    return Decoded(hexs(b), "bytes")


# -- FlatBuffers without a schema -------------------------------------------------

def flatbuffers_raw(b: bytes) -> dict[str, Any] | None:
    """A FlatBuffers table's fields with raw scalars, strings and bytes, or None."""
    n = len(b)
    if n < 12:
        return None
    root = struct.unpack_from("<I", b, 0)[0]
    if root < 4 or root + 4 > n:
        return None
    vt = root - struct.unpack_from("<i", b, root)[0]
    if vt < 0 or vt + 4 > n:
        return None
    vt_size, tbl_size = struct.unpack_from("<HH", b, vt)
    if vt_size < 4 or vt_size % 2 or vt + vt_size > n or tbl_size < 4 or root + tbl_size > n:
        return None
    offsets = [struct.unpack_from("<H", b, vt + 4 + 2 * i)[0] for i in range((vt_size - 4) // 2)]
    present = sorted({o for o in offsets if o})
    if any(o < 4 or o >= tbl_size for o in present):
        return None
    out: dict[str, Any] = {}
    for i, o in enumerate(offsets):
        if not o:
            continue
        nxt = [p for p in present if p > o]
        size = (nxt[0] if nxt else tbl_size) - o
        pos = root + o
        out[f"field{i}"] = _fb_guess(b, pos, size)
    return out


def _fb_guess(b: bytes, pos: int, size: int) -> Any:
    if size >= 4:
        # a uoffset to a string or byte vector?
        rel = struct.unpack_from("<I", b, pos)[0]
        tgt = pos + rel
        if rel and tgt + 4 <= len(b):
            ln = struct.unpack_from("<I", b, tgt)[0]
            if tgt + 4 + ln <= len(b) and ln < len(b):
                data = b[tgt + 4:tgt + 4 + ln]
                if tgt + 4 + ln < len(b) and b[tgt + 4 + ln] == 0:
                    s = _printable(data)
                    if s is not None or ln == 0:
                        return s or ""
                if ln and size == 4:
                    return embedded(data) or hexs(data)
    if size >= 8:
        return struct.unpack_from("<Q", b, pos)[0]
    if size >= 4:
        return struct.unpack_from("<I", b, pos)[0]
    if size >= 2:
        return struct.unpack_from("<H", b, pos)[0]
    return b[pos]


# -- FlatBuffers with a binary schema (reflection) -----------------------------

class FbsSchemas:
    """Typed FlatBuffers decoding through ``.bfbs`` files and zlmdb's reflection classes."""

    def __init__(self, paths: list[str]):
        from zlmdb.flatbuffers.reflection.Schema import Schema

        self.objects: dict[str, Any] = {}
        self._schemas = []
        for p in paths:
            with open(p, "rb") as f:
                data = bytearray(f.read())
            try:
                schema = Schema.GetRootAs(data, 0)
                count = schema.ObjectsLength()
            except Exception as e:  # noqa: BLE001
                raise ValueError(f"{p}: not a binary FlatBuffers schema (.bfbs): {e}") from None
            self._schemas.append((schema, data))
            for i in range(count):
                obj = schema.Objects(i)
                name = obj.Name().decode()
                self.objects[name] = (schema, obj)
                self.objects.setdefault(name.rsplit(".", 1)[-1], (schema, obj))

    def type_for(self, table: str | None, explicit: dict[str, str]) -> str | None:
        if not table:
            return None
        bare = table.rsplit(".", 1)[-1]
        for key in (table, bare):
            if key in explicit:
                return explicit[key]
        for cand in (bare, bare[:-1] if bare.endswith("s") else None, bare + "s"):
            if cand and cand in self.objects:
                return cand
        return None

    def decode(self, b: bytes, type_name: str) -> tuple[Any, str | None]:
        ent = self.objects.get(type_name)
        if ent is None:
            return None, f"no FlatBuffers type {type_name!r} in the schemas given"
        schema, obj = ent
        try:
            root = struct.unpack_from("<I", b, 0)[0]
            return self._table(schema, obj, b, root, 0), None
        except Exception as e:  # noqa: BLE001
            return None, f"{type(e).__name__}: {e}"

    def _table(self, schema, obj, b: bytes, pos: int, depth: int) -> dict[str, Any]:
        from zlmdb.flatbuffers.reflection.BaseType import BaseType as BT

        if depth > 16:
            raise ValueError("FlatBuffers tables nested too deep")
        if pos + 4 > len(b):
            raise ValueError("table offset beyond the buffer")
        vt = pos - struct.unpack_from("<i", b, pos)[0]
        if vt < 0 or vt + 4 > len(b):
            raise ValueError("vtable offset beyond the buffer")
        vt_size = struct.unpack_from("<H", b, vt)[0]
        out: dict[str, Any] = {}
        fields = sorted((obj.Fields(i) for i in range(obj.FieldsLength())), key=lambda f: f.Id())
        scalar = {BT.Bool: "<?", BT.Byte: "<b", BT.UByte: "<B", BT.Short: "<h", BT.UShort: "<H",
                  BT.Int: "<i", BT.UInt: "<I", BT.Long: "<q", BT.ULong: "<Q", BT.Float: "<f",
                  BT.Double: "<d"}
        for f in fields:
            name = f.Name().decode()
            t = f.Type()
            bt = t.BaseType()
            slot = f.Offset()
            fo = struct.unpack_from("<H", b, vt + slot)[0] if slot + 2 <= vt_size else 0
            if bt in scalar:
                if fo:
                    out[name] = struct.unpack_from(scalar[bt], b, pos + fo)[0]
                else:
                    out[name] = bool(f.DefaultInteger()) if bt == BT.Bool else (
                        f.DefaultReal() if bt in (BT.Float, BT.Double) else f.DefaultInteger())
                continue
            if not fo:
                out[name] = None
                continue
            p = pos + fo
            tgt = p + struct.unpack_from("<I", b, p)[0]
            if bt == BT.String:
                ln = struct.unpack_from("<I", b, tgt)[0]
                out[name] = b[tgt + 4:tgt + 4 + ln].decode("utf-8", "replace")
            elif bt == BT.Vector:
                et = t.Element()
                ln = struct.unpack_from("<I", b, tgt)[0]
                if ln > len(b):
                    raise ValueError(f"vector {name} claims {ln} elements")
                if et in (BT.UByte, BT.Byte):
                    data = b[tgt + 4:tgt + 4 + ln]
                    out[name] = embedded(data) or hexs(data)
                elif et in scalar:
                    sz = struct.calcsize(scalar[et])
                    out[name] = [struct.unpack_from(scalar[et], b, tgt + 4 + i * sz)[0] for i in range(ln)]
                elif et == BT.String:
                    vals = []
                    for i in range(ln):
                        ep = tgt + 4 + 4 * i
                        st = ep + struct.unpack_from("<I", b, ep)[0]
                        sl = struct.unpack_from("<I", b, st)[0]
                        vals.append(b[st + 4:st + 4 + sl].decode("utf-8", "replace"))
                    out[name] = vals
                elif et == BT.Obj and not schema.Objects(t.Index()).IsStruct():
                    sub = schema.Objects(t.Index())
                    objs: list[dict[str, Any]] = []
                    for i in range(ln):
                        ep = tgt + 4 + 4 * i
                        objs.append(self._table(schema, sub, b, ep + struct.unpack_from("<I", b, ep)[0], depth + 1))
                    out[name] = objs
                else:
                    out[name] = f"<vector of type {et}>"
            elif bt == BT.Obj:
                sub = schema.Objects(t.Index())
                if sub.IsStruct():
                    out[name] = hexs(b[p:p + sub.Bytesize()])
                else:
                    out[name] = self._table(schema, sub, b, tgt, depth + 1)
            else:
                out[name] = f"<{bt}>"
        return out


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
        return str(uuid.UUID(bytes=b))
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


def key_as(codec: str, b: bytes) -> Any:
    """``b`` read as ``codec`` (a key codec name); :class:`Mismatch` when it does not fit."""
    if codec == "empty":
        if b:
            raise Mismatch(f"{len(b)} bytes, not empty")
        return ""
    parts = key_parts(codec)
    if parts is None:
        raise Mismatch(f"no key codec {codec!r}")
    fixed = sum(PART_SIZES.get(p, 0) for p in parts)
    variable = any(p in VARIABLE_PARTS for p in parts)
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
    if key_parts(codec) is not None:  # uuid, oid, timestamp, bytes20+timestamp, ...
        return key_as(codec, b)
    raise Mismatch(f"no value codec {codec!r}")


def value_family(decoder: str) -> str:
    """The codec a built-in value decoder's name stands for (``numpy:float64[3]`` -> ``numpy``)."""
    if decoder.startswith("zlib+"):
        return "zlib+" + value_family(decoder[5:])
    return decoder.split(":", 1)[0] if decoder.startswith("numpy:") else decoder


# the order in which codecs that read equally many sampled records are preferred
_KEY_PREFERENCE = ["empty", "string", "oid+timestamp-le+string", "oid+timestamp-le"]
_VALUE_PREFERENCE = ["empty", "flatbuffers:", "json", "uuid", "string"]


def _oid_ts(b: bytes) -> bool:
    return struct.unpack(">Q", b[:8])[0] <= MAX_OID and _is_ts(struct.unpack("<Q", b[8:16])[0])


def key_candidates(b: bytes) -> list[str]:
    """The key codecs that plausibly read ``b``: its inspection decoder and readings it also fits."""
    out = []
    if _printable(b) is not None:
        out.append("string")
    if len(b) == 16 and _oid_ts(b):  # zlmdb's OID + numpy datetime64[ns] (native byte order)
        out.append("oid+timestamp-le")
    if len(b) > 16 and _oid_ts(b[:16]) and _printable(b[16:]) is not None:
        out.append("oid+timestamp-le+string")
    nat = decode_key(b).decoder
    if nat not in out:
        out.append(nat)
    return out


def value_candidates(b: bytes, allow_pickle: bool = False, fbs=None, fbs_type: str | None = None) -> list[str]:
    """The value codecs that plausibly read ``b``."""
    out = []
    if fbs is not None and fbs_type and fbs.decode(b, fbs_type)[1] is None:
        out.append(f"flatbuffers:{fbs_type}")
    if len(b) == 16 and _plausible_uuid(b):
        out.append("uuid")
    if _printable(b) is not None:
        out.append("string")
    nat = value_family(decode_value(b, allow_pickle).decoder)
    if nat not in out:
        out.append(nat)
    return out


@dataclass
class Inferred:
    """What one side (keys or values) of a table's sample says about its codec."""

    codec: str | None  # None: the records mix codecs, each is decoded by inspection
    sampled: int
    misfits: int  # sampled records the codec does not read
    mix: dict[str, int]  # candidate codec -> sampled records it plausibly reads
    example: str | None = None  # why the first misfit does not fit

    def summary(self) -> str:
        top = sorted(self.mix.items(), key=lambda kv: -kv[1])[:4]
        return ", ".join(f"{c} {n}" for c, n in top)


def _rank(name: str, preference: list[str]) -> int:
    for i, p in enumerate(preference):
        if name == p or (p.endswith(":") and name.startswith(p)):
            return i
    return len(preference)


def infer(samples: list[bytes], candidates: Callable[[bytes], list[str]], fits: Callable[[str, bytes], Any],
          preference: list[str]) -> Inferred:
    """The codec that reads the most sampled records, if few enough records differ from it.

    A table adopts a codec when it reads more samples than it misses and at most
    one in five (or one) differs: those are the records to flag. Otherwise the
    table mixes codecs and records are decoded one by one.
    """
    mix: dict[str, int] = {}
    for b in samples:
        for c in candidates(b):
            mix[c] = mix.get(c, 0) + 1
    if not samples:
        return Inferred(None, 0, 0, {})
    best = min(mix, key=lambda c: (-mix[c], _rank(c, preference), c))
    misfits, example = 0, None
    for b in samples:
        try:
            fits(best, b)
        except Mismatch as e:
            misfits += 1
            example = example or str(e)
    n = len(samples)
    if n - misfits > misfits and misfits <= max(1, n // 5):
        return Inferred(best, n, misfits, mix, example)
    return Inferred(None, n, misfits, mix, example)


def infer_keys(samples: list[bytes]) -> Inferred:
    return infer(samples, key_candidates, key_as, _KEY_PREFERENCE)


def infer_values(samples: list[bytes], allow_pickle: bool = False, fbs=None,
                 fbs_type: str | None = None) -> Inferred:
    return infer(samples, lambda b: value_candidates(b, allow_pickle, fbs, fbs_type),
                 lambda c, b: value_as(c, b, allow_pickle, fbs), _VALUE_PREFERENCE)


# -- what zlmdb's map classes declare --------------------------------------------------

_TOKENS = re.compile(r"Oid3|Oid|Timestamp|String|Uuid|Bytes16|Bytes20|Bytes32|Uint16|Uint8|Uint64|Slot")
_TOKEN_PART = {"Oid": "oid", "Timestamp": "timestamp", "String": "string", "Uuid": "uuid",
               "Bytes16": "bytes16", "Bytes20": "bytes20", "Bytes32": "bytes32", "Uint16": "uint16",
               "Uint8": "uint8", "Uint64": "uint64", "Slot": "uint16"}
_VALUE_MIXINS = {"Cbor": "cbor", "Json": "json", "FlatBuffers": "flatbuffers", "Pickle": "pickle",
                 "Pickle5": "pickle"}


def declared(klass: type) -> tuple[str | None, str | None]:
    """The built-in (key, value) codecs of the types a zlmdb map class declares by its mixins."""
    key = value = None
    for base in klass.__mro__:
        m = re.fullmatch(r"_(\w+?)(Keys|Values)Mixin", base.__name__)
        if not m or base.__module__ != "zlmdb._types":
            continue
        body, side = m.groups()
        if side == "Keys" and key is None:
            key = _declared_key(body)
        elif side == "Values" and value is None:
            value = _VALUE_MIXINS.get(body) or _declared_key(body)
    return key, value


def _declared_key(body: str) -> str | None:
    if "Set" in body:
        return None
    tokens = _TOKENS.findall(body)
    if "".join(tokens) != body:
        return None
    parts: list[str] = []
    for t in tokens:
        parts += ["oid"] * 3 if t == "Oid3" else [_TOKEN_PART[t]]
    if body.startswith("OidTimestamp"):  # zlmdb writes these datetime64s with tobytes(): native order
        parts[1] = "timestamp-le"
    name = "+".join(parts)
    return name if key_parts(name) is not None else None
