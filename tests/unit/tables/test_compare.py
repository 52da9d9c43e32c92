"""tables.compare: records of two databases compared from their leaf pages, against a reference
built from LMDB's own cursor (dicts of every record), across formats and page layouts."""

from __future__ import annotations

import hashlib
import os
import random
import struct

import pytest
from conftest import FORMATS, raw_env, sha
from zlmdb import lmdb

from zlmdb_inspect.storage.inspector import Inspector
from zlmdb_inspect.tables.compare import checksums, compare

BIG = 9000  # over a page: stored on overflow pages


def _records(seed: int, n: int) -> dict[bytes, bytes]:
    rng = random.Random(seed)
    out = {}
    for i in range(n):
        slot = 1 + i % 3
        key = struct.pack(">H", slot) + rng.randbytes(16)
        out[key] = rng.randbytes(BIG) if i % 97 == 0 else rng.randbytes(rng.randint(10, 200))
    out[b"\0\0\0\x01"] = b"meta-1"  # a catalog record
    return out


def _write(path: str, fmt: str, recs: dict[bytes, bytes], order: list[bytes] | None = None) -> str:
    env = raw_env(path, fmt, map_size=256 << 20)
    with env.begin(write=True) as txn:
        for k in order if order is not None else recs:
            txn.put(k, recs[k])
    env.close()
    return path


def _read_all(path: str) -> dict[bytes, bytes]:
    env = lmdb.open(path, readonly=True, lock=False, map_size=0)
    with env.begin() as txn:
        out = dict(txn.cursor().iternext())
    env.close()
    return out


def _reference(a: dict[bytes, bytes], b: dict[bytes, bytes]) -> dict[int, tuple[int, int, int]]:
    """Per slot: (changed, only in a, only in b), from two dicts."""
    out: dict[int, list[int]] = {}
    for k in set(a) | set(b):
        s = struct.unpack(">H", k[:2])[0]
        row = out.setdefault(s, [0, 0, 0])
        if k in a and k in b:
            row[0] += a[k] != b[k]
        else:
            row[1 if k in a else 2] += 1
    return {s: tuple(v) for s, v in out.items() if any(v)}


def _diffs(res) -> dict[int, tuple[int, int, int]]:
    return {s: (d.changed, d.only_in_a, d.only_in_b) for s, d in res.diffs.items() if d.differs}


def _cmp(pa: str, pb: str, **kw):
    with Inspector(pa) as a, Inspector(pb) as b:
        return compare(a, b, **kw)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict[bytes, bytes]:
    return _records(1, 6000)


@pytest.mark.parametrize("fmt", FORMATS)
def test_byte_copy_is_identical_without_decoding(tmp_path, base, fmt):
    pa = _write(str(tmp_path / "a"), fmt, base)
    os.makedirs(tmp_path / "b")
    with open(os.path.join(pa, "data.mdb"), "rb") as f, open(tmp_path / "b" / "data.mdb", "wb") as g:
        g.write(f.read())
    before = sha(pa), sha(str(tmp_path / "b"))
    res = _cmp(pa, str(tmp_path / "b"))
    assert res.identical and res.records_a == res.records_b == len(base)
    assert res.records_merged == 0 and res.leaves_equal > 0  # every leaf compared as a page
    assert (sha(pa), sha(str(tmp_path / "b"))) == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_compacting_copy_and_other_format_are_identical(tmp_path, base, fmt):
    """A compacting copy (other page numbers, the overflow values elsewhere) and the same records
    written in the other format in another order (other leaves) hold the same records."""
    pa = _write(str(tmp_path / "a"), fmt, base)
    env = raw_env(pa, fmt, map_size=256 << 20)
    os.makedirs(tmp_path / "compact")
    env.copy(str(tmp_path / "compact"), compact=True)
    env.close()
    res = _cmp(pa, str(tmp_path / "compact"))
    assert res.identical and res.records_b == len(base), _diffs(res)
    other = "0.9" if fmt == "1.0" else "1.0"
    keys = sorted(base, reverse=True)
    pb = _write(str(tmp_path / "other"), other, base, keys)
    res = _cmp(pa, pb)
    assert res.identical and res.records_a == res.records_b == len(base), _diffs(res)
    assert res.leaves_equal == 0  # other layouts: merged record by record


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("other", ["same", "other"])
@pytest.mark.parametrize("chunk_s", [0.02, 0.0])
def test_differences_match_the_cursor_reference(tmp_path, base, fmt, other, chunk_s):
    """Changed values (inline, and one byte at the end of an overflow value), deleted and inserted
    records, against dicts read through LMDB's cursor; ``chunk_s=0`` resumes by key after every
    64 steps (hundreds of read transactions) and must find the same."""
    rng = random.Random(7)
    b = dict(base)
    keys = sorted(b)
    for k in rng.sample(keys, 40):
        del b[k]
    for k in rng.sample(keys, 40):
        if k in b:
            v = b[k]
            b[k] = v[:-1] + bytes([v[-1] ^ 1])  # the last byte: an overflow value compared whole
    for _ in range(30):
        b[struct.pack(">H", rng.choice([1, 2, 3, 9])) + rng.randbytes(16)] = b"new"
    pa = _write(str(tmp_path / "a"), fmt, base)
    pb = _write(str(tmp_path / "b"), fmt if other == "same" else ("0.9" if fmt == "1.0" else "1.0"), b)
    ref = _reference(_read_all(pa), _read_all(pb))
    assert ref  # the mutation made differences in several slots
    res = _cmp(pa, pb, chunk_s=chunk_s)
    assert not res.identical
    assert _diffs(res) == ref
    assert res.records_a == len(base) and res.records_b == len(b)
    if chunk_s == 0.0:
        assert res.chunks >= 5  # resumed by key several times
    for s, d in res.diffs.items():  # the first keys: in key order, each truly different
        ks = [k for _, k in d.first]
        assert ks == sorted(ks) and len(ks) == min(5, sum(ref[s]))
        for kind, k in d.first:
            assert {"changed": k in base and k in b and base[k] != b[k], "only_in_a": k in base and k not in b,
                    "only_in_b": k in b and k not in base}[kind]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_key_range_compares_only_its_records(tmp_path, base, fmt):
    b = dict(base)
    k1 = sorted(k for k in b if k[:2] == b"\0\x01")[10]
    k3 = sorted(k for k in b if k[:2] == b"\0\x03")[10]
    b[k1] = b"changed"
    b[k3] = b"changed"
    pa, pb = _write(str(tmp_path / "a"), fmt, base), _write(str(tmp_path / "b"), fmt, b)
    res = _cmp(pa, pb, start=b"\0\x03", end=b"\0\x04")
    assert _diffs(res) == {3: (1, 0, 0)}
    assert res.records_a == sum(1 for k in base if k[:2] == b"\0\x03")
    res = _cmp(pa, pb, start=b"\0\x02", end=b"\0\x03")  # leaves equal as pages, the last one shared with slot 3
    assert res.identical and res.leaves_equal > 0
    assert res.records_a == res.records_b == sum(1 for k in base if k[:2] == b"\0\x02")


@pytest.mark.parametrize("fmt", FORMATS)
def test_checksums_are_sha256_of_the_records_in_key_order(tmp_path, base, fmt):
    pa = _write(str(tmp_path / "a"), fmt, base)
    pb = _write(str(tmp_path / "b"), "0.9" if fmt == "1.0" else "1.0", base, sorted(base, reverse=True))
    want: dict[int, hashlib._Hash] = {}
    for k in sorted(_read_all(pa)):
        h = want.setdefault(struct.unpack(">H", k[:2])[0], hashlib.sha256())
        v = base[k]
        h.update(struct.pack(">I", len(k) - 2) + k[2:] + struct.pack(">I", len(v)) + v)
    with Inspector(pa) as ia, Inspector(pb) as ib:
        sa, sb = checksums(ia, chunk_s=0.0), checksums(ib)
        txnid = ia.current_meta()[0]
    assert {s: t.hexdigest for s, t in sa.sums.items()} == {s: h.hexdigest() for s, h in want.items()}
    assert {s: t.hexdigest for s, t in sb.sums.items()} == {s: t.hexdigest for s, t in sa.sums.items()}
    assert sa.txnids == [txnid]
    assert sum(t.records for t in sa.sums.values()) == len(base)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_overflow_value_changed_in_place_is_found(tmp_path, base, fmt):
    """A byte copy whose leaves are equal as pages but one overflow value differs in one byte (the
    leaf holds only its page number): the values are compared by bytes."""
    pa = _write(str(tmp_path / "a"), fmt, base)
    os.makedirs(tmp_path / "b")
    raw = bytearray(open(os.path.join(pa, "data.mdb"), "rb").read())
    key = sorted(k for k, v in base.items() if len(v) == BIG)[3]
    at = raw.find(base[key])
    assert at > 0 and raw.find(base[key], at + 1) < 0
    raw[at + BIG - 1] ^= 0xFF
    (tmp_path / "b" / "data.mdb").write_bytes(bytes(raw))
    res = _cmp(pa, str(tmp_path / "b"))
    assert _diffs(res) == {key[1]: (1, 0, 0)}
    assert res.diffs[key[1]].first == [("changed", key)]
    assert res.leaves_equal > 0


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("klen", [18, 17])
def test_across_formats_one_byte_a_missing_key_and_an_extra_last_key_are_found(tmp_path, fmt, klen):
    """Records merged across formats are compared as whole nodes, many at once: a large table in
    one format against the other format, with the last byte of the middle record's value and a
    middle byte of another value changed, one key missing and one key added after the last. Even
    keys (18 bytes) have equal nodes in both formats; odd ones (17) are padded in 1.0 and are
    compared by key and value bytes. Unchanged, the same records are identical."""
    rng = random.Random(11)
    recs = {b"\0\0\0\x01": b"meta-1"}
    while len(recs) < 30_001:
        recs[b"\0\x01" + rng.randbytes(klen - 2)] = rng.randbytes(rng.randint(20, 200))
    keys = sorted(recs)
    other = "0.9" if fmt == "1.0" else "1.0"
    pa = _write(str(tmp_path / "a"), fmt, recs)
    same = _cmp(pa, _write(str(tmp_path / "same"), other, recs, keys))
    assert same.identical and same.records_a == same.records_b == len(recs) and same.leaves_equal == 0
    b = dict(recs)
    mid, mid2, gone = keys[15_000], keys[9_000], keys[21_000]
    b[mid] = b[mid][:-1] + bytes([b[mid][-1] ^ 0x01])
    v = b[mid2]
    b[mid2] = v[:len(v) // 2] + bytes([v[len(v) // 2] ^ 0x80]) + v[len(v) // 2 + 1:]
    del b[gone]
    extra = b"\0\x01" + b"\xff" * (klen - 2)
    assert extra > keys[-1]
    b[extra] = b"new"
    res = _cmp(pa, _write(str(tmp_path / "b"), other, b, sorted(b)))
    assert _diffs(res) == {1: (2, 1, 1)}
    assert res.diffs[1].first == [("changed", mid2), ("changed", mid), ("only_in_a", gone), ("only_in_b", extra)]
    assert res.records_a == len(recs) and res.records_b == len(b)
