"""--dump with --where, --grep, --from/--to, --limit, --format csv and --follow."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time

import jq
import pytest
from conftest import SUPPORT, raw_env, run_cli, sha

sys.path.insert(0, SUPPORT)
import cfxdb_like

TESTS = SUPPORT


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "zlmdb_inspect", *args], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.fixture(scope="module", params=["1.0", "0.9"])
def cfx(request, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("dq") / f"cfx-{request.param}")
    return cfxdb_like.build(path, fmt=request.param)


def _lines(r: subprocess.CompletedProcess) -> list[dict]:
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in r.stdout.splitlines()]


@pytest.mark.parametrize("imports", [[], ["--import", "cfxdb_app"]])
def test_where_and_grep_equal_a_filter_over_the_dump(cfx, imports):
    before = sha(cfx["path"])
    everything = _lines(_cli(cfx["path"], "--dump", "Events", *imports))
    assert len(everything) == cfx["counts"]["Events"]
    prog = jq.compile('.value.topic == "com.example.topic3" and .value.session > 1002')
    want = [d for d in everything if prog.input_value({"key": d["key"], "value": d["value"]}).first() is True]
    got = _lines(_cli(cfx["path"], "--dump", "Events", *imports,
                      "--where", '.value.topic == "com.example.topic3" and .value.session > 1002'))
    assert got == want and got
    rx = re.compile(r"topic[12]")
    want = [d for d in everything if rx.search(json.dumps(d["key"], ensure_ascii=False))
            or rx.search(json.dumps(d["value"], ensure_ascii=False))]
    got = _lines(_cli(cfx["path"], "--dump", "Events", *imports, "--grep", r"topic[12]", "--limit", "7"))
    assert got == want[:7]
    assert sha(cfx["path"]) == before


def test_from_to_is_a_half_open_range(cfx):
    everything = _lines(_cli(cfx["path"], "--dump", "Users"))
    keys = [d["key"] for d in everything]
    got = _lines(_cli(cfx["path"], "--dump", "Users", "--from", keys[5], "--to", keys[9]))
    assert [d["key"] for d in got] == keys[5:9]


def test_a_time_on_keys_not_in_time_order_is_an_error_that_says_how(cfx):
    """cfxdb's Events keys are an OID, then a little-endian time: --from DATE compared the date with the OID
    and printed nothing. Now: exit 3, the key layout named, and the --where it suggests does the filtering."""
    everything = _lines(_cli(cfx["path"], "--dump", "Events"))
    when = sorted(d["key"][1] for d in everything)[len(everything) // 2]
    for flag in ("--from", "--to"):
        r = _cli(cfx["path"], "--dump", "Events", flag, when[:16])
        assert r.returncode == 3 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "are (oid, timestamp-le)" in r.stderr and "ordered by their oid first" in r.stderr, r.stderr
        hint = r.stderr.split("--where ", 1)[1].split(" (or search", 1)[0]
        assert hint == f"'.key[1] >= \"{when[:16]}\"'", r.stderr
    got = _lines(_cli(cfx["path"], "--dump", "Events", "--where", f'.key[1] >= "{when}"'))
    assert got == [d for d in everything if d["key"][1] >= when] and got
    # keys that are not times are unaffected: an OID still starts the range
    oid = everything[0]["key"][0]
    assert _lines(_cli(cfx["path"], "--dump", "Events", "--from", str(oid), "--limit", "1"))[0]["key"][0] == oid


def test_bad_expressions_are_one_line_and_exit_3(cfx):
    for args in (["--where", ".value.topic =="], ["--grep", "topic("], ["--where", ".a", "--grep", "b"]):
        r = _cli(cfx["path"], "--dump", "Events", *args)
        assert r.returncode == 3 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert r.stderr.startswith("zlmdb-inspect: error: ")


def test_format_csv(cfx):
    r = _cli(cfx["path"], "--dump", "Users", "--format", "csv", "--import", "cfxdb_app")
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0][:5] == ["key", "oid", "email", "authid", "created"]
    assert len(rows) == 1 + cfx["counts"]["Users"]
    assert {row[2] for row in rows[1:]} == set(cfx["emails"])


def test_follow_prints_each_change_and_ends_cleanly_on_ctrl_c(tmp_path):
    path = str(tmp_path / "db")
    env = raw_env(path, "1.0")
    with env.begin(write=True) as txn:
        for i in range(100):
            txn.put(struct.pack(">HQ", 1, i), json.dumps({"i": i}).encode())
    env.close()
    cmd = [sys.executable, "-m", "zlmdb_inspect", path, "--dump", "1", "--limit", "0", "--follow",
           "--interval", "0.2"]
    # SIGINT restored in the child: run as a background job, pytest inherits it ignored, and so
    # would the child (Python keeps an inherited SIG_IGN), which then never sees the Ctrl-C below
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        time.sleep(1.5)  # the starting state is taken
        subprocess.run([sys.executable, os.path.join(TESTS, "follow_writer.py"), path, "1.0", "3", "4"],
                       check=True, timeout=60)
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    lines = [json.loads(x) for x in out.splitlines()]
    assert lines and all(d["change"] in ("insert", "update", "delete") for d in lines)
    assert all(("value" in d) == (d["change"] != "delete") and "txnid" in d for d in lines)
    assert len({(d["change"], json.dumps(d["key"])) for d in lines}) == len(lines)  # each change once


def test_dump_without_a_query_is_unchanged(demo_db):
    r = run_cli(demo_db, "--dump", "Events", "--limit", "3")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 3


def test_the_program_exits_at_once_without_losing_output(tmp_path):
    """``python -m`` and the console script end with ``os._exit`` after ``main``: everything
    written to a pipe (far more than a pipe's buffer) arrives, and so does an error line."""
    path = str(tmp_path / "db")
    env = raw_env(path, "1.0", map_size=64 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"\0\0\0\1", b"\xa0")
        for i in range(20_000):
            txn.put(struct.pack(">HQ", 1, i), b"\x63abc")
    env.close()
    before = sha(path)
    r = run_cli(path, "--dump", "1")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 20_000 and r.stdout.endswith("\n")
    r = run_cli(path, "--json")
    assert r.returncode == 0, r.stderr
    assert {t["slot"]: t["records"] for t in json.loads(r.stdout)["tables"]}[1] == 20_000
    bad = run_cli(str(tmp_path / "nothing-here"), "--json")
    assert bad.returncode == 3 and "no such file or directory" in bad.stderr
    assert sha(path) == before and not os.path.exists(tmp_path / "nothing-here")


# -- issue 30: keys as typed, empty answers that say why ---------------------------------------------

def test_a_uuid_prefix_as_pasted_from_a_log_starts_at_the_first_key_with_it(cfx):
    everything = _lines(_cli(cfx["path"], "--dump", "Users"))
    keys = [d["key"] for d in everything]
    target = keys[len(keys) // 2]
    for typed in (target[:6], target[:13], target[:13].replace("-", "")):
        r = _cli(cfx["path"], "--dump", "Users", "--from", typed, "--limit", "1")
        got = _lines(r)
        assert got[0]["key"] == next(k for k in keys if k.replace("-", "").startswith(typed.replace("-", ""))), typed
        assert r.stderr == ""  # a key with that prefix exists: nothing to say
    r = _cli(cfx["path"], "--dump", "Users", "--from", "zzzz-not-a-key")
    assert r.returncode == 3 and r.stdout == "" and "its keys are uuid (807c1771-" in r.stderr, r.stderr


def test_from_a_key_no_record_has_says_so_and_starts_at_the_next(cfx):
    keys = [d["key"] for d in _lines(_cli(cfx["path"], "--dump", "Users"))]
    prefixes = {k[:3] for k in keys}
    missing = next(p for p in (f"{i:03x}" for i in range(0x1000)) if p not in prefixes and p < max(prefixes))
    r = _cli(cfx["path"], "--dump", "Users", "--from", missing, "--limit", "1")
    assert _lines(r)[0]["key"] == next(k for k in keys if k > missing)
    assert r.stderr == f"zlmdb-inspect: no key {missing}; showing the next one\n"


def test_where_and_grep_that_match_nothing_exit_1_and_say_so(cfx):
    n = cfx["counts"]["Events"]
    r = _cli(cfx["path"], "--dump", "Events", "--where", '.value.topic == "no-such-topic"')
    assert r.returncode == 1 and r.stdout == ""
    assert re.fullmatch(rf"zlmdb-inspect: 0 of {n:,} records matched in \d+\.\d s\n", r.stderr), r.stderr
    r = _cli(cfx["path"], "--dump", "Events", "--grep", "no-such-text-anywhere")
    assert r.returncode == 1 and r.stdout == "" and r.stderr.startswith(f"zlmdb-inspect: 0 of {n:,} records")
    r = _cli(cfx["path"], "--dump", "Events", "--where", '.value.topic == "com.example.topic3"')
    matched = len(_lines(r))
    assert matched and re.fullmatch(rf"zlmdb-inspect: {matched:,} of {n:,} records matched in \d+\.\d s\n", r.stderr)
    r = _cli(cfx["path"], "--dump", "Events", "--grep", "topic", "--limit", "2")
    assert len(_lines(r)) == 2 and "2 matched (stopped at --limit 2; " in r.stderr, r.stderr
    r = _cli(cfx["path"], "--dump", "Events", "--limit", "2")  # no query: no summary
    assert r.returncode == 0 and r.stderr == ""


def test_a_field_no_record_has_gets_the_fields_that_exist(demo_db):
    """The demo's Events are FlatBuffers: without a schema their fields are field0..fieldN."""
    r = _cli(demo_db, "--dump", "Events", "--where", '.value.topic == "x"')
    assert r.returncode == 1 and r.stdout == ""
    hint = r.stderr.splitlines()[1]
    assert hint.startswith("zlmdb-inspect: no record of the first 200 has .value.topic; the fields there are: "
                           ".value.field0, .value.field1"), hint
    assert "--fbs FILE.bfbs or --import MODULE names them" in hint
    r = _cli(demo_db, "--dump", "Events", "--where", '.value.field0 == "no such value"')
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1  # the field exists: no hint
