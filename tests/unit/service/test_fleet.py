"""Many databases in one run: discovery, the fleet's refreshes, and the exporter's collector."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import replace

import pytest
from conftest import ROOT, build_orm_db, listing, open_db, sha
from prometheus_client.parser import text_string_to_metric_families

from zlmdb_inspect.core.errors import InspectError
from zlmdb_inspect.reports.prometheus import FAMILIES, exposition, parse_listen, write_atomically
from zlmdb_inspect.service.discover import expand_paths
from zlmdb_inspect.service.fleet import DatabaseResult, Fleet, status_of, worst_status

CONTRIB = os.path.join(ROOT, "contrib")


def metrics(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append(s)
    return out


def by_path(samples: list) -> dict[str, float]:
    return {s.labels["path"]: s.value for s in samples}


# -- discovery -------------------------------------------------------------------------------------

def _env(path) -> None:
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "data.mdb"), "wb") as f:
        f.write(b"not opened by discovery")


def test_a_directory_stands_for_the_environments_below_it(tmp_path):
    node = tmp_path / "node"
    for rel in ("b-realm", "a-node", "c/d/e/f", "c/d/e/f/g/too-deep", "c/cookies"):
        _env(node / rel)
    (node / "empty" / "dir").mkdir(parents=True)
    outside = tmp_path / "outside"
    _env(outside)
    os.symlink(outside, node / "link-out")  # leaves the tree: never followed
    os.symlink(node / "a-node", node / "c" / "link-in")  # inside: the same environment, listed once
    before = listing(str(tmp_path))
    got = expand_paths([str(node)])
    assert got == [str(node / rel) for rel in ("a-node", "b-realm", "c/cookies", "c/d/e/f")]
    assert listing(str(tmp_path)) == before  # nothing created
    # a PATH holding data.mdb stands for itself; order of PATHs kept, each environment once
    assert expand_paths([str(node / "b-realm"), str(node)])[:2] == [str(node / "b-realm"), str(node / "a-node")]
    assert expand_paths([str(node / "b-realm"), str(node)]).count(str(node / "b-realm")) == 1
    # a missing path is kept as given: opening it gives the usual error
    assert expand_paths([str(tmp_path / "nope")]) == [str(tmp_path / "nope")]
    with pytest.raises(InspectError, match=r"empty: no data\.mdb in this directory or up to 4 levels below"):
        expand_paths([str(node / "empty")])


# -- the fleet and its metrics ------------------------------------------------------------------

@pytest.fixture
def fleet_dbs(tmp_path):
    (tmp_path / "node").mkdir()
    a, b = str(tmp_path / "node" / "a"), str(tmp_path / "node" / "b")
    counts = {a: build_orm_db(a, "1.0", n=40), b: build_orm_db(b, "0.9", n=70)}
    broken = tmp_path / "node" / "broken"
    broken.mkdir()
    (broken / "data.mdb").write_bytes(os.urandom(3 * 4096))
    return counts, str(broken)


def test_collector_reports_every_database_and_a_broken_one_as_down(fleet_dbs, tmp_path):
    counts, broken = fleet_dbs
    paths = expand_paths([str(tmp_path / "node")])
    assert paths == [*counts, broken]
    digests = {p: sha(p) for p in counts}
    fleet = Fleet(paths, open_db, max_age=60.0, live=True)
    try:
        results = fleet.results(timeout=60)
        m = metrics(exposition(results))
        assert by_path(m["zlmdb_up"]) == {**{p: 1.0 for p in counts}, broken: 0.0}
        for p, c in counts.items():
            recs = {s.labels["table"]: s.value for s in m["zlmdb_table_records"] if s.labels["path"] == p}
            assert recs["TUsers"] == c["TUsers"] == (40 if p.endswith("a") else 70)
            assert recs["TPairs"] == c["TPairs"] and recs["slot-77"] == c["slot77"] == 2
        assert broken not in by_path(m["zlmdb_map_size_bytes"])  # a down database has no figures
        assert broken not in by_path(m["zlmdb_transactions_total"])
        assert status_of(results[2]) == "unknown" and results[2].error and not results[2].up
        # a result younger than max_age is reused: a second collection reads nothing
        again = fleet.results(timeout=60)
        assert [r.refreshed_at for r in again] == [r.refreshed_at for r in results]
        # a database that disappears later is down; the others are unaffected; it comes back
        gone = list(counts)[0]
        moved = gone + ".moved"
        os.rename(gone, moved)
        m = metrics(exposition(fleet.results(timeout=60, max_age=0)))
        assert by_path(m["zlmdb_up"]) == {gone: 0.0, list(counts)[1]: 1.0, broken: 0.0}
        os.rename(moved, gone)
        m = metrics(exposition(fleet.results(timeout=60, max_age=0)))
        assert by_path(m["zlmdb_up"])[gone] == 1.0
    finally:
        fleet.close()
    assert {p: sha(p) for p in counts} == digests


def test_fleet_status_is_the_worst():
    assert worst_status(["ok", "unknown", "warning"]) == "warning"
    assert worst_status(["ok", "unknown"]) == "unknown"
    assert worst_status(["critical", "unknown"]) == "critical"
    assert worst_status([]) == "ok"
    assert status_of(DatabaseResult(path="/x", error="gone")) == "unknown"


def test_a_slow_database_does_not_hold_up_the_others(fleet_dbs):
    import threading

    counts, _ = fleet_dbs
    release = threading.Event()

    def opener(path: str):
        svc = open_db(path)
        if path == list(counts)[0]:
            real = svc.refresh

            def slow(live: bool = False):
                release.wait(30)
                return real(live=live)

            svc.refresh = slow  # type: ignore[method-assign]
        return svc

    fleet = Fleet(list(counts), opener, max_age=0.0)
    try:
        t0 = time.monotonic()
        first = fleet.results(timeout=2.0)
        assert time.monotonic() - t0 < 10
        assert first[0].error == "still being read" and first[1].up
        release.set()
        fleet.submit(list(counts)[0]).result(timeout=30)
        assert fleet.last(list(counts)[0]).up
    finally:
        release.set()
        fleet.close()


def test_textfile_is_written_atomically(fleet_dbs, tmp_path):
    counts, broken = fleet_dbs
    fleet = Fleet([*counts, broken], open_db, live=False)
    out = tmp_path / "textfile" / "zlmdb.prom"
    out.parent.mkdir()
    out.write_text("old\n")
    try:
        results = fleet.results(timeout=60)
    finally:
        fleet.close()
    inode = out.stat().st_ino
    write_atomically(str(out), results)
    assert out.stat().st_ino != inode  # replaced by a rename, never rewritten in place
    assert os.listdir(out.parent) == ["zlmdb.prom"]  # no temporary file left behind
    assert by_path(metrics(out.read_text())["zlmdb_up"]) == {**{p: 1.0 for p in counts}, broken: 0.0}


def test_listen_address():
    assert parse_listen("9464") == ("127.0.0.1", 9464)
    assert parse_listen(":9464") == ("127.0.0.1", 9464)
    assert parse_listen("0.0.0.0:9464") == ("0.0.0.0", 9464)
    assert parse_listen("[::1]:9464") == ("::1", 9464)
    with pytest.raises(ValueError, match="HOST:]PORT"):
        parse_listen("localhost:http")


# -- every family, the dashboard, the rules --------------------------------------------------------

def _full_exposition(tmp_path) -> str:
    """Figures of a database a process holds open (readers), with history (time to full)."""
    import sys

    from zlmdb_inspect.health.history import Eta

    path = str(tmp_path / "held")
    build_orm_db(path, "1.0", n=20)
    holder = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "support", "holder_proc.py"),
                               path, "pin", "0"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        holder.stdout.readline()
        svc = open_db(path)
        try:
            svc.refresh(live=True)
            ref = svc.refresh(live=True)  # the second refresh knows how long the reader held its snapshot
        finally:
            svc.close()
    finally:
        holder.stdin.close()
        holder.wait(timeout=20)
    res = DatabaseResult(path=path, snapshot=ref.snapshot, warnings=ref.warnings,
                         eta=Eta(seconds=3600.0, state="growing", window_s=60.0, bytes_per_s=1.0),
                         refreshed_at=time.time(), detail=replace(ref, state={"saved": False}))
    # a database whose records carry their own time (growth per table and time to full at that rate)
    import time_tables

    timed = str(tmp_path / "timed")
    time_tables.build(timed, "1.0", ticks=time_tables.times([50] * 10), map_size=16 << 20, pad=200)
    svc = open_db(timed)
    try:
        grown = svc.refresh()
    finally:
        svc.close()
    assert grown.snapshot.capacity.growth is not None and grown.snapshot.capacity.growth.eta_full_s is not None
    timed_res = DatabaseResult(path=timed, snapshot=grown.snapshot, warnings=grown.warnings, refreshed_at=time.time())
    return exposition([res, timed_res, DatabaseResult(path=str(tmp_path / "gone"), error="no such file or directory")])


def test_every_family_is_served_and_promtool_accepts_it(tmp_path):
    text = _full_exposition(tmp_path)
    served = {f.name for f in text_string_to_metric_families(text)}
    declared = {f"zlmdb_{name}" for name, *_ in FAMILIES}
    assert served == declared, served ^ declared
    assert "zlmdb_transactions_total" in text and "zlmdb_time_to_full_seconds{" in text
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr


def _dashboard_exprs() -> list[str]:
    with open(os.path.join(CONTRIB, "grafana", "zlmdb-dashboard.json")) as f:
        dash = json.load(f)
    exprs = []

    def walk(panels):
        for p in panels:
            exprs.extend(t["expr"] for t in p.get("targets", []))
            walk(p.get("panels", []))

    walk(dash["panels"])
    for var in dash["templating"]["list"]:
        q = var.get("query")
        if isinstance(q, dict):
            exprs.append(q["query"])
    return exprs


def test_dashboard_uses_only_metrics_the_exporter_serves(tmp_path):
    names = {s.name for fam in text_string_to_metric_families(_full_exposition(tmp_path)) for s in fam.samples}
    exprs = _dashboard_exprs()
    assert len(exprs) >= 15
    used = set()
    for e in exprs:
        found = set(re.findall(r"\b(zlmdb_[a-z_]+)\b", e))
        assert found, f"expression without a zlmdb metric: {e}"
        used |= found
    assert used - names == set(), f"the dashboard uses metrics the exporter does not serve: {used - names}"
    # map used vs size, time to full, records and bytes by table, write rate, readers and lag, warnings
    for needed in ("zlmdb_in_use_bytes", "zlmdb_map_size_bytes", "zlmdb_time_to_full_seconds", "zlmdb_table_records",
                   "zlmdb_table_bytes", "zlmdb_transactions_total", "zlmdb_readers", "zlmdb_reader_max_lag_txns",
                   "zlmdb_warning", "zlmdb_table_growth_bytes_per_day", "zlmdb_growth_time_to_full_seconds",
                   "zlmdb_table_newest_record_timestamp_seconds", "zlmdb_table_oldest_record_timestamp_seconds"):
        assert needed in used


def _rules_metrics() -> set[str]:
    with open(os.path.join(CONTRIB, "prometheus", "zlmdb-alerts.yml")) as f:
        return set(re.findall(r"\b(zlmdb_[a-z_]+)\b", "\n".join(
            line for line in f if line.strip().startswith(("expr:", "predict", "and ", "zlmdb_")))))


def test_alert_rules_use_only_metrics_the_exporter_serves(tmp_path):
    names = {s.name for fam in text_string_to_metric_families(_full_exposition(tmp_path)) for s in fam.samples}
    used = _rules_metrics()
    assert {"zlmdb_up", "zlmdb_used_ratio", "zlmdb_available_bytes", "zlmdb_stale_readers",
            "zlmdb_growth_time_to_full_seconds", "zlmdb_table_newest_record_timestamp_seconds"} <= used
    assert used - names == set()


def test_promtool_checks_and_unit_tests_the_rules():
    if not shutil.which("promtool"):
        if os.environ.get("CI") == "true":
            pytest.fail("promtool (Debian package prometheus) is needed in CI")
        pytest.skip("promtool (Debian package prometheus) not installed")
    d = os.path.join(CONTRIB, "prometheus")
    r = subprocess.run(["promtool", "check", "rules", "zlmdb-alerts.yml"], cwd=d, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "SUCCESS: 17 rules found" in r.stdout, r.stdout + r.stderr
    r = subprocess.run(["promtool", "test", "rules", "zlmdb-alerts.test.yml"], cwd=d, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr
    # every rule is exercised by the unit tests
    with open(os.path.join(d, "zlmdb-alerts.yml")) as f:
        alerts = set(re.findall(r"- alert: (\w+)", f.read()))
    with open(os.path.join(d, "zlmdb-alerts.test.yml")) as f:
        tested = set(re.findall(r"alertname: (\w+)", f.read()))
    assert alerts == tested and len(alerts) == 17


def test_fleet_check_and_document():
    from types import SimpleNamespace

    from zlmdb_inspect.reports.fleet import fleet_check, fleet_document

    def res(path, *sev):
        return DatabaseResult(path=path, snapshot=object(),  # type: ignore[arg-type]
                              warnings=[SimpleNamespace(id="x", severity=s) for s in sev])

    results = [res("/n/a"), res("/n/b", "warning", "info"), res("/n/c", "critical"),
               DatabaseResult(path="/n/d", error="no such file or directory")]
    lines, code = fleet_check(results, lambda r: f"ZLMDB {status_of(r).upper()} - {r.path}: fine | used_pct=1%")
    assert code == 2
    assert lines[0] == ("ZLMDB CRITICAL - 4 databases: 1 critical, 1 warning, 1 unknown "
                        "| databases=4 critical=1 warning=1 unknown=1 ok=1")
    assert lines[1:] == ["ZLMDB OK - /n/a: fine", "ZLMDB WARNING - /n/b: fine", "ZLMDB CRITICAL - /n/c: fine",
                         "ZLMDB UNKNOWN - /n/d: no such file or directory"]
    assert fleet_check(results[:1] + results[3:], lambda r: "x")[1] == 3  # unknown is worse than ok
    assert fleet_check(results[1:2] + results[3:], lambda r: "x")[1] == 1  # warning is worse than unknown
    doc = fleet_document(results, lambda r: {"path": r.path, "status": status_of(r)})
    assert doc["status"] == "critical"
    assert doc["databases"][3] == {"path": "/n/d", "error": "no such file or directory", "status": "unknown"}
    assert [d["status"] for d in doc["databases"]] == ["ok", "warning", "critical", "unknown"]


# -- the command line over many databases -------------------------------------------------------

def test_cli_json_check_watch_and_prometheus_over_a_node(fleet_dbs, tmp_path):
    from conftest import run_cli

    counts, broken = fleet_dbs
    node = str(tmp_path / "node")
    a, b = list(counts)
    r = run_cli(node, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [d["path"] for d in doc["databases"]] == [a, b, broken]
    assert doc["databases"][2]["status"] == "unknown" and doc["databases"][2]["error"]
    tables = {t["name"]: t["records"] for t in doc["databases"][1]["tables"]}
    assert tables["TUsers"] == counts[b]["TUsers"] == 70
    assert doc["status"] == "warning"  # orphan slots warn; the broken one is only unknown
    single = json.loads(run_cli(a, "--json").stdout)  # one database: the document as ever
    assert single["path"] == a and single["status"] == doc["databases"][0]["status"] and "tables" in single

    r = run_cli(node, "--check")
    lines = r.stdout.splitlines()
    assert r.returncode == 1  # WARNING beats UNKNOWN
    assert lines[0].startswith("ZLMDB WARNING - 3 databases: 0 critical, 2 warning, 1 unknown | databases=3 ")
    assert lines[1].startswith(f"ZLMDB WARNING - {a}: ") and " | " not in lines[1]
    # each database's warnings follow its line, indented, with rule id and message (issue 30 item 8)
    assert lines[2].startswith("  WARNING: [orphan-slot] Slot 77 holds 2 records but has no metadata"), lines
    at_b = lines.index(next(x for x in lines if x.startswith(f"ZLMDB WARNING - {b}: ")))
    assert lines[at_b + 1].startswith("  WARNING: [orphan-slot] ")
    assert lines[-1].startswith(f"ZLMDB UNKNOWN - {broken}: ")
    assert all(x.startswith("  ") for x in lines[2:at_b] + lines[at_b + 1:-1])
    r = run_cli(a, b, "--check", "--rule", "orphan-slot=off")
    assert r.returncode == 0 and r.stdout.startswith("ZLMDB OK - 2 databases: 0 critical, 0 warning |")

    r = run_cli(node, "--watch", "--count", "2", "--interval", "0.2")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d["path"] for d in rows] == [a, b, broken] * 2 and "rates" in rows[3]

    out = tmp_path / "textfile" / "zlmdb.prom"
    out.parent.mkdir()
    r = run_cli(node, "--prometheus", "--output", str(out))
    assert r.returncode == 0 and r.stdout == "" and os.listdir(out.parent) == ["zlmdb.prom"]
    assert by_path(metrics(out.read_text())["zlmdb_up"]) == {a: 1.0, b: 1.0, broken: 0.0}
    r = run_cli(str(tmp_path / "node" / "empty-dir-does-not-exist"), a, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["databases"][0]["status"] == "unknown"
    (tmp_path / "void").mkdir()
    r = run_cli(str(tmp_path / "void"), a, "--json")
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "no data.mdb in this directory or up to 4" in r.stderr
    assert os.listdir(tmp_path / "void") == []


def test_serve_metrics_answers_every_scrape(fleet_dbs, tmp_path):
    import socket
    import sys
    import urllib.request

    counts, broken = fleet_dbs
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "zlmdb_inspect", str(tmp_path / "node"), "--serve-metrics",
                             str(port), "--interval", "0.5"], stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert f"serving metrics of 3 database(s) on http://127.0.0.1:{port}/metrics" in line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
            first = metrics(r.read().decode())
        assert by_path(first["zlmdb_up"]) == {**{p: 1.0 for p in counts}, broken: 0.0}
        gone = list(counts)[0]
        shutil.rmtree(gone)  # a database that disappears: down, the exporter keeps serving
        time.sleep(0.6)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
            second = metrics(r.read().decode())
        assert by_path(second["zlmdb_up"]) == {gone: 0.0, list(counts)[1]: 1.0, broken: 0.0}
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
