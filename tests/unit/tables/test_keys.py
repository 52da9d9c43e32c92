"""Keys as typed (tables/keys.py) over every key layout zlmdb offers: a prefix lands on the first key
with that prefix, a time on the first key of the period it names, composite keys part by part;
input that cannot be a key is an error naming the layout. On a raw database in both LMDB formats."""

from __future__ import annotations

import random
import struct
import uuid

import cbor2
import pytest
from conftest import FORMATS, open_db, raw_env, sha

from zlmdb_inspect.service import Query
from zlmdb_inspect.tables import keys

T0 = 1_764_547_200 * 10**9  # 2025-12-01T00:00:00Z
DAY = 86_400 * 10**9
SLOTS = {"uuid": 1, "string": 2, "oid": 3, "timestamp": 4, "timestamp+uuid": 5, "uuid+timestamp": 6,
         "oid+timestamp-le": 7}


def _keys(rng: random.Random) -> dict[str, list[bytes]]:
    uuids = [uuid.UUID(int=rng.getrandbits(128), version=4).bytes for _ in range(300)]
    times = [T0 + rng.randrange(90) * DAY + rng.randrange(86_400) * 10**9 for _ in range(300)]
    return {
        "uuid": uuids,
        "string": [f"user-{rng.randrange(10**6):06d}".encode() for _ in range(300)],
        "oid": [struct.pack(">Q", rng.randrange(1, 2**53)) for _ in range(300)],
        "timestamp": [struct.pack(">Q", t) for t in times],
        "timestamp+uuid": [struct.pack(">Q", t) + u for t, u in zip(times, uuids)],
        "uuid+timestamp": [u + struct.pack(">Q", t) for u, t in zip(uuids[:50] * 6, times)],
        "oid+timestamp-le": [struct.pack(">Q", 1000 + i % 20) + struct.pack("<Q", t) for i, t in enumerate(times)],
    }


@pytest.fixture(scope="module", params=FORMATS)
def db(request, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("keys") / f"db-{request.param}")
    made = _keys(random.Random(7))
    env = raw_env(path, request.param)
    with env.begin(write=True) as txn:
        for layout, ks in made.items():
            for i, k in enumerate(ks):
                txn.put(struct.pack(">H", SLOTS[layout]) + k, cbor2.dumps({"i": i}))
    env.close()
    before = sha(path)
    svc = open_db(path)
    snap = svc.snapshot()
    tables = {layout: svc.resolve_table(snap, str(slot)) for layout, slot in SLOTS.items()}
    yield svc, tables, {layout: sorted(set(ks)) for layout, ks in made.items()}
    svc.close()
    assert sha(path) == before


def _first(ks: list[bytes], pred) -> bytes:
    return next(k for k in ks if pred(k))


def test_the_layouts_are_inferred_as_named(db):
    svc, tables, _ = db
    for layout, t in tables.items():
        svc.parse_key(t, "hex:00")  # profiles the table
        assert svc.decoding(t).notes[0].startswith(f"keys {layout} (inferred)"), layout


def test_uuid_prefix_with_or_without_dashes(db):
    svc, tables, ks = db
    target = ks["uuid"][len(ks["uuid"]) // 2]
    text = str(uuid.UUID(bytes=target))
    for typed in (text[:6], text[:5], text[:13], text[:13].replace("-", ""), text.upper()[:8], text):
        digits = typed.replace("-", "").lower()
        seek = svc.seek_key(tables["uuid"], typed)
        assert seek.found == _first(ks["uuid"], lambda k, d=digits: k.hex().startswith(d)), typed
        assert seek.exact and seek.message is None


def test_a_uuid_prefix_that_no_key_has_says_so_and_lands_on_the_next(db):
    svc, tables, ks = db
    hexes = {k.hex()[:4] for k in ks["uuid"]}
    missing = next(f"{i:04x}" for i in range(0x10000) if f"{i:04x}" not in hexes and f"{i:04x}" < max(hexes))
    seek = svc.seek_key(tables["uuid"], missing)
    assert seek.found == _first(ks["uuid"], lambda k: k.hex() > missing) and not seek.exact
    assert seek.message == f"no key {missing}; showing the next one"


def test_uuid_input_that_is_no_uuid_names_the_layout(db):
    svc, tables, _ = db
    for bad in ("zzzz-not-a-key", "807c17z", "2026-01-01x", "807c-1771"):
        with pytest.raises(ValueError) as e:
            svc.parse_key(tables["uuid"], bad)
        assert "its keys are uuid (807c1771-f627-4b0f-9a3e-7a5e33d1c3b2, or its first digits: 807c17)" \
            in str(e.value), bad


def test_string_prefix(db):
    svc, tables, ks = db
    prefix = ks["string"][100][:8].decode()
    seek = svc.seek_key(tables["string"], prefix)
    assert seek.found == _first(ks["string"], lambda k: k.startswith(prefix.encode())) and seek.exact


def test_oid_number_exact_next_and_error(db):
    svc, tables, ks = db
    oid = struct.unpack(">Q", ks["oid"][42])[0]
    assert svc.seek_key(tables["oid"], str(oid)).found == ks["oid"][42]
    seek = svc.seek_key(tables["oid"], str(oid + 1))
    assert seek.found == ks["oid"][43] and not seek.exact  # OIDs are random: oid + 1 is (almost surely) no key
    with pytest.raises(ValueError, match=r"'zzz' cannot be a key of .*its keys are oid \(a number: 42\)"):
        svc.parse_key(tables["oid"], "zzz")


def test_time_prefix_is_the_start_of_its_period_and_to_its_end(db):
    svc, tables, ks = db
    t = tables["timestamp"]

    def ns(k: bytes) -> int:
        return struct.unpack(">Q", k[:8])[0]

    jan, feb = 1_767_225_600 * 10**9, 1_769_904_000 * 10**9  # 2026-01-01, 2026-02-01
    assert svc.seek_key(t, "2026-01").found == _first(ks["timestamp"], lambda k: ns(k) >= jan)
    assert svc.seek_key(t, "2026").found == _first(ks["timestamp"], lambda k: ns(k) >= jan)
    got = [r.raw_key[2:] for r in svc.query(t, Query("all", "", "2026-01", "2026-01")).records()]
    assert got == [k for k in ks["timestamp"] if jan <= ns(k) < feb] and got
    day = [r.raw_key[2:] for r in svc.query(t, Query("all", "", "2026-01-05", "2026-01-05")).records()]
    assert day == [k for k in ks["timestamp"] if jan + 4 * DAY <= ns(k) < jan + 5 * DAY]
    minute = ns(ks["timestamp"][150]) // (60 * 10**9) * 60 * 10**9
    text = keys_iso(minute)[:16]  # 2026-01-01T00:10
    assert svc.seek_key(t, text).found == _first(ks["timestamp"], lambda k: ns(k) >= minute)
    with pytest.raises(ValueError, match=r"its keys are timestamp \(an ISO time or its start"):
        svc.parse_key(t, "2026-13")


def keys_iso(ns: int) -> str:
    from zlmdb_inspect.core.times import ts_iso

    return ts_iso(ns)


def test_timestamp_then_uuid(db):
    svc, tables, ks = db
    k = ks["timestamp+uuid"][77]
    when = keys_iso(struct.unpack(">Q", k[:8])[0]).replace(".000000000Z", "")
    u = uuid.UUID(bytes=k[8:]).hex[:4]
    for typed in (f"{when} {u}", f"{when},{u}"):
        seek = svc.seek_key(tables["timestamp+uuid"], typed)
        assert seek.found == _first(ks["timestamp+uuid"], lambda x: x[:8] == k[:8] and x[8:].hex().startswith(u))
        assert seek.exact
    assert svc.seek_key(tables["timestamp+uuid"], when[:10]).found == \
        _first(ks["timestamp+uuid"], lambda x: keys_iso(struct.unpack(">Q", x[:8])[0])[:10] >= when[:10])


def test_uuid_then_time(db):
    svc, tables, ks = db
    k = ks["uuid+timestamp"][120]
    u = str(uuid.UUID(bytes=k[:16]))
    assert svc.seek_key(tables["uuid+timestamp"], u[:8]).found == _first(ks["uuid+timestamp"],
                                                                          lambda x: x[:16] == k[:16])
    month = keys_iso(struct.unpack(">Q", k[16:])[0])[:7]
    seek = svc.seek_key(tables["uuid+timestamp"], f"{u} {month}")
    assert seek.found == _first(ks["uuid+timestamp"], lambda x: x[:16] == k[:16] and
                                keys_iso(struct.unpack(">Q", x[16:])[0])[:7] >= month) and seek.exact
    with pytest.raises(ValueError, match=r"uuid \+ timestamp, typed part by part as \"UUID TIMESTAMP\""):
        svc.parse_key(tables["uuid+timestamp"], f"{u[:8]} {month}")  # a prefix must come last


def test_oid_then_little_endian_time_as_cfxdb_events(db):
    svc, tables, ks = db
    t = tables["oid+timestamp-le"]
    seek = svc.seek_key(t, "1005")
    assert seek.found == _first(ks["oid+timestamp-le"], lambda x: x[:8] == struct.pack(">Q", 1005)) and seek.exact
    k = ks["oid+timestamp-le"][33]
    when = keys_iso(struct.unpack("<Q", k[8:])[0])
    seek = svc.seek_key(t, f"{struct.unpack('>Q', k[:8])[0]},{when}")
    assert seek.found == k and seek.exact
    with pytest.raises(ValueError, match=r"are \(oid, timestamp-le\), ordered by their oid first"):
        svc.parse_key(t, when[:10])


def test_hex_and_text_force_a_reading(db):
    svc, tables, _ = db
    assert svc.parse_key(tables["uuid"], "text:807c17") == b"807c17"
    assert svc.parse_key(tables["oid"], "hex:00ff") == b"\x00\xff"


def test_to_of_a_key_typed_in_full_excludes_it():
    typed = keys.parse_typed("42", "oid")
    assert typed.stop == struct.pack(">Q", 42) and not typed.period
    prefix = keys.parse_typed("807c1", "uuid")
    assert (prefix.start, prefix.stop) == (bytes.fromhex("807c10"), bytes.fromhex("807c20"))
    assert keys.parse_typed("ffff", "uuid").stop is None


def test_time_periods():
    def iso(ns: int) -> str:
        return keys_iso(ns)

    for text, start, end in (("2026", "2026-01-01T00:00:00", "2027-01-01T00:00:00"),
                             ("2024-02", "2024-02-01T00:00:00", "2024-03-01T00:00:00"),
                             ("2026-12-31", "2026-12-31T00:00:00", "2027-01-01T00:00:00"),
                             ("2026-01-01T00:10", "2026-01-01T00:10:00", "2026-01-01T00:11:00"),
                             ("2026-01-01 23", "2026-01-01T23:00:00", "2026-01-02T00:00:00"),
                             ("2026-01-01T00:10:05.5Z", "2026-01-01T00:10:05.5", "2026-01-01T00:10:05.6")):
        span = keys.time_period(text)
        assert span is not None, text
        assert (iso(span[0]).rstrip("0Z").rstrip("."), iso(span[1]).rstrip("0Z").rstrip(".")) == \
            (start.rstrip("0").rstrip(".") if "." in start else start, end.rstrip("0").rstrip(".") if "." in end
             else end), text
    for bad in ("2026-13", "2026-02-30", "2026-01-01T24", "26-01", "2026/01"):
        assert keys.time_period(bad) is None, bad


def test_uuid_text_is_the_canonical_uuid_string():
    """The decoders' UUID text (built from the hex, not a UUID object) is ``str(uuid.UUID(...))``."""
    from zlmdb_inspect.tables.decode import key_as, uuid_text

    rnd = random.Random(5)
    for b in [bytes(16), b"\xff" * 16] + [rnd.randbytes(16) for _ in range(2000)]:
        assert uuid_text(b) == str(uuid.UUID(bytes=b))
        assert key_as("uuid", b) == str(uuid.UUID(bytes=b))
        assert key_as("oid+oid", b) == list(struct.unpack(">QQ", b))


@pytest.mark.parametrize("value", [12345, -1000, 2**40, b"\x01\x02", 1.5, None, True])
def test_cbor_of_every_major_type_is_read_once_tried_or_not(value, monkeypatch):
    """Values the first CBOR attempt skips (small ints, short byte strings, simple values) are read by the
    last one; bytes it tried and failed are not tried again."""
    from zlmdb_inspect.tables import decode

    calls: list[bytes] = []
    real = decode.cbor_strict
    monkeypatch.setattr(decode, "cbor_strict", lambda b: calls.append(b) or real(b))
    b = cbor2.dumps(value)
    assert decode.decode_value(b).decoder == "cbor", b
    assert decode.decode_value(b + b"\x00").decoder != "cbor"  # not one item spanning the value
    calls.clear()
    for bad in (b"\x85\x01", b"\xa2\x01\x02\x03", b"\xc1" + bytes(20)):  # array, map, tag: tried first, fail
        assert decode.decode_value(bad).decoder != "cbor"
    assert len(calls) == 3


def _shapes(rnd: random.Random) -> list[bytes]:
    now = 1_700_000_000 * 10**9
    out = [b"", b"a", b"ab", b"abc", "ключ".encode(), b"\xff\xfe", b"[x]", b'{"a": 1}', b'"s"', b"[1, 2]"]
    for _ in range(300):
        n = rnd.choice([1, 2, 3, 8, 12, 16, 17, 20, 24, 32, 40, 48, rnd.randint(0, 64)])
        out.append(rnd.randbytes(n))
        out.append(uuid.uuid4().bytes + rnd.choice([b"", struct.pack(">Q", now), uuid.uuid4().bytes, b"name"]))
        out.append(struct.pack(">Q", rnd.randint(0, 2**53)) + rnd.choice([b"", struct.pack("<Q", now), b"x.y"]))
        out.append(struct.pack(rnd.choice([">Q", "<Q"]), now + rnd.randint(-10**15, 10**15)))
        out.append(cbor2.dumps(rnd.choice([{"a": rnd.random(), "b": [1, "x"]}, [b"\x00" * 3], "text", 2**40, None])))
    return out


def test_the_inspection_reading_equals_the_named_codecs_reading():
    """Codec inference keeps a sample's reading by inspection as its reading by the adopted codec
    (inference.key_candidates_read / value_candidates_read): for every shape of key and value, that
    reading is exactly what ``key_as``/``value_as`` of the same name read."""
    from zlmdb_inspect.tables.decode import decode_value, key_as, value_as
    from zlmdb_inspect.tables.inference import key_candidates_read, value_candidates_read

    shapes = _shapes(random.Random(11))
    keys = values = 0
    for b in shapes:
        names, reading = key_candidates_read(b)
        if reading is not None:
            assert reading[0] in names
            assert key_as(reading[0], b) == reading[1], (b, reading)
            keys += 1
        names, reading = value_candidates_read(b)
        if reading is not None:
            assert reading[0] in names
            assert value_as(reading[0], b) == reading[1], (b, reading)
            assert decode_value(b).value == reading[1]
            values += 1
    assert keys == len(shapes) and values > len(shapes) // 2


def test_inference_takes_the_inspection_reading_as_the_fit():
    """A sample whose reading by inspection is by the adopted codec is not read again by it; one that is
    not (a misfit, another decoder) is."""
    from zlmdb_inspect.tables import inference

    keys = [uuid.UUID(int=i + 1).bytes for i in range(20)] + [b"not-a-uuid"]
    fits: list[tuple[str, bytes]] = []

    def fit(codec: str, b: bytes):
        fits.append((codec, b))
        return inference.key_as(codec, b)

    inf = inference.infer(keys, inference.key_candidates_read, fit, inference._KEY_PREFERENCE)
    assert inf.codec == "uuid" and inf.misfits == 1
    assert fits == [("uuid", b"not-a-uuid")]  # the uuids were read once, by inspection
    assert inf.fitted[:20] == [str(uuid.UUID(bytes=k)) for k in keys[:20]]
