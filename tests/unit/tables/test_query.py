"""Whole-table queries equal a plain Python filter over the same records."""

from __future__ import annotations

import json
import os
import random
import re
import struct
import sys
import zlib

import cbor2
import jq
import pytest
from conftest import SUPPORT, raw_env, sha

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.storage.inspector import Inspector
from zlmdb_inspect.storage.pageformat import P_BRANCH, P_LEAF
from zlmdb_inspect.tables import query
from zlmdb_inspect.tables.records import TableCodecs

sys.path.insert(0, SUPPORT)
import cfxdb_like


@pytest.fixture(scope="module", params=["1.0", "0.9"])
def cfx(request, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("q") / f"cfx-{request.param}")
    facts = cfxdb_like.build(path, fmt=request.param, events=2500)
    return facts


def _open(path: str, imports: bool):
    ins = Inspector(path)
    cat = TableCodecs(Options(path=path, imports=["cfxdb_app"] if imports else []))
    return ins, cat, ins.snapshot()


def _all(ins, cat, table):
    return list(cat.iter_records(ins, table, None, None))


def _plain(q: query.Query, recs) -> list[bytes]:
    """The plain way: every record decoded, the filter in Python (and jq on each)."""
    out = []
    prog = jq.compile(q.expr) if q.kind == "jq" else None
    for r in recs:
        texts = [json.dumps(x, ensure_ascii=False, default=str) for x in (r.key, r.value)]
        if q.kind == "text":
            ok = any(q.expr.encode().lower() in t.encode().lower() for t in texts)
        elif q.kind == "regex":
            ok = any(re.search(q.expr, t) for t in texts)
        else:
            try:
                ok = any(o is True for o in prog.input_text(json.dumps({"key": r.key, "value": r.value},
                                                                     ensure_ascii=False, default=str)).all())
            except ValueError:
                ok = False
        if ok:
            out.append(r.raw_key)
    return out


def _run(ins, cat, table, q, **kw):
    sc = query.scan(ins, cat, table, q, **kw)
    return [r.raw_key for r in sc.records()], sc


def _needles(recs, rng, n=25) -> list[str]:
    """Substrings of the records' own JSON text: what a user would search for."""
    texts = [json.dumps(r.value, ensure_ascii=False, default=str) for r in recs] + \
            [json.dumps(r.key, ensure_ascii=False, default=str) for r in recs]
    out = []
    for _ in range(n):
        t = rng.choice(texts)
        a = rng.randrange(len(t))
        out.append(t[a:a + rng.randint(2, 9)])
    return out


@pytest.mark.parametrize("imports", [False, True])
def test_text_regex_jq_equal_a_plain_filter(cfx, imports):
    ins, cat, snap = _open(cfx["path"], imports)
    before = sha(cfx["path"])
    rng = random.Random(14)
    try:
        for bare in cfx["names"]:
            table = snap.table_by_slot(cfx["slots"][bare])
            recs = _all(ins, cat, table)
            assert len(recs) == table.records
            qs = [query.Query("text", s) for s in _needles(recs, rng)]
            qs += [query.Query("text", s) for s in ("example", "EXAMPLE.org", "lorem", "payload", "topic3",
                                                    "node-3", "2026-01-0", "c84e", "not CBOR", "hex:", "\\u", '"')]
            qs += [query.Query("regex", p) for p in (r"user00[12]\d@", r"topic[34]", r"^\[1000, ", r"lorem.*ipsum",
                                                     r"x{200}", r"hex:ff")]
            qs += [query.Query("jq", e) for e in ('.value.topic == "com.example.topic3"',
                                                  '.value.authid == "user-7"', '.value.session > 1003',
                                                  '.key == "user0005@example.org"',
                                                  '(.value | type) == "string"')]
            for q in qs:
                want = _plain(q, recs)
                got, sc = _run(ins, cat, table, q)
                assert got == want, (bare, q)
                assert sc.progress.scanned == table.records and sc.progress.done
                assert sc.progress.decoded <= table.records
    finally:
        ins.close()
    assert sha(cfx["path"]) == before


def test_the_prefilter_skips_decoding(cfx):
    ins, cat, snap = _open(cfx["path"], False)
    try:
        table = snap.table_by_slot(cfx["slots"]["Events"])
        got, sc = _run(ins, cat, table, query.Query("text", "topic3"))
        assert len(got) == table.records // 5
        # candidates: the matches, and values holding a 0x7f byte (maybe CBOR text in chunks)
        assert sc.progress.decoded < len(got) + table.records // 10
        got, sc = _run(ins, cat, table, query.Query("jq", '.value.topic == "com.example.topic3"'))
        assert len(got) == table.records // 5 and sc.progress.decoded < len(got) + table.records // 10
    finally:
        ins.close()
    # the application's marshal() may build any text: with --import every record is decoded
    ins, cat, snap = _open(cfx["path"], True)
    try:
        got2, sc2 = _run(ins, cat, snap.table_by_slot(table.slot), query.Query("text", "topic3"))
        assert got2 == got and sc2.progress.decoded == table.records
    finally:
        ins.close()


def _leaf_first_keys(path: str) -> list[bytes]:
    """The first key of every leaf page, in key order (the tree walked by hand)."""
    from zlmdb_inspect.storage.pageformat import PageFile

    pf = PageFile(os.path.join(path, "data.mdb"))
    meta = pf.current_meta()
    out = []

    def walk(pgno):
        flags, lower, upper, _ = pf.header(pgno, meta.last_pgno, "test")
        n = pf.numkeys(pgno, lower, upper)
        if flags & P_LEAF:
            out.append(pf.node_key(pgno, pf.node(pgno, 0)))
        elif flags & P_BRANCH:
            for i in range(n):
                walk(pf.child_pgno(pf.node(pgno, i)))

    walk(meta.main.root)
    pf.close()
    return out


def test_ranges_at_page_and_chunk_boundaries(cfx):
    ins, cat, snap = _open(cfx["path"], False)
    try:
        table = snap.table_by_slot(cfx["slots"]["Events"])
        recs = _all(ins, cat, table)
        keys = [r.raw_key for r in recs]
        prefix = struct.pack(">H", table.slot)
        bounds = [k for k in _leaf_first_keys(cfx["path"]) if k[:2] == prefix]
        assert len(bounds) > 5
        edges = bounds[1:4] + [bounds[-1], keys[0], keys[-1], keys[256], keys[257]]
        for a in edges:
            for b in edges + [None]:
                q = query.Query("text", "topic1", start="hex:" + a[2:].hex(),
                                stop=None if b is None else "hex:" + b[2:].hex())
                want = [k for k in _plain(q, recs) if k >= a and (b is None or k < b)]
                for chunk_max in (256, 50_000):  # chunks end every 256 records, or never
                    for pages in (True, False):  # leaf pages, or LMDB's cursor
                        got, sc = _run(ins, cat, table, q, chunk_max=chunk_max, pages=pages)
                        assert got == want, (a.hex(), b and b.hex(), chunk_max, pages)
        # prev-page key as a prefix range and the whole table by "all"
        got, sc = _run(ins, cat, table, query.Query("all"), chunk_max=256)
        assert got == keys and sc.progress.chunks >= len(keys) // 256
    finally:
        ins.close()


def test_cancel_in_the_middle(cfx):
    ins, cat, snap = _open(cfx["path"], False)
    try:
        table = snap.table_by_slot(cfx["slots"]["Events"])
        full, _ = _run(ins, cat, table, query.Query("all"))
        sc = query.scan(ins, cat, table, query.Query("all"), chunk_max=256)
        seen = []

        def on_progress(p):
            seen.append(p.scanned)
            if p.chunks == 2:
                sc.cancel()

        got = [r.raw_key for r in sc.records(on_progress=on_progress)]
        assert sc.progress.cancelled and not sc.progress.done
        assert 0 < len(got) < len(full) and got == full[:len(got)]
        assert sc.progress.scanned == len(got) and seen[-1] == len(got)
        # --limit stops early too
        sc = query.scan(ins, cat, table, query.Query("text", "topic2"), chunk_max=256)
        assert len(list(sc.records(limit=3))) == 3 and sc.progress.scanned < table.records
    finally:
        ins.close()


def test_progress_rate_and_eta():
    p = query.Progress(scanned=500, elapsed=2.0, total=1500)
    assert p.rate == 250 and p.eta_s == 4.0
    p.done = True
    assert p.eta_s is None


def test_bad_expressions_say_why():
    with pytest.raises(query.QueryError, match="bad jq expression"):
        query.compile_query(query.Query("jq", ".value.topic =="))
    with pytest.raises(query.QueryError, match="bad regular expression"):
        query.compile_query(query.Query("regex", "topic("))


def test_parse_the_tui_syntax():
    assert query.parse("re:^a.c") == query.Query("regex", "^a.c")
    assert query.parse("jq: .value.x == 1") == query.Query("jq", ".value.x == 1")
    assert query.parse("from:2026-01-01 to:hex:0002 alice bob") == \
        query.Query("text", "alice bob", "2026-01-01", "hex:0002")
    assert query.parse("from:abc") == query.Query("all", "", "abc", None)


def test_literals_only_where_the_text_is_stored():
    v = query.verbatim_literal
    assert v("example.org") == b"example.org"
    assert v("User0001") == b"user0001"
    for derived in ("true", "null", "hex:ab", "4c71-aa", "2026-01-01T00", "Message", "nan", "cbor_tag",
                    "Decimal('1", "IPv4Address", "e+20, 3", '", "'):
        assert v(derived) is None, derived
    assert v("\\u00e9lan") is None or v("\\u00e9lan") == b"lan"  # after a possible escape
    assert v("nalice") == b"alice"  # 'n' may end an escape (\n)
    assert query.regex_literals(r"user\d+@example\.org") == ["user", "@example.org"]
    assert query.regex_literals(r"(?i)alice") == []
    assert query.jq_literals('.value.a == "x" and .value.b > 1') == ["x"]
    assert query.jq_literals('.value.a == "x" or .value.b') == []
    assert query.jq_literals('.value.a == "x" | not') == []


def _odd_values() -> list[bytes]:
    """CBOR values whose JSON text holds text that is not stored as such, and fallbacks."""
    import datetime as dt
    import decimal
    import fractions
    import ipaddress
    import uuid

    items = [{"s": "stored text"}, {"u": uuid.UUID(int=0xABCDEF)}, {"t": dt.datetime(2026, 1, 2, tzinfo=dt.UTC)},
             {"d": decimal.Decimal("1.5")}, {"f": fractions.Fraction(1, 3)}, {"r": re.compile("alice.*bob")},
             {"ip": ipaddress.ip_address("10.1.2.3")}, {"b": b"\x01\x02bytes"}, {"n": float("nan")},
             {"set": {1, 2}}, {1: "int key"}, {(1, "tuple"): "tuple key"}, {"esc": "line\nbreak \"q\" \\ é"},
             {"tag": cbor2.CBORTag(4242, "tagged")}, {"simple": cbor2.CBORSimpleValue(99)}, {"u": cbor2.undefined}]
    out = [cbor2.dumps(x) for x in items]
    out.append(b"\x9f\x7f\x62al\x63ice\xff\xff")  # indefinite text in chunks: "al" + "ice"
    out.append(zlib.compress(cbor2.dumps({"z": "compressed alice"})))  # not CBOR: the fallback inflates it
    out.append(b'{"j": "\\u0061lice"}')  # JSON with an escape
    return out


@pytest.mark.parametrize("fmt", ["1.0", "0.9"])
def test_prefilter_never_skips_a_match_on_odd_values(tmp_path, fmt):
    path = str(tmp_path / "odd")
    env = raw_env(path, fmt)
    odd = _odd_values()
    with env.begin(write=True) as txn:
        for i in range(200):  # a plain CBOR table, so that its codec settles as cbor
            txn.put(struct.pack(">HQ", 1, i), cbor2.dumps({"i": i, "name": f"n{i}"}))
        for j, v in enumerate(odd):
            txn.put(struct.pack(">HQ", 1, 1000 + j), v)
    env.close()
    ins, cat, snap = _open(path, False)
    try:
        table = snap.table_by_slot(1)
        assert cat.profiled(ins, table).profile.value_codec == "cbor"
        recs = _all(ins, cat, table)
        texts = [json.dumps(r.value, ensure_ascii=False, default=str) for r in recs[200:]]
        needles = {t[a:b] for t in texts for a in range(len(t)) for b in range(a + 2, min(len(t), a + 9) + 1)}
        forced = query.raw_prefilter(cat.profiled(ins, table))
        assert forced is not None
        keys_texts = [(r, [json.dumps(r.key, ensure_ascii=False, default=str).encode().lower(),
                           json.dumps(r.value, ensure_ascii=False, default=str).encode().lower()]) for r in recs]
        skipped = 0
        for s in sorted(needles):  # the prefilter's promise, record by record
            lit = query.compile_query(query.Query("text", s)).literal
            low = s.encode().lower()
            for r, texts2 in keys_texts:
                if any(low in t for t in texts2):
                    assert lit is None or lit in r.raw_key.lower() or lit in r.raw_value.lower() \
                        or forced(r.raw_value), (s, r.value)
                elif lit is not None and not (lit in r.raw_key.lower() or lit in r.raw_value.lower()
                                              or forced(r.raw_value)):
                    skipped += 1
        assert skipped > len(needles)  # and it does skip
        for s in ("alice", "stored text", "tagged", "compressed", "int key", "tuple", "break"):
            q = query.Query("text", s)
            got, _ = _run(ins, cat, table, q)
            assert got == _plain(q, recs) and got, s
    finally:
        ins.close()
