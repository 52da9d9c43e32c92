"""One codec per table, inferred from a sample of its records (the codec that reads the most wins,
ties broken by preference), or declared by the zlmdb map class an application attached."""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zlmdb_inspect.tables.decode import (
    MAX_OID,
    Mismatch,
    decode_key,
    decode_value,
    is_ts,
    key_as,
    key_parts,
    plausible_uuid,
    value_as,
    value_family,
)
from zlmdb_inspect.tables.values import printable

# the order in which codecs that read equally many sampled records are preferred
_KEY_PREFERENCE = ["empty", "string", "oid+timestamp-le+string", "oid+timestamp-le"]
_VALUE_PREFERENCE = ["empty", "flatbuffers:", "json", "uuid", "string"]


def _oid_ts(b: bytes) -> bool:
    return struct.unpack(">Q", b[:8])[0] <= MAX_OID and is_ts(struct.unpack("<Q", b[8:16])[0])


#: Value decoders whose reading by inspection is what ``value_as`` of the same name reads (the same
#: expression: tests/unit/tables/test_keys.py checks it); a sample read so is not read again to fit.
_SAME_READING = frozenset({"cbor", "json", "string", "bytes", "empty"})


def key_candidates_read(b: bytes) -> tuple[list[str], tuple[str, Any] | None]:
    """The key codecs that plausibly read ``b`` (its inspection decoder and readings it also fits), and
    the inspection decoder's reading of ``b`` (its name, its value), which is what ``key_as`` of that
    name reads (None where inspection stumbled)."""
    out = []
    if printable(b) is not None:
        out.append("string")
    if len(b) == 16 and _oid_ts(b):  # zlmdb's OID + numpy datetime64[ns] (native byte order)
        out.append("oid+timestamp-le")
    if len(b) > 16 and _oid_ts(b[:16]) and printable(b[16:]) is not None:
        out.append("oid+timestamp-le+string")
    d = decode_key(b)
    if d.decoder not in out:
        out.append(d.decoder)
    return out, ((d.decoder, d.value) if d.error is None else None)


def value_candidates_read(b: bytes, allow_pickle: bool = False, fbs=None,
                          fbs_type: str | None = None) -> tuple[list[str], tuple[str, Any] | None]:
    """The value codecs that plausibly read ``b``, and the inspection decoder's reading of ``b`` where it
    is what ``value_as`` of that name reads (CBOR, JSON, text, bytes, empty; None otherwise)."""
    out = []
    if fbs is not None and fbs_type and fbs.decode(b, fbs_type)[1] is None:
        out.append(f"flatbuffers:{fbs_type}")
    if len(b) == 16 and plausible_uuid(b):
        out.append("uuid")
    if printable(b) is not None:
        out.append("string")
    d = decode_value(b, allow_pickle)
    nat = value_family(d.decoder)
    if nat not in out:
        out.append(nat)
    return out, ((nat, d.value) if nat in _SAME_READING and d.error is None else None)


@dataclass
class Inferred:
    """What one side (keys or values) of a table's sample says about its codec."""

    codec: str | None  # None: the records mix codecs, each is decoded by inspection
    sampled: int
    misfits: int  # sampled records the codec does not read
    mix: dict[str, int]  # candidate codec -> sampled records it plausibly reads
    example: str | None = None  # why the first misfit does not fit
    #: per sample, what reading it with ``codec`` gave (its value, or the Mismatch raised), when a codec
    #: was adopted: the sample's records are then decoded without reading each a second time
    fitted: list[Any] | None = field(default=None, repr=False, compare=False)

    def summary(self) -> str:
        top = sorted(self.mix.items(), key=lambda kv: -kv[1])[:4]
        return ", ".join(f"{c} {n}" for c, n in top)


def _rank(name: str, preference: list[str]) -> int:
    for i, p in enumerate(preference):
        if name == p or (p.endswith(":") and name.startswith(p)):
            return i
    return len(preference)


def infer(samples: list[bytes], candidates: Callable[[bytes], tuple[list[str], tuple[str, Any] | None]],
          fits: Callable[[str, bytes], Any], preference: list[str]) -> Inferred:
    """The codec that reads the most sampled records, if few enough records differ from it.

    A table adopts a codec when it reads more samples than it misses and at most
    one in five (or one) differs: those are the records to flag. Otherwise the
    table mixes codecs and records are decoded one by one. ``candidates`` gives a sample's
    codecs and, optionally, one reading ``(codec, value)`` equal to ``fits(codec, sample)``:
    a sample whose reading is by the adopted codec is not read again.
    """
    mix: dict[str, int] = {}
    reads = []
    for b in samples:
        names, reading = candidates(b)
        reads.append(reading)
        for c in names:
            mix[c] = mix.get(c, 0) + 1
    if not samples:
        return Inferred(None, 0, 0, {})
    best = min(mix, key=lambda c: (-mix[c], _rank(c, preference), c))
    misfits, example = 0, None
    fitted: list[Any] = []
    for b, reading in zip(samples, reads, strict=True):
        if reading is not None and reading[0] == best:
            fitted.append(reading[1])
            continue
        try:
            fitted.append(fits(best, b))
        except Mismatch as e:
            fitted.append(e)
            misfits += 1
            example = example or str(e)
    n = len(samples)
    if n - misfits > misfits and misfits <= max(1, n // 5):
        return Inferred(best, n, misfits, mix, example, fitted)
    return Inferred(None, n, misfits, mix, example)


def infer_keys(samples: list[bytes]) -> Inferred:
    return infer(samples, key_candidates_read, key_as, _KEY_PREFERENCE)


def infer_values(samples: list[bytes], allow_pickle: bool = False, fbs=None,
                 fbs_type: str | None = None) -> Inferred:
    return infer(samples, lambda b: value_candidates_read(b, allow_pickle, fbs, fbs_type),
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
