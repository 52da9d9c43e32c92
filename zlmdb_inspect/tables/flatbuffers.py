"""FlatBuffers values: fields guessed without a schema, or read through a binary schema (``--fbs``,
reflection). cfxdb and zlmdb's FlatBuffers tables store their records this way."""

from __future__ import annotations

import struct
from typing import Any

from zlmdb_inspect.tables.values import embedded, hexs, printable

# -- FlatBuffers without a schema -------------------------------------------------

def _fb_layout(b: bytes) -> tuple[int, list[int], list[int], int] | None:
    """A FlatBuffers table's root, its vtable's field offsets, the offsets present (sorted) and the
    table's size, or None where ``b`` does not hold one."""
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
    return root, offsets, present, tbl_size


def _fb_field(b: bytes, root: int, o: int, present: list[int], tbl_size: int) -> Any:
    nxt = [p for p in present if p > o]
    return _fb_guess(b, root + o, (nxt[0] if nxt else tbl_size) - o)


def flatbuffers_raw(b: bytes) -> dict[str, Any] | None:
    """A FlatBuffers table's fields with raw scalars, strings and bytes, or None."""
    lay = _fb_layout(b)
    if lay is None:
        return None
    root, offsets, present, tbl_size = lay
    return {f"field{i}": _fb_field(b, root, o, present, tbl_size) for i, o in enumerate(offsets) if o}


def flatbuffers_raw_field(b: bytes, index: int) -> tuple[Any] | None:
    """``(flatbuffers_raw(b).get(f"field{index}"),)`` without guessing the other fields; None where
    ``b`` holds no FlatBuffers table."""
    lay = _fb_layout(b)
    if lay is None:
        return None
    root, offsets, present, tbl_size = lay
    o = offsets[index] if 0 <= index < len(offsets) else 0
    return (_fb_field(b, root, o, present, tbl_size) if o else None,)


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
                    s = printable(data)
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
