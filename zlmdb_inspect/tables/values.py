"""Values made JSON-ready: bytes as ``"hex:…"``, bytes holding one CBOR or JSON document shown
decoded, numpy and application objects as plain data. Every decoder's output passes through here."""

from __future__ import annotations

import io
import json
import math
import uuid
from typing import Any

import cbor2

from zlmdb_inspect.core.times import ts_iso


def printable(b: bytes) -> str | None:
    """``b`` as text when it is non-empty printable UTF-8, else None."""
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return s if s and s.isprintable() else None


def cbor_strict(b: bytes) -> Any:
    """Decode exactly one CBOR item that spans all of ``b``."""
    fp = io.BytesIO(b)
    dec = cbor2.CBORDecoder(fp)
    v = dec.decode()
    if fp.tell() != len(b):
        raise ValueError(f"{len(b) - fp.tell()} bytes after the CBOR item")
    return v


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


#: Integers up to this many bits are shown as numbers; longer ones (a hostile value's: Python prints
#: none of over 4,300 decimal digits, and json.dumps raised on them) as hexadecimal text.
INT_BITS_SHOWN = 14_000
JSONABLE_DEPTH = 64  # levels of nesting shown; deeper, a note


def jsonable(v: Any, depth: int = 0, embeds: bool = True) -> Any:
    """Convert what application and built-in decoders return into JSON-ready values.

    ``embeds``: bytes holding a CBOR or JSON document show it decoded (:func:`embedded`); keys pass
    False, their bytes are shown exactly.
    """
    if depth > JSONABLE_DEPTH:
        return "…(nested too deep)"
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v if v.bit_length() <= INT_BITS_SHOWN else hex(v)
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
