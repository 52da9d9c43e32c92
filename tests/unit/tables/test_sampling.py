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
from zlmdb_inspect.tables.records import PREVIEW_BYTES


def _build(path: str, fmt: str) -> None:
    rnd = random.Random(5)
    env = raw_env(path, fmt, map_size=64 * 1024 * 1024)
    with env.begin(write=True) as txn:
        for i in range(600):
            key = uuid.UUID(bytes=rnd.randbytes(16), version=4).bytes
            if i % 97 == 5:
                key = b"\xff\xfe odd [bold]"  # a key unlike the rest
            value = cbor2.dumps({"n": i, "name": f"[red]x{i}", "at": 1_700_000_000 + i})
            if i % 89 == 7:
                value = b"\x00\x9f not cbor"  # a value unlike the rest
            elif i % 131 == 3:
                value = json.dumps({"n": i}).encode()
            elif i % 151 == 9:
                value = cbor2.dumps({"blob": b"\x01" * (PREVIEW_BYTES + 10)})  # past the preview
            txn.put(struct.pack(">H", 1) + key, value)
        for i in range(300):  # a table of mixed keys and values: read as bytes, sampled in part
            key = rnd.choice([rnd.randbytes(5), struct.pack(">Q", i), f"k{i}".encode()])
            txn.put(struct.pack(">H", 2) + key, rnd.choice([b"", rnd.randbytes(9), cbor2.dumps(i)]))
    env.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_sampled_records_equal_records_read_one_by_one(tmp_path, monkeypatch, fmt):
    path = str(tmp_path / "db")
    _build(path, fmt)
    svc = open_service(Options(path=path, sample=120))
    try:
        ref = svc.refresh()
        tables = [t for t in ref.snapshot.tables if t.slot]
        assert [t.slot for t in tables] == [1, 2]
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
        for t in tables:
            calls.update(key=0, value=0)
            prof, recs = codecs.learn(ins, t, t.records if t.slot == 1 else 120)  # all of table 1
            assert prof.keys.fitted is None and prof.values.fitted is None  # not kept with the profile
            assert calls == {"key": 0, "value": 0}  # the learning's readings were used
            codec = codecs.codec(t)
            assert len(recs) == t.records if t.slot == 1 else len(recs) >= 60
            if t.slot == 1:
                assert sum(r.truncated for r in recs) == 4 and sum(bool(r.error) for r in recs) >= 10
            for r in recs:
                again = codec.decode(r.raw_key, r.raw_value if not r.truncated else r.raw_value + b"\0",
                                     PREVIEW_BYTES)
                assert (again.key, again.value, again.decoders, again.error, again.error_kind) == \
                    (r.key, r.value, r.decoders, r.error, r.error_kind), r.raw_key
        cbor = codecs.codec(tables[0]).profile
        assert cbor.key_codec and cbor.value_codec  # table 1 adopts codecs; its misfits are flagged
    finally:
        svc.close()
