"""``--compare`` and ``--checksum`` through the CLI: verdicts and exit codes, decoded first keys,
bad input (one line, exit 3), and both data.mdb files byte-identical afterwards."""

from __future__ import annotations

import json
import os
import shutil
import uuid

import pytest
from conftest import FORMATS, build_orm_db, raw_env, run_cli, sha
from zlmdb import lmdb


def _copy_records(src: str, dst: str, fmt: str, skip: frozenset[bytes] | set[bytes] = frozenset(),
                  change: dict | None = None) -> str:
    """``src``'s records written to a new database ``dst`` in format ``fmt`` (minus ``skip``,
    with ``change`` applied), in reverse key order (other leaves than the source's)."""
    env = lmdb.open(src, readonly=True, lock=False, map_size=0)
    with env.begin() as txn:
        recs = dict(txn.cursor().iternext())
    env.close()
    recs.update(change or {})
    out = raw_env(dst, fmt, map_size=64 << 20)
    with out.begin(write=True) as txn:
        for k in sorted(recs, reverse=True):
            if k not in skip:
                txn.put(k, recs[k])
    out.close()
    return dst


def _users_key(i: int) -> bytes:
    """The raw key of TUsers' record ``i`` in build_orm_db (slot found from the catalog)."""
    return uuid.UUID(int=i + 1).bytes


def _slot_of(path: str, name: str) -> int:
    r = run_cli(path, "--json", "--no-state")
    return next(t["slot"] for t in json.loads(r.stdout)["tables"] if (t["name"] or "").endswith(name))


@pytest.fixture
def pair(tmp_path, fmt):
    a = str(tmp_path / "a")
    build_orm_db(a, fmt, n=300)
    return a, fmt


def test_identical_across_formats_and_a_compacting_copy(tmp_path, pair):
    a, fmt = pair
    other = _copy_records(a, str(tmp_path / "other"), "0.9" if fmt == "1.0" else "1.0")
    env = raw_env(a, fmt, map_size=64 << 20)
    os.makedirs(tmp_path / "compact")
    env.copy(str(tmp_path / "compact"), compact=True)
    env.close()
    before = {p: sha(p) for p in (a, other)}
    for b in (other, str(tmp_path / "compact")):
        r = run_cli(a, "--compare", b)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert r.stdout.startswith("identical: ") and r.stderr == ""
        doc = json.loads(run_cli(a, "--compare", b, "--json").stdout)
        assert doc["identical"] is True and all(
            t["changed"] == t["only_in_a"] == t["only_in_b"] == 0 and t["records_a"] == t["records_b"]
            for t in doc["tables"])
        assert {t["slot"] for t in doc["tables"]} >= {0, 77}
    assert {p: sha(p) for p in (a, other)} == before


def test_differences_name_the_table_and_decoded_keys(tmp_path, pair):
    a, fmt = pair
    slot = _slot_of(a, "TUsers")
    prefix = slot.to_bytes(2, "big")
    gone, changed = prefix + _users_key(5), prefix + _users_key(9)
    env = lmdb.open(a, readonly=True, lock=False, map_size=0)
    with env.begin() as txn:
        old = txn.get(changed)
    env.close()
    b = _copy_records(a, str(tmp_path / "b"), fmt, skip={gone}, change={changed: old + b"x"})
    before = sha(a), sha(b)
    r = run_cli(a, "--compare", b)
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stdout.splitlines()
    assert lines[0] == "different: 1 of 5 tables differ"
    assert lines[1].endswith(f"TUsers (slot {slot}): 1 changed, 1 only in A, 0 only in B")
    assert lines[2:4] == [f"    only in A: {uuid.UUID(int=6)}", f"    changed: {uuid.UUID(int=10)}"]
    doc = json.loads(run_cli(a, "--compare", b, "--json").stdout)
    assert doc["identical"] is False
    row = next(t for t in doc["tables"] if t["slot"] == slot)
    assert (row["changed"], row["only_in_a"], row["only_in_b"]) == (1, 1, 0)
    assert row["first_keys"] == [
        {"key": str(uuid.UUID(int=6)), "key_hex": _users_key(5).hex(), "difference": "only_in_a"},
        {"key": str(uuid.UUID(int=10)), "key_hex": _users_key(9).hex(), "difference": "changed"}]
    assert all(not (t["changed"] or t["only_in_a"] or t["only_in_b"]) for t in doc["tables"] if t["slot"] != slot)
    # the other way round: only in B; and one table alone
    r = run_cli(b, "--compare", a, "--table", "TUsers")
    assert r.returncode == 1 and "0 changed" not in r.stdout and "1 only in B" in r.stdout
    r = run_cli(a, "--compare", b, "--table", "TPairs")
    assert r.returncode == 0 and r.stdout.startswith("identical: 1 table, 300 records hold the same keys and values")
    assert (sha(a), sha(b)) == before


def test_a_table_missing_on_one_side(tmp_path, pair):
    a, fmt = pair
    slot = _slot_of(a, "TPairs")
    prefix = slot.to_bytes(2, "big")
    env = lmdb.open(a, readonly=True, lock=False, map_size=0)
    with env.begin() as txn:
        drop = {k for k in txn.cursor().iternext(values=False) if k[:2] == prefix or k == b"\0\0" + prefix}
    env.close()
    b = _copy_records(a, str(tmp_path / "b"), fmt, skip=drop)
    r = run_cli(a, "--compare", b, "--table", "TPairs")
    assert r.returncode == 1
    assert f"TPairs (slot {slot}): only in A (300 records)" in r.stdout
    doc = json.loads(run_cli(a, "--compare", b, "--json").stdout)
    row = next(t for t in doc["tables"] if t["slot"] == slot)
    assert row["records_b"] is None and row["only_in_a"] == 300
    r = run_cli(a, "--compare", b, "--table", "Nope")
    assert r.returncode == 3 and r.stdout == ""
    assert r.stderr.startswith("zlmdb-inspect: error: table 'Nope' is in neither database")
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("fmt", ["1.0"])
def test_bad_input_is_one_line_and_exit_3(tmp_path, pair):
    a, _ = pair
    r = run_cli(a, "--compare", os.path.join(a, "data.mdb"))
    assert r.returncode == 0 and "are the same data.mdb" in r.stdout
    (tmp_path / "notdb").mkdir()
    (tmp_path / "random").mkdir()
    (tmp_path / "random" / "data.mdb").write_bytes(os.urandom(64 * 1024))
    trunc = tmp_path / "trunc"
    shutil.copytree(a, trunc)
    raw = (trunc / "data.mdb").read_bytes()
    (trunc / "data.mdb").write_bytes(raw[:len(raw) // 3])
    before = sha(a)
    for other in (tmp_path / "notdb", tmp_path / "missing", tmp_path / "random", trunc):
        for args in ((a, "--compare", str(other)), (str(other), "--compare", a)):
            r = run_cli(*args, "--json")
            lines = r.stderr.splitlines()
            assert r.returncode == 3 and r.stdout == "", (args, r.stdout, r.stderr)
            assert len(lines) == 1 and lines[0].startswith("zlmdb-inspect: error: ") and str(other) in lines[0]
    r = run_cli(a, "--checksum")
    assert r.returncode == 3 and "--checksum adds each table's checksum to --json" in r.stderr
    assert sha(a) == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_checksums_agree_across_formats(tmp_path, pair):
    a, fmt = pair
    b = _copy_records(a, str(tmp_path / "b"), "0.9" if fmt == "1.0" else "1.0")
    da = json.loads(run_cli(a, "--json", "--checksum", "--no-state").stdout)
    db = json.loads(run_cli(b, "--json", "--checksum", "--no-state").stdout)
    sa = {t["slot"]: t["checksum"] for t in da["tables"]}
    sb = {t["slot"]: t["checksum"] for t in db["tables"]}
    assert {s: c["sha256"] for s, c in sa.items()} == {s: c["sha256"] for s, c in sb.items()}
    assert len(set(c["sha256"] for c in sa.values())) == len(sa)
    assert all(c["txnid"] == da["lmdb"]["last_txnid"] and c["records"] == t["records"]
               for t in da["tables"] for c in [t["checksum"]])
    doc = json.loads(run_cli(a, "--compare", b, "--json", "--checksum").stdout)
    assert all(t["checksum"]["a"]["sha256"] == t["checksum"]["b"]["sha256"] == sa[t["slot"]]["sha256"]
               for t in doc["tables"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_damaged_leaf_is_exit_3(tmp_path, pair):
    """A copy whose last leaf page stores a wrong page number (LMDB still opens it): the walk finds
    the damage, and nothing is compared from a damaged tree."""
    a, fmt = pair
    bad = tmp_path / "bad"
    shutil.copytree(a, bad)
    raw = bytearray((bad / "data.mdb").read_bytes())
    ps, h = 4096, 24 if fmt == "1.0" else 16
    leaves = [p for p in range(2, len(raw) // ps)
              if int.from_bytes(raw[p * ps:p * ps + 8], "little") == p
              and int.from_bytes(raw[p * ps + h - 6:p * ps + h - 4], "little") & 0x02]
    p = leaves[-1]
    raw[p * ps:p * ps + 8] = (p + 7).to_bytes(8, "little")
    (bad / "data.mdb").write_bytes(bytes(raw))
    before = sha(str(bad))
    for args in ((a, "--compare", str(bad)), (str(bad), "--compare", a), (str(bad), "--json", "--checksum")):
        r = run_cli(*args)
        lines = r.stderr.splitlines()
        assert r.returncode == 3 and r.stdout == "", (args, r.stdout, r.stderr)
        assert len(lines) == 1 and "damaged" in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert sha(str(bad)) == before


def test_a_live_database_is_read_in_short_snapshots(tmp_path, fmt):
    """A writer adds 10 records a commit to A while A is compared with a byte copy taken before:
    chunks resumed by key read successive snapshots (several txnids), every record is counted
    once, nothing is reported changed or missing; after the writer, exactly what it added differs."""
    import subprocess
    import sys

    from conftest import SUPPORT

    from zlmdb_inspect.storage.inspector import Inspector
    from zlmdb_inspect.tables.compare import compare

    a = str(tmp_path / "a")
    env = raw_env(a, fmt, map_size=64 << 20)
    with env.begin(write=True) as txn:
        for n in range(20000):
            txn.put((1 + n % 3).to_bytes(2, "big") + (10**12 + n).to_bytes(8, "big"), b"v" * (n % 150))
    env.close()
    b = str(tmp_path / "b")
    shutil.copytree(a, b)
    writer = subprocess.Popen([sys.executable, os.path.join(SUPPORT, "writer_proc.py"), a, "3", fmt, "0",
                               str(64 << 20), "0"], stdout=subprocess.PIPE, text=True)
    try:
        seen: list[int] = []
        while writer.poll() is None:
            with Inspector(a) as ia, Inspector(b) as ib:
                res = compare(ia, ib, chunk_s=0.0)
            d = res.diffs
            assert sum(x.changed + x.only_in_b for x in d.values()) == 0
            assert res.records_a == res.records_b + sum(x.only_in_a for x in d.values())
            assert res.txnids_a == sorted(set(res.txnids_a)) and res.txnids_b == [res.txnids_b[0]]
            seen.append(len(res.txnids_a))
    finally:
        out = json.loads(writer.communicate(timeout=30)[0])
    assert max(seen) > 1  # a comparison read several snapshots of the live database
    r = run_cli(a, "--compare", b, "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and len(doc["a"]["txnids"]) == 1
    assert sum(t["only_in_a"] for t in doc["tables"]) == out["txns"] * 10
    assert sum(t["changed"] + t["only_in_b"] for t in doc["tables"]) == 0
