"""A sampled record's time read off its parsed CBOR map equals the time of the record decoded for display."""

from __future__ import annotations

import struct

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from zlmdb_inspect.core.model import Table
from zlmdb_inspect.core.options import Options
from zlmdb_inspect.tables.records import Codec
from zlmdb_inspect.tables.timesource import TimeSource, time_of, value_time

T0 = 1_767_225_600  # 2026-01-01, seconds


def _codec(value_codec: str) -> Codec:
    """A table's codec that learnt CBOR (or JSON) values from a sample, as sampling does."""
    codec = Codec(Table(1, None, "T", None, None, 20, True), None, Options(path="."), None)
    values = [cbor2.dumps({"created": T0 + i, "name": f"n{i}"}) if value_codec == "cbor" else
              f'{{"created": {T0 + i}, "name": "n{i}"}}'.encode() for i in range(20)]
    prof, _ = codec.learn([(struct.pack(">Q", i), v) for i, v in enumerate(values)], "test")
    assert prof.value_codec == value_codec
    return codec


CODECS = {name: _codec(name) for name in ("cbor", "json")}

scalars = st.one_of(st.integers(-(2 ** 64), 2 ** 64), st.booleans(), st.none(), st.floats(allow_nan=True),
                    st.text(max_size=4), st.binary(max_size=6),
                    st.integers(T0, T0 + 10 ** 6).map(lambda t: cbor2.dumps({"at": t})))  # bytes that embed a map
keys = st.one_of(st.sampled_from(["created", "at", "meta", "x"]), st.integers(0, 3), st.booleans())
values = st.recursive(scalars, lambda inner: st.one_of(
    st.dictionaries(keys, inner, max_size=4), st.lists(inner, max_size=3),
    inner.map(lambda v: cbor2.CBORTag(1, v))), max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(values, st.sampled_from(["created", "meta.created", "meta.at", "created.at", "1", "meta.cbor_bytes.at",
                                 "created.value", "1.created"]),
       st.sampled_from([1, 10 ** 3, 10 ** 9]))
def test_cbor_time_equals_the_displayed_records(v, field, scale):
    """Maps with text and other keys (a number key shows as text), bytes holding a CBOR map (shown
    decoded), tags, booleans, nulls and floats at the field: the short way gives what the long way does."""
    codec = CODECS["cbor"]
    src = TimeSource(f"value:{field}", field=field, scale=scale)
    try:
        raw = cbor2.dumps(v)
    except (TypeError, ValueError, cbor2.CBOREncodeError):
        return
    key = b"\x00\x01" + struct.pack(">Q", 7)
    assert value_time(codec, src, key, raw) == time_of(src, key, codec.decode(key, raw).value)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.one_of(st.integers(-(2 ** 70), 2 ** 70), st.booleans(), st.none(), st.text(max_size=3)),
                    lambda inner: st.dictionaries(st.sampled_from(["created", "meta", "x"]), inner, max_size=3),
                    max_leaves=8),
       st.sampled_from(["created", "meta.created"]))
def test_json_time_equals_the_displayed_records(v, field):
    import json

    codec = CODECS["json"]
    src = TimeSource(f"value:{field}", field=field, scale=1)
    key = b"\x00\x01" + struct.pack(">Q", 7)
    for raw in (json.dumps(v).encode(), b"\xff" + json.dumps(v).encode()):  # (not UTF-8: the long way)
        assert value_time(codec, src, key, raw) == time_of(src, key, codec.decode(key, raw).value)


def test_a_damaged_value_is_read_the_long_way():
    codec = CODECS["cbor"]
    src = TimeSource("value:created", field="created", scale=1)
    key = b"\x00\x01" + struct.pack(">Q", 7)
    for raw in (b"", b"\xa1", cbor2.dumps({"created": T0}) + b"\x00", b"[not cbor]"):
        assert value_time(codec, src, key, raw) == time_of(src, key, codec.decode(key, raw).value)
    assert value_time(codec, src, key, cbor2.dumps({"created": T0})) == T0


def test_keys_that_are_not_text_are_read_the_long_way():
    """Display shows a number key as text and keeps the last of two keys that read alike: a map
    with any key that is not text is read the long way."""
    codec = CODECS["cbor"]
    key = b"\x00\x01" + struct.pack(">Q", 7)
    for v, field in (({1: T0}, "1"), ({"created": T0, 1: 2}, "created"), ({"1": T0, 1: T0 + 5}, "1"),
                     ({"meta": {2: T0}}, "meta.2"), ({True: T0}, "True")):
        src = TimeSource(f"value:{field}", field=field, scale=1)
        raw = cbor2.dumps(v)
        want = time_of(src, key, codec.decode(key, raw).value)
        assert value_time(codec, src, key, raw) == want
    assert want == T0  # (True shows as "True")


def _fb_table(fields: list) -> bytes:
    """A FlatBuffers table (no schema) of ``fields``: ("u64"|"u32"|"u16"|"u8", int), ("str", text),
    ("bytes", bytes) or None (absent)."""
    import flatbuffers

    b = flatbuffers.Builder(64)
    refs = {}
    for i, f in enumerate(fields):
        if f and f[0] == "str":
            refs[i] = b.CreateString(f[1])
        elif f and f[0] == "bytes":
            refs[i] = b.CreateByteVector(f[1])
    b.StartObject(len(fields))
    for i, f in enumerate(fields):
        if f is None:
            continue
        kind, v = f
        if i in refs:
            b.PrependUOffsetTRelativeSlot(i, refs[i], 0)
        else:
            add = {"u64": b.PrependUint64Slot, "u32": b.PrependUint32Slot, "u16": b.PrependUint16Slot,
                   "u8": b.PrependUint8Slot}[kind]
            add(i, v, v + 1)  # (never the default: always written)
    b.Finish(b.EndObject())
    return bytes(b.Output())


def _fb_codec() -> Codec:
    codec = Codec(Table(1, None, "T", None, None, 20, True), None, Options(path="."), None)
    vals = [_fb_table([("u64", T0 + i), ("str", f"n{i}"), ("u32", i)]) for i in range(20)]
    prof, _ = codec.learn([(struct.pack(">Q", i), v) for i, v in enumerate(vals)], "test")
    assert prof.value_codec == "flatbuffers"
    return codec


FB = _fb_codec()
fb_fields = st.lists(st.one_of(
    st.none(), st.tuples(st.just("u64"), st.integers(0, 2 ** 64 - 2)),
    st.tuples(st.just("u32"), st.integers(0, 2 ** 32 - 2)), st.tuples(st.just("u16"), st.integers(0, 2 ** 16 - 2)),
    st.tuples(st.just("u8"), st.integers(0, 254)), st.tuples(st.just("str"), st.text(max_size=5)),
    st.tuples(st.just("bytes"), st.one_of(st.binary(max_size=8), st.just(cbor2.dumps({"at": T0}))))),
    min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(fb_fields, st.integers(0, 7), st.binary(max_size=3))
def test_flatbuffers_field_time_equals_the_displayed_records(fields, index, tail):
    """Each field of a schemaless FlatBuffers value guessed alone (ints of each width, strings, byte
    vectors that may embed CBOR, absent fields, indices past the vtable) and damaged buffers: the
    same time as the record decoded for display."""
    key = b"\x00\x01" + struct.pack(">Q", 7)
    src = TimeSource(f"value:field{index}", field=f"field{index}", scale=1)
    raw = _fb_table(fields)
    for b in (raw, raw + tail, raw[:max(0, len(raw) - len(tail))], tail + raw):
        assert value_time(FB, src, key, b) == time_of(src, key, FB.decode(key, b).value)


def test_integers_too_long_to_print_and_paths_deeper_than_shown():
    """An integer Python will not print (shown as hex text) at the field or anywhere else in the value,
    and a field 64 and 65 levels down (display stops at 64): the short way as the long way."""
    codec = CODECS["cbor"]
    key = b"\x00\x01" + struct.pack(">Q", 7)
    huge = 10 ** 5000
    cases = [({"created": huge}, "created"), ({"created": T0, "m": {huge: 1}}, "created"),
             ({"created": T0, "s": cbor2.CBORTag(258, [huge])}, "created"),
             ({"created": T0, "b": cbor2.dumps({huge: 1})}, "created")]
    for depth in (63, 64, 65):
        v: object = T0
        for _ in range(depth):
            v = {"a": v}
        cases.append((v, ".".join(["a"] * depth)))
    for v, field in cases:
        src = TimeSource(f"value:{field}", field=field, scale=1)
        raw = cbor2.dumps(v)
        assert value_time(codec, src, key, raw) == time_of(src, key, codec.decode(key, raw).value), field[:20]
