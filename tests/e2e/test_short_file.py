"""A data.mdb shorter than its meta page says, and values whose overflow pages run past its end.

LMDB writes a page only when it commits it dirty: a page allocated at the end of the file and freed
again in the same transaction is counted by the meta page's ``last_pgno`` and never written. zlmdb's
``truncate()`` of a table does this nearly every time, so a healthy database's file is often a few
pages shorter than the meta page says; a file cut short of pages its trees use is damaged. LMDB's
cursors copy through the map without looking at the file's end (a page past it: SIGBUS), so they
run only once a walk has found no page of the tree there.
"""

from __future__ import annotations

import json
import os
import random
import struct
import uuid

import pytest
import zlmdb
from conftest import raw_env, run_cli, sha
from orm_tables import TPairs, TUsers
from zlmdb import lmdb

from zlmdb_inspect.core.errors import DamagedError, InspectError, NotWalkedError
from zlmdb_inspect.storage.inspector import Inspector
from zlmdb_inspect.storage.pageformat import F_BIGDATA, PageError, PageFile
from zlmdb_inspect.storage.walk import TreeWalker, _Walk, unwritten_pages_are_free
from zlmdb_inspect.tables.timesource import leading_candidates

USERS, LATE = 6000, 10  # from ~6,000 records a table (a tree of depth 3) every seed tried ends short


def pages(path: str) -> tuple[int, int]:
    """(pages the meta page counts, pages the file holds)."""
    pf = PageFile(os.path.join(path, "data.mdb"))
    try:
        return pf.current_meta().last_pgno + 1, pf.pages_in_file
    finally:
        pf.close()


def emptied_table_db(path: str, fmt: str, before=None) -> tuple[int, int]:
    """Two tables under random UUID keys, ten small commits, then one table emptied with zlmdb's own
    ``truncate()``: the first seed whose file ends short (nearly every one does); its page figures.
    ``before(path)`` builds more first."""
    for seed in range(20):
        if before is not None:
            before(path)
        rnd = random.Random(seed)
        db = zlmdb.Database(dbpath=path, maxsize=64 << 20, lib_version=fmt)
        users, pairs = db.attach_table(TUsers), db.attach_table(TPairs)
        with db.begin(write=True) as txn:
            for i in range(USERS):
                users[txn, uuid.UUID(int=rnd.getrandbits(128))] = {"name": f"u{i}", "n": i}
                pairs[txn, (uuid.UUID(int=rnd.getrandbits(128)), uuid.UUID(int=rnd.getrandbits(128)))] = {"i": i}
        for _ in range(LATE):
            with db.begin(write=True) as txn:
                users[txn, uuid.UUID(int=rnd.getrandbits(128))] = {"name": "late"}
        with db.begin(write=True) as txn:
            assert pairs.truncate(txn) == USERS
        db.__exit__(None, None, None)
        counted, held = pages(path)
        if counted > held:
            return counted, held
        for name in os.listdir(path):
            os.remove(os.path.join(path, name))
    pytest.fail("no seed left data.mdb shorter than its meta page says")


def lmdb_counts(path: str) -> dict[int, int]:
    out: dict[int, int] = {}
    env = lmdb.open(path, map_size=0, readonly=True, lock=False)  # either format
    with env.begin() as txn:
        for k, _ in txn.cursor():
            out[k[0] << 8 | k[1]] = out.get(k[0] << 8 | k[1], 0) + 1
    env.close()
    return out


def test_a_table_emptied_by_truncate_leaves_a_short_healthy_file(tmp_path, fmt):
    """Before the fix every mode refused it: "data.mdb holds 237 pages, its meta page says 238 are in
    use (truncated?)", exit 3, on a database zlmdb and LMDB read without complaint."""
    path = str(tmp_path / "db")
    counted, held = emptied_table_db(path, fmt)
    before = sha(path)
    want = lmdb_counts(path)
    for state in (["--no-state"], ["--state-dir", str(tmp_path / "st")], ["--state-dir", str(tmp_path / "st")]):
        r = run_cli(path, "--json", *state)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert not [p for p in doc["problems"] if p["kind"] == "damaged"], doc["problems"]
        assert {t["slot"]: t["records"] for t in doc["tables"] if t["records"]} == want
        assert doc["lmdb"]["entries"] == sum(want.values())
        users = next(t for t in doc["tables"] if t["name"] and t["name"].endswith("TUsers"))
        pairs = next(t for t in doc["tables"] if t["name"] and t["name"].endswith("TPairs"))
        assert (users["records"], pairs["records"]) == (USERS + LATE, 0)
        # LMDB's figure, as mdb_stat gives it: the unwritten pages count as used
        assert doc["capacity"]["used_bytes"] == counted * doc["lmdb"]["page_size"] > doc["capacity"]["file_size"]
        assert doc["capacity"]["file_size"] == held * doc["lmdb"]["page_size"]
    r = run_cli(path, "--check", "--no-state")
    assert r.returncode in (0, 1) and r.stdout.startswith(("ZLMDB OK", "ZLMDB WARNING")), r.stdout + r.stderr
    r = run_cli(path, "--dump", "TUsers", "--no-state")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == USERS + LATE
    assert sha(path) == before


def _tree_page_at_the_end(path: str) -> int:
    """The highest page of the file that no free-list record names (a page of a tree)."""
    pf = PageFile(os.path.join(path, "data.mdb"))
    try:
        meta = pf.current_meta()
        w = _Walk(TreeWalker(), pf, meta, remember=False)
        w.free_db(meta)
        free = set(w.free_lists.tolist())
        return max(p for p in range(2, pf.pages_in_file) if p not in free)
    finally:
        pf.close()


def test_a_short_file_cut_where_a_tree_has_pages_is_damaged(tmp_path, fmt):
    path = str(tmp_path / "db")
    emptied_table_db(path, fmt)
    assert unwritten_pages_are_free(*_meta_of(path))
    os.truncate(os.path.join(path, "data.mdb"), _tree_page_at_the_end(path) * 4096)
    assert not unwritten_pages_are_free(*_meta_of(path))
    for mode in (["--json"], ["--check"], ["--dump", "TUsers"]):
        r = run_cli(path, *mode, "--no-state", timeout=60)
        assert r.returncode == 3, (mode, r.returncode, r.stderr)
        assert "are in use (truncated?)" in r.stderr and len(r.stderr.splitlines()) == 1, (mode, r.stderr)


def _meta_of(path: str):
    pf = PageFile(os.path.join(path, "data.mdb"))
    return pf, pf.current_meta()


def test_lmdb_cursors_wait_for_a_walk_of_a_short_file(tmp_path):
    """Page reads (bounds-checked) go on at once; LMDB's cursors only once a walk found no page of the
    tree past the file's end (a damaged or hostile tree could point there)."""
    path = str(tmp_path / "db")
    emptied_table_db(path, "1.0")

    def first_key(txn, pf, meta):
        cur = txn.cursor()
        return bytes(cur.key()) if cur.first() else None

    ins = Inspector(path)
    try:
        assert ins.read(lambda txn, pf, meta: pf.pages_in_file, bounded=True) < ins.read(
            lambda txn, pf, meta: meta.last_pgno + 1, bounded=True)
        with pytest.raises(InspectError, match="no walk has shown yet that the tree uses none"):
            ins.read(first_key)
        snap = ins.snapshot()
        assert not snap.damaged
        assert ins.read(first_key)[:2] == b"\0\0"
        ins._proven = None  # as when the file grows between refreshes and stays short: walked again at once
        assert ins.read(first_key)[:2] == b"\0\0" and ins._proven is not None
    finally:
        ins.close()
    assert issubclass(DamagedError, InspectError)


def overflow_past_the_end(path: str, fmt: str) -> None:
    """A table's value on overflow pages whose node claims more pages than the file holds after it
    (a damaged or hostile size): LMDB's cursor would copy it through the map past the file's end."""
    env = raw_env(path, fmt)
    with env.begin(write=True) as txn:
        for i in range(20):
            txn.put(b"\0\x01" + struct.pack(">Q", i), json.dumps({"i": i}).encode())
        txn.put(b"\0\x01" + struct.pack(">Q", 100), json.dumps({"big": "x" * 10000}).encode())
    env.close()
    pf, meta = _meta_of(path)
    try:
        raw = bytearray(open(os.path.join(path, "data.mdb"), "rb").read())
        node = None
        for pgno in range(2, pf.pages_in_file):
            try:
                flags, lower, upper, _ = pf.header(pgno, meta.last_pgno, "a page")
            except PageError:  # an overflow value's continuation (no header)
                continue
            if flags & 0x02:  # a leaf
                for i in range(pf.numkeys(pgno, lower, upper)):
                    off = pf.node(pgno, i)
                    if struct.unpack_from("<H", raw, off + 4)[0] & F_BIGDATA:
                        node = off
        size = 4096 * (pf.pages_in_file + 50)
    finally:
        pf.close()
    assert node is not None
    struct.pack_into("<HH", raw, node, size & 0xFFFF, size >> 16)
    with open(os.path.join(path, "data.mdb"), "wb") as f:
        f.write(bytes(raw))


def test_an_overflow_value_past_the_end_of_the_file_is_damage_not_sigbus(tmp_path, fmt):
    """Before the fix, --json died of SIGBUS (exit 135): the walk counted the value's pages from its
    size without checking where they lie, and sampling read it through LMDB's cursor."""
    path = str(tmp_path / "db")
    overflow_past_the_end(path, fmt)
    before = sha(path)
    for state in (["--no-state"], ["--state-dir", str(tmp_path / "st")]):
        r = run_cli(path, "--json", *state, timeout=60)
        assert r.returncode == 0, (r.returncode, r.stderr)
        problems = [p["message"] for p in json.loads(r.stdout)["problems"] if p["kind"] == "damaged"]
        assert len(problems) == 1 and "a value on overflow pages runs outside the file's pages" in problems[0]
    r = run_cli(path, "--check", "--no-state", timeout=60)
    assert r.returncode == 2 and "a value on overflow pages runs outside" in r.stdout, (r.returncode, r.stdout)
    r = run_cli(path, "--dump", "slot 1", "--no-state", timeout=60)  # the table as listed (no metadata record)
    assert r.returncode == 3 and "records are not read from a damaged tree" in r.stderr, (r.returncode, r.stderr)
    assert sha(path) == before


def test_a_table_without_metadata_is_dumped_by_its_listed_name(tmp_path):
    path = str(tmp_path / "db")
    env = raw_env(path, "1.0")
    with env.begin(write=True) as txn:
        for i in range(5):
            txn.put(b"\0\x02" + struct.pack(">Q", i), b"v")
    env.close()
    for ref in ("slot 2", "SLOT 2", "2"):
        r = run_cli(path, "--dump", ref, "--no-state")
        assert r.returncode == 0 and len(r.stdout.splitlines()) == 5, (ref, r.stderr)
    r = run_cli(path, "--dump", "slot 9", "--no-state")
    assert r.returncode == 3 and r.stderr.strip().endswith("no table in slot 9"), r.stderr


def test_leading_time_keys_are_read_from_the_pages_until_a_walk(tmp_path):
    """Which tables lead their keys with a time is found before the walk (the walk buckets their
    records by hour): through LMDB's cursor, or from the pages while the cursor must wait."""
    import time_tables

    ticks = time_tables.times([400] * 3)
    path = str(tmp_path / "db")
    emptied_table_db(path, "1.0", before=lambda p: time_tables.build(p, "1.0", ticks=ticks))
    ins = Inspector(path)
    try:
        with pytest.raises(NotWalkedError):
            ins.read(lambda txn, pf, meta: txn.cursor().first())
        from_pages = leading_candidates(ins)
        assert not ins.snapshot().damaged
        slot = next(t.slot for t in ins.snapshot().tables if t.name == "Ticks")
        assert leading_candidates(ins) == from_pages == {slot: (min(ticks), max(ticks))}
    finally:
        ins.close()
    r = run_cli(path, "--json", "--no-state")  # one run: the time the walk counted, exact, from its first snapshot
    assert r.returncode == 0, r.stderr
    time = next(t for t in json.loads(r.stdout)["tables"] if t["name"] == "Ticks")["time"]
    assert (time["source"], time["exact"]) == ("key", True)
    assert {d["day"]: d["records"] for d in time["days"]} == time_tables.by_day(ticks)
