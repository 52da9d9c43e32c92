"""The effective map limit, space really available, and a check fit for monitoring,
with real processes holding the environment open."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
import uuid

import pytest
import zlmdb
from conftest import ROOT, SUPPORT, cli_json, raw_env, run_cli, sha
from prometheus_client.parser import text_string_to_metric_families
from support.procs import Holder

from zlmdb_inspect.core.fmt import fmt_duration
from zlmdb_inspect.reports.document import refresh_dict

HERE = SUPPORT  # the helper processes
MiB = 1024 * 1024
GiB = 1024 * MiB


def _seed(path: str, fmt: str, map_size: int) -> None:
    env = raw_env(path, fmt, map_size=map_size)
    with env.begin(write=True) as txn:
        txn.put(b"\0\x01seed", b"x")
    env.close()


def _ids(doc):
    return {w["id"]: w for w in doc["warnings"]}


def _metrics(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def _texts_are_words(doc) -> None:
    for w in doc["warnings"]:
        for k in ("figure_text", "threshold_text"):
            assert isinstance(w[k], str) and w[k] and "None" not in w[k] and "{" not in w[k], (w["id"], k, w[k])


def test_writer_map_smaller_than_meta(tmp_path, fmt):
    path = str(tmp_path / "small-writer")
    _seed(path, fmt, 2 * GiB)
    before_meta = cli_json(path)["capacity"]
    assert before_meta["map_source"] == "meta" and before_meta["map_size"] == 2 * GiB
    assert "next writer" in before_meta["map_note"] and before_meta["maps"] == []
    with Holder(path, "write", 64 * MiB, n=2000) as w:
        assert w.info["map_size"] == 64 * MiB
        doc = cli_json(path)
        cap = doc["capacity"]
        assert cap["map_size"] == 64 * MiB and cap["map_size_meta"] == 2 * GiB
        assert cap["map_source"] == "writer"
        mine = [m for m in cap["maps"] if m["pid"] == w.pid]
        assert mine == [{"pid": w.pid, "name": mine[0]["name"], "map_size": 64 * MiB, "writable": True,
                         "reason": None}]
        assert mine[0]["name"] and "python" in mine[0]["name"]
        psize = doc["lmdb"]["page_size"]
        assert cap["available_bytes"] == 64 * MiB - cap["used_bytes"] + cap["reusable_pages"] * psize
        assert abs(cap["used_pct"] - 100.0 * cap["in_use_bytes"] / (64 * MiB)) < 0.01
        mm = _ids(doc)["map-mismatch"]
        assert f"(pid {w.pid}) maps 64.0 MiB; the file's meta page says 2.0 GiB" in mm["message"]
        _texts_are_words(doc)
        r = run_cli(path, "--check")
        head = r.stdout.splitlines()[0]
        assert r.returncode == 1 and head.startswith("ZLMDB WARNING - ")
        assert "maps 64.0 MiB; the file's meta page says 2.0 GiB" in head
        assert f"map_size={64 * MiB}B map_size_meta={2 * GiB}B" in head
        assert " readers=0 " in head  # the writer holds no reader slot now; ours is not counted
        m = _metrics(run_cli(path, "--prometheus").stdout)
        assert m["zlmdb_map_size_bytes"][0].value == 64 * MiB
        assert m["zlmdb_map_size_meta_bytes"][0].value == 2 * GiB
        assert m["zlmdb_available_bytes"][0].value == cap["available_bytes"]
        warn = [s for s in m["zlmdb_warning"] if s.labels["id"] == "map-mismatch"]
        assert warn and warn[0].labels["severity"] == "warning" and warn[0].value == 1
    after = cli_json(path)["capacity"]
    assert after["map_source"] == "meta" and after["map_size"] == after["map_size_meta"] == 2 * GiB


def test_two_writers_with_different_maps_and_a_reader(tmp_path):
    path = str(tmp_path / "two")
    _seed(path, "1.0", 32 * MiB)
    with Holder(path, "write", 32 * MiB, n=10) as a, Holder(path, "writemap", 96 * MiB, n=10) as b, \
            Holder(path, "read") as r:
        doc = cli_json(path)
        cap = doc["capacity"]
        maps = {m["pid"]: m for m in cap["maps"]}
        assert maps[a.pid]["map_size"] == 32 * MiB and maps[a.pid]["writable"] is True
        assert maps[b.pid]["map_size"] == 96 * MiB and maps[b.pid]["writable"] is True  # rw-s mapping
        assert maps[r.pid]["writable"] is False  # a read-only environment never limits writes
        assert cap["map_size"] == 32 * MiB and cap["map_source"] == "writer"
        assert cap["map_size_meta"] == 96 * MiB  # b committed with its larger map
        mm = _ids(doc)["map-mismatch"]
        assert f"pid {a.pid}" in mm["message"] and f"pid {b.pid}" in mm["message"]
        assert "32.0 MiB" in mm["message"] and "96.0 MiB" in mm["message"]
    with Holder(path, "write", 96 * MiB):
        doc = cli_json(path)
        assert doc["capacity"]["map_size"] == 96 * MiB
        assert "map-mismatch" not in _ids(doc)  # one writer, mapping what the meta page says


def test_deletes_then_reuse_count_as_available(tmp_path):
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service

    path = str(tmp_path / "reuse")
    env = raw_env(path, "1.0", map_size=16 * MiB)
    with env.begin(write=True) as txn:
        for i in range(12000):
            txn.put(struct.pack(">HI", 1, i), b"r" * 300)
    with env.begin(write=True) as txn:
        for i in range(12000):
            txn.delete(struct.pack(">HI", 1, i))
    for _ in range(2):  # two more commits, so the deleting transaction's pages are reusable
        with env.begin(write=True) as txn:
            txn.put(b"\0\x02x", b"y")
    env.close()
    svc = Service(Options(path=path, thresholds=["eta_min_window_s=1"]))
    try:
        first = svc.refresh(live=True)
        cap = first.snapshot.capacity
        psize = first.snapshot.lmdb.page_size
        assert cap.reusable_pages > 900
        assert cap.available_bytes == cap.headroom_bytes + cap.reusable_pages * psize
        assert cap.in_use_bytes == cap.used_bytes - cap.reusable_pages * psize
        assert first.eta.state == "measuring" and first.eta_text == "measuring…"
        time.sleep(1.1)
        assert svc.refresh(live=True).eta.state == "idle"  # no commit, nothing grows
        high_water = cap.used_bytes
        # a writer refills the freed pages: the high-water mark stays, pages in use grow
        code = ("import sys, struct; from zlmdb import lmdb; e = lmdb.open(sys.argv[1], map_size=16 << 20)\n"
                "with e.begin(write=True) as t:\n"
                "    [t.put(struct.pack('>HI', 3, int(sys.argv[2]) + i), b'z' * 300) for i in range(3000)]\n")
        for start in (0, 3000):  # two growths: one is no trend yet
            subprocess.run([sys.executable, "-c", code, path, str(start)], check=True)
            time.sleep(1.1)
            ref = svc.refresh(live=True)
        cap2 = ref.snapshot.capacity
        assert cap2.used_bytes == high_water  # freed pages were reused: the file did not grow
        assert cap2.available_bytes < cap.available_bytes - 1 * MiB
        assert ref.eta.state == "growing" and ref.eta.seconds is not None and ref.eta.window_s >= 1
        assert ref.eta.seconds == pytest.approx(cap2.available_bytes / ref.eta.bytes_per_s, rel=0.01)
        assert ref.eta.text().startswith(f"full in {fmt_duration(ref.eta.seconds)} at ")
    finally:
        svc.close()


def test_no_eta_warning_before_thirty_seconds_of_history(tmp_path):
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service

    path = str(tmp_path / "young")
    _seed(path, "1.0", 2 * MiB)
    svc = Service(Options(path=path))
    try:
        svc.refresh(live=True)
        burst = ("import sys, struct; from zlmdb import lmdb; e = lmdb.open(sys.argv[1], map_size=2 << 20)\n"
                 "with e.begin(write=True) as t:\n"
                 "    [t.put(struct.pack('>HI', 1, i), b'g' * 200) for i in range(2500)]\n")
        subprocess.run([sys.executable, "-c", burst, path], check=True)  # would fill the map in seconds
        time.sleep(0.5)
        ref = svc.refresh(live=True)
        assert ref.eta.state == "measuring" and ref.eta_full_s is None
        assert "map-eta" not in {w.id for w in ref.warnings}
        assert refresh_dict(ref, live=True)["eta"]["state"] == "measuring"
    finally:
        svc.close()


def test_pinning_reader_is_named_as_the_cause(tmp_path):
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service

    path = str(tmp_path / "pin")
    env = raw_env(path, "1.0", map_size=256 * MiB)
    with env.begin(write=True) as txn:
        for i in range(3000):
            txn.put(struct.pack(">HI", 1, i), b"a" * 400)
    env.close()
    update = ("import sys, struct; from zlmdb import lmdb; e = lmdb.open(sys.argv[1], map_size=256 << 20)\n"
              "for r in range(int(sys.argv[2])):\n"
              "    with e.begin(write=True) as t:\n"
              "        [t.put(struct.pack('>HI', 1, i), bytes([r % 250]) * 400) for i in range(3000)]\n")
    with Holder(path, "pin") as reader, Holder(path, "read"):
        svc = Service(Options(path=path, thresholds=["eta_min_window_s=1", "free_pages_warning_bytes=0",
                                                     "free_pages_warning_pct=10", "map_eta_warning_s=1e12",
                                                     "map_eta_critical_s=1"]))
        try:
            svc.refresh(live=True)
            for _ in range(2):  # two growths: one is no trend yet
                subprocess.run([sys.executable, "-c", update, path, "3"], check=True)
                time.sleep(1.1)
                ref = svc.refresh(live=True)
            cap = ref.snapshot.capacity
            assert cap.pinned_by["pid"] == reader.pid and cap.pinned_by["txnid"] == reader.info["txnid"]
            assert cap.pinned_pages > 1000 and cap.reusable_pages < cap.pinned_pages
            assert ref.eta.state == "growing" and ref.eta.pinned_share > 0.5
            ws = {w.id: w for w in ref.warnings}
            for rule in ("map-eta", "free-pages"):
                msg = ws[rule].message
                assert f"reader pid {reader.pid} (python" in msg and "MiB of freed pages" in msg, msg
                assert "End that read transaction" in msg and "Raise map_size" not in msg
            pinned_mib = cap.pinned_pages * ref.snapshot.lmdb.page_size / MiB
            assert f"pins {pinned_mib:.1f} MiB" in ws["map-eta"].message
        finally:
            svc.close()


def test_check_on_a_broken_path_prints_a_status_line(tmp_path):
    missing = str(tmp_path / "missing")
    r = run_cli(missing, "--check")
    assert r.returncode == 3
    assert r.stdout.splitlines() == [f"ZLMDB UNKNOWN - {missing}: no such file or directory"]
    assert r.stderr.startswith("zlmdb-inspect: error: ")
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_cli(str(empty), "--check")
    assert r.returncode == 3 and r.stdout.startswith(f"ZLMDB UNKNOWN - {empty}: no data.mdb")
    r = run_cli(str(empty), "--check", "--rule", "nope=off")
    assert r.returncode == 3 and r.stdout.startswith("ZLMDB UNKNOWN - ") and "unknown rule 'nope'" in r.stdout
    r = run_cli(str(empty), "--check", "--bogus")
    assert r.returncode == 3 and r.stdout.startswith("ZLMDB UNKNOWN - ") and "--bogus" in r.stdout
    assert os.listdir(empty) == []


def test_rule_flag_and_rules_table(tmp_path):
    path = str(tmp_path / "rules")
    env = raw_env(path, "0.9")
    with env.begin(write=True) as txn:
        txn.put(struct.pack(">H", 9) + b"orphan", b"v")  # orphan-slot (warning), format-09 (info)
    env.close()
    before = sha(path)
    r = run_cli(path, "--check")
    assert r.returncode == 1 and "[orphan-slot]" in r.stdout and "[format-09]" in r.stdout
    r = run_cli(path, "--check", "--rule", "orphan-slot=off")
    assert r.returncode == 0 and "[orphan-slot]" not in r.stdout and r.stdout.startswith("ZLMDB OK - ")
    r = run_cli(path, "--check", "--rule", "orphan-slot=info", "--rule", "format-09=critical")
    assert r.returncode == 2 and "CRITICAL: [format-09]" in r.stdout and "INFO: [orphan-slot]" in r.stdout
    cfg = tmp_path / "c.toml"
    cfg.write_text('[rules]\n"orphan-slot" = "off"\n"format-09" = "warning"\n')
    r = run_cli(path, "--check", "--config", str(cfg))
    assert r.returncode == 1 and "WARNING: [format-09]" in r.stdout and "orphan-slot" not in r.stdout
    r = run_cli(path, "--check", "--config", str(cfg), "--rule", "format-09=off")  # the flag wins
    assert r.returncode == 0
    cfg.write_text('[rules]\n"format-09" = "loud"\n')
    r = run_cli(path, "--check", "--config", str(cfg))
    assert r.returncode == 3 and "loud" in r.stdout and "ZLMDB UNKNOWN" in r.stdout
    assert sha(path) == before


@zlmdb.table("5e1f0000-0000-4000-8000-0000000000c1", marshal=lambda o: o, parse=lambda d: d)
class TNodes(zlmdb.MapUuidCbor):
    """cfxdb-like: records of a few KiB"""


def test_cfxdb_sized_records_do_not_warn_and_big_ones_are_named(tmp_path):
    import random

    path = str(tmp_path / "cfx")
    db = zlmdb.Database(dbpath=path, maxsize=64 * MiB)
    nodes = db.attach_table(TNodes)
    rnd = random.Random(7)
    with db.begin(write=True) as txn:
        for i in range(600):  # 3-9 KiB records, as cfxdb's Users, Nodes, WebClusters
            nodes[txn, uuid.UUID(int=i + 1)] = {"i": i, "blob": "n" * rnd.randint(3 * 1024, 9 * 1024)}
    db.__exit__(None, None, None)
    doc = cli_json(path)
    t = [x for x in doc["tables"] if x["name"] == "TNodes"][0]
    assert t["overflow_pages"] > 600 and 3 * 1024 < t["max_value"] < 10 * 1024
    assert [w for w in doc["warnings"] if w["severity"] != "info"] == []
    r = run_cli(path, "--check")
    assert r.returncode == 0 and r.stdout.startswith("ZLMDB OK - ")

    db = zlmdb.Database(dbpath=path, maxsize=64 * MiB)
    nodes = db.attach_table(TNodes)
    with db.begin(write=True) as txn:
        nodes[txn, uuid.UUID(int=0xB16)] = {"blob": "b" * (300 * 1024)}
        nodes[txn, uuid.UUID(int=0xB17)] = {"blob": "b" * (100 * 1024)}
    db.__exit__(None, None, None)
    doc = cli_json(path)
    w = _ids(doc)["large-values"]
    assert w["severity"] == "warning" and w["subject"] == "TNodes"
    biggest, second = str(uuid.UUID(int=0xB16)), str(uuid.UUID(int=0xB17))
    assert w["message"].index(biggest) < w["message"].index(second)
    assert w["threshold_text"] == "values of 64.0 KiB or more" and w["figure_text"].startswith("largest value 300.")
    r = run_cli(path, "--check", "--rule", "large-values=off")
    assert r.returncode == 0


def test_readers_other_than_the_inspector_and_metrics_parse(tmp_path):
    path = str(tmp_path / "readers")
    _seed(path, "1.0", 16 * MiB)
    r = run_cli(path, "--check")
    assert " readers=U " in r.stdout.splitlines()[0]  # nobody had it open: the table was not read
    text = run_cli(path, "--prometheus").stdout
    m = _metrics(text)
    assert "zlmdb_readers" not in m and "zlmdb_reader_longest_hold_seconds" not in m
    assert "zlmdb_time_to_full_seconds" not in m  # a single run has no history
    with Holder(path, "pin") as h:
        r = run_cli(path, "--check")
        assert " readers=1 " in r.stdout.splitlines()[0]
        text = run_cli(path, "--prometheus").stdout
        m = _metrics(text)
        assert m["zlmdb_readers"][0].value == 1
        tx = m["zlmdb_transactions"][0]  # the parser names a counter family without _total
        assert tx.name == "zlmdb_transactions_total" and tx.value >= 1
        assert {"zlmdb_map_size_bytes", "zlmdb_map_size_meta_bytes", "zlmdb_available_bytes",
                "zlmdb_reusable_pages", "zlmdb_pinned_pages", "zlmdb_process_map_bytes"} <= set(m)
        pids = {s.labels["pid"] for s in m["zlmdb_process_map_bytes"]}
        assert str(h.pid) in pids
    counters = [f for f in text_string_to_metric_families(text) if f.type == "counter"]
    assert counters and all(f.name + "_total" in {s.name for s in f.samples} for f in counters)


@pytest.mark.skipif(not __import__("shutil").which("promtool"), reason="promtool (Debian prometheus) not installed")
def test_promtool_accepts_the_metrics(tmp_path):
    path = str(tmp_path / "prom")
    _seed(path, "1.0", 16 * MiB)
    with Holder(path, "write", 8 * MiB, n=50):
        text = run_cli(path, "--prometheus").stdout
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_stale_reader_advice_clears_the_slot(tmp_path):
    """The command the stale-reader warning gives really clears the dead slot, and only that."""
    import shlex
    import signal

    path = str(tmp_path / "stale")
    _seed(path, "1.0", 16 * MiB)
    # beside the pinned reader, a live process with the environment open and no transaction (no slot)
    with Holder(path, "read"), Holder(path, "pin") as alive_pin:
        dead = Holder(path, "pin")
        dead.proc.send_signal(signal.SIGKILL)
        dead.proc.wait()
        doc = cli_json(path)
        w = [x for x in doc["warnings"] if x["id"] == "stale-reader"]
        assert len(w) == 1 and w[0]["subject"] == str(dead.pid)
        msg = w[0]["message"]
        assert "does not clear it when a writer opens" in msg and w[0]["threshold_text"] == "the process must be alive"
        cmd = msg[msg.index("`python -m") + 1:]
        cmd = cmd[:cmd.index("`")]
        argv = shlex.split(cmd)
        assert argv[:3] == ["python", "-m", "zlmdb._lmdb_vendor"]
        r = subprocess.run([sys.executable] + argv[1:], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "Cleaned 1 stale entries" in r.stdout
        after = cli_json(path)
        pids = {x["pid"] for x in after["readers"]}
        assert dead.pid not in pids and alive_pin.pid in pids  # the live reader's slot stays
        assert "stale-reader" not in _ids(after)


def test_format_09_migration_from_the_readme_works(tmp_path):
    """The README's migration script turns a 0.9 file into a 1.0 file with the same records."""
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = readme[readme.index("### Migrating a 0.9 database"):]
    script = section[section.index("```python\n") + 10:]
    script = script[:script.index("```")]
    old, new = str(tmp_path / "old"), str(tmp_path / "new")
    env = raw_env(old, "0.9")
    with env.begin(write=True) as txn:
        for i in range(500):
            txn.put(struct.pack(">HI", 1, i), os.urandom(50 + i * 7))
    env.close()
    assert "format-09" in _ids(cli_json(old))
    before = sha(old)
    (tmp_path / "migrate.py").write_text(script)
    r = subprocess.run([sys.executable, str(tmp_path / "migrate.py"), old, new], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    doc = cli_json(new)
    assert doc["lmdb"]["format"] == "1.0" and "format-09" not in _ids(doc)
    from zlmdb import lmdb

    a = lmdb.open(old, readonly=True, map_size=0, lock=False)
    b = lmdb.open(new, readonly=True, map_size=0, lock=False)
    with a.begin() as ta, b.begin() as tb:
        assert list(ta.cursor()) == list(tb.cursor())
    a.close()
    b.close()
    assert sha(old) == before


def test_procmaps_entries_with_a_reason(tmp_path):
    """A pid known to hold the environment that /proc cannot measure gets a null entry with why."""
    from zlmdb_inspect.storage.procmaps import ProcMaps

    path = str(tmp_path / "pm")
    _seed(path, "1.0", 16 * MiB)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with Holder(path, "write", 32 * MiB) as w:
            pm = ProcMaps(os.path.join(path, "data.mdb"))
            found = {m.pid: m for m in pm.processes(known=[other.pid, 999_999_999])}
            assert found[w.pid].map_size == 32 * MiB and found[w.pid].writable is True
            assert found[other.pid].map_size is None and "shows no mapping" in found[other.pid].reason
            assert found[999_999_999].map_size is None and "not in this /proc" in found[999_999_999].reason
            assert os.getpid() not in found  # the inspector's own mapping never counts
            scans = pm.scans
            pm.processes(known=[])  # within SCAN_EVERY_S: only the known pids are read again
            assert pm.scans == scans
            assert {m.pid for m in pm.processes(known=[], now=time.monotonic() + pm.SCAN_EVERY_S)} == {w.pid}
            assert pm.scans == scans + 1
    finally:
        other.kill()
        other.wait()


def test_metrics_with_history_time_to_full_and_reader_hold(tmp_path):
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.reports.prometheus import exposition
    from zlmdb_inspect.service import Service
    from zlmdb_inspect.service.fleet import result_of

    path = str(tmp_path / "hist")
    _seed(path, "1.0", 16 * MiB)
    with Holder(path, "pin") as h:
        svc = Service(Options(path=path, thresholds=["eta_min_window_s=0.5"]))
        try:
            first = svc.refresh(live=True)
            assert "zlmdb_time_to_full_seconds" not in _metrics(
                exposition([result_of(path, first)]))  # still measuring
            time.sleep(0.7)
            ref = svc.refresh(live=True)
            text = exposition([result_of(path, ref)])
        finally:
            svc.close()
    m = _metrics(text)
    assert ref.eta.state == "idle" and m["zlmdb_time_to_full_seconds"][0].value == float("inf")
    assert "zlmdb_time_to_full_seconds{" in text and "} +Inf" in text
    hold = m["zlmdb_reader_longest_hold_seconds"][0].value
    rd = [r for r in ref.snapshot.readers if r.pid == h.pid][0]
    assert hold == rd.held_s and 0.5 <= hold < 30
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True) \
        if __import__("shutil").which("promtool") else None
    assert r is None or r.returncode == 0, r.stdout + r.stderr


def test_every_warning_has_figure_and_threshold_in_words(tmp_path):
    """Issue 18: the warning detail never shows None or a dict repr."""
    from zlmdb_inspect import health
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service

    path = str(tmp_path / "words")
    env = raw_env(path, "0.9", map_size=2 * MiB)
    with env.begin(write=True) as txn:
        txn.put(struct.pack(">H", 5) + b"o", b"v")  # orphan-slot
        for i in range(60):
            txn.put(struct.pack(">HI", 6, i), os.urandom(20_000))  # near the map's end: map-headroom
        for i in range(20):
            txn.put(b"\0\x07" + struct.pack(">Q", i), b"\x80\x04K\x01." )  # pickle values
    env.close()
    with Holder(path, "pin"):
        subprocess.run([sys.executable, "-c", (
            "import sys, struct; from zlmdb import lmdb; e = lmdb.open(sys.argv[1], map_size=2 << 20)\n"
            "for r in range(30):\n"
            "    with e.begin(write=True) as t: t.put(b'\\x00\\x05o', bytes([r]))\n"), path], check=True)
        svc = Service(Options(path=path, allow_pickle=True,
                              thresholds=["reader_lag_warning_txns=5", "map_used_warning_pct=20"]))
        try:
            ref = svc.refresh(live=True)
        finally:
            svc.close()
    ids = {w.id for w in ref.warnings}
    assert {"map-headroom", "orphan-slot", "long-reader", "format-09"} <= ids, ids
    for w in ref.warnings:
        for text in (w.figure_text, w.threshold_text):
            assert isinstance(text, str) and text and "None" not in text and "{" not in text, (w.id, text)
    lr = [w for w in ref.warnings if w.id == "long-reader"][0]
    assert lr.figure_text.startswith("lag ") and "transactions" in lr.figure_text
    assert lr.threshold_text == "lag over 5 transactions, held over 60 s or pinning 512.0 KiB"  # a quarter of 2 MiB
    assert set(health.RULES) >= ids


def test_unmeasured_processes_are_listed_and_noted(tmp_path):
    """A process /proc cannot measure (another user, another PID namespace) is a null entry with
    its reason, and the note says the limit may be lower."""
    from zlmdb_inspect.storage.inspector import Inspector
    from zlmdb_inspect.storage.procmaps import ProcMap

    path = str(tmp_path / "unmeasured")
    _seed(path, "1.0", 16 * MiB)
    with Inspector(path) as ins:
        why = "permission denied reading /proc/4242/maps (run as the database's owner or root)"
        ins.procmaps.processes = lambda known=(), now=None: [ProcMap(4242, "crossbar", None, None, why)]
        cap = ins.snapshot().capacity
    assert cap.maps == [{"pid": 4242, "name": "crossbar", "map_size": None, "writable": None, "reason": why}]
    assert cap.map_source == "meta" and cap.map_size == 16 * MiB
    assert "pid 4242" in cap.map_note and "may be smaller" in cap.map_note
