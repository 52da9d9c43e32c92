"""A sample is decoded by the codecs it taught, each key and value read once (issue 24: a repeat
run's sampling read every sampled record twice), with the records it would give read one by one."""

from __future__ import annotations

import json
import random
import struct
import uuid

import cbor2
import pytest
from conftest import FORMATS, raw_env

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import open_service
from zlmdb_inspect.tables import decode
from zlmdb_inspect.tables.records import NOT_FITTED, PREVIEW_BYTES


def _build(path: str, fmt: str) -> None:
    rnd = random.Random(5)
    env = raw_env(path, fmt, map_size=64 * 1024 * 1024)
    with env.begin(write=True) as txn:
        for i in range(600):
            key = uuid.UUID(bytes=rnd.randbytes(16), version=4).bytes
            if i % 97 == 5:
                key = b"\xff\xfe odd [bold]%d" % i  # keys unlike the rest
            value = cbor2.dumps({"n": i, "name": f"[red]x{i}", "at": 1_700_000_000 + i})
            if i % 89 == 7:
                value = b"\x00\x9f not cbor"  # a value unlike the rest
            elif i % 131 == 3:
                value = json.dumps({"n": i}).encode()
            elif i % 151 == 9:
                value = cbor2.dumps({"blob": b"\x01" * (PREVIEW_BYTES + 10)})  # past the preview
            txn.put(struct.pack(">H", 1) + key, value)
        for i in range(300):  # keys of one codec, values of no one codec
            value = [cbor2.dumps({"i": i}), f"text {i}".encode(), rnd.randbytes(7), json.dumps([i]).encode()][i % 4]
            txn.put(struct.pack(">H", 2) + uuid.UUID(bytes=rnd.randbytes(16), version=4).bytes, value)
        for i in range(300):  # a table of mixed keys and values: read as bytes, sampled in part
            key = rnd.choice([rnd.randbytes(5), struct.pack(">Q", i), f"k{i}".encode()])
            txn.put(struct.pack(">H", 3) + key, rnd.choice([b"", rnd.randbytes(9), cbor2.dumps(i)]))
    env.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_sampled_records_equal_records_read_one_by_one(tmp_path, monkeypatch, fmt):
    path = str(tmp_path / "db")
    _build(path, fmt)
    svc = open_service(Options(path=path, sample=120))
    try:
        ref = svc.refresh()
        tables = {t.slot: t for t in ref.snapshot.tables if t.slot}
        assert sorted(tables) == [1, 2, 3]
        calls = {"key": 0, "value": 0}
        key_as, value_as = decode.key_as, decode.value_as

        def counting_key(*a, **k):
            calls["key"] += 1
            return key_as(*a, **k)

        def counting_value(*a, **k):
            calls["value"] += 1
            return value_as(*a, **k)

        monkeypatch.setattr(decode, "key_as", counting_key)
        monkeypatch.setattr(decode, "value_as", counting_value)
        ins, codecs = svc._inspector, svc._codecs
        for slot, t in tables.items():
            n = t.records if slot == 1 else 120  # all of table 1: its misfits and values past the preview
            calls.update(key=0, value=0)
            prof, recs = codecs.learn(ins, t, n)
            assert prof.keys.fitted is None and prof.values.fitted is None  # not kept with the profile
            assert calls == {"key": 0, "value": 0}  # the learning's readings were used
            assert len(recs) == t.records if slot == 1 else len(recs) >= 60
            for r in recs:
                again = svc.read_record(t, r.raw_key)  # the record read on its own, as the records view does
                assert again is not None
                assert (again.key, again.value, again.decoders, again.error, again.error_kind, again.size,
                        again.truncated) == (r.key, r.value, r.decoders, r.error, r.error_kind, r.size,
                                             r.truncated), r.raw_key
        one, two = codecs.codec(tables[1]).profile, codecs.codec(tables[2]).profile
        assert one.key_codec == "uuid" and one.value_codec == "cbor" and two.key_codec == "uuid"
        assert two.value_codec is None
        recs = codecs.learn(ins, tables[1], tables[1].records)[1]
        assert sum(r.truncated for r in recs) == 4 and sum(bool(r.error) for r in recs) >= 10
        big = next(r for r in recs if r.truncated)
        assert big.value.startswith(f"({big.size} bytes; showing the first {PREVIEW_BYTES}")
        assert big.size == len(cbor2.dumps({"blob": b"\x01" * (PREVIEW_BYTES + 10)}))
    finally:
        svc.close()


def test_a_reading_by_another_codec_is_not_used(tmp_path):
    """Another thread may learn the table again between the sample's learning and its decoding."""
    path = str(tmp_path / "db")
    _build(path, "1.0")
    svc = open_service(Options(path=path))
    try:
        ref = svc.refresh()
        t = next(t for t in ref.snapshot.tables if t.slot == 1)
        codec = svc._codecs.profiled(svc._inspector, t)
        rec = svc.read_record(t, next(r.raw_key for r in svc._codecs.learn(svc._inspector, t, 50)[1]
                                      if not r.error and not r.truncated))
        assert rec is not None and codec.profile.key_codec == "uuid"
        stale = (("string", "not this key"), ("json", {"not": "this value"}))
        again = codec.decode(rec.raw_key, rec.raw_value, PREVIEW_BYTES, stale)
        assert (again.key, again.value, again.error) == (rec.key, rec.value, rec.error)
        same = codec.decode(rec.raw_key, rec.raw_value, PREVIEW_BYTES, (("uuid", "fitted"), NOT_FITTED))
        assert same.key == "fitted"  # a reading by the profile's own codec is used as it is
    finally:
        svc.close()
