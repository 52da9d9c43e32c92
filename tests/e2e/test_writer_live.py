"""The writer's practices seen from outside, end to end: --watch, --json, the TUI, the rules."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from support.procs import Proc
from textual.widgets import Static

from zlmdb_inspect import health
from zlmdb_inspect.core.model import Reader
from zlmdb_inspect.core.options import Options, Thresholds
from zlmdb_inspect.health.findings import RuleInputs
from zlmdb_inspect.health.writer_watch import Batching, WriterState
from zlmdb_inspect.reports.document import refresh_dict
from zlmdb_inspect.service import Service
from zlmdb_inspect.storage import writerlock
from zlmdb_inspect.tui.app import create_app


def _watch(path: str, count: int, interval: float = 0.5, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "zlmdb_inspect", path, "--watch", "--interval", str(interval),
                             "--count", str(count), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _docs(watch: subprocess.Popen) -> list[dict]:
    out, err = watch.communicate(timeout=120)
    assert watch.returncode == 0, err  # --watch exits 0 after --count refreshes, whatever they warned of
    docs = [json.loads(line) for line in out.splitlines()]
    assert len(docs) == int(watch.args[watch.args.index("--count") + 1])  # one line per refresh
    return docs


def _ids(doc: dict) -> dict[str, dict]:
    return {w["id"]: w for w in doc["warnings"]}


def test_watch_warns_of_a_long_write_txn_naming_its_pid_then_clears(tmp_path, fmt):
    path = str(tmp_path)
    with Proc(path, fmt, "hold", "3.5") as w:
        pid, tid = w.first["pid"], w.first["tid"]
        watch = _watch(path, 14, 0.5, "--threshold", "write_txn_warning_s=1",
                       "--threshold", "write_txn_critical_s=2.5")
        docs = _docs(watch)
        assert "committed" in w.line()
    held = [d for d in docs if d["writer"]]
    assert held and all(d["writer"]["pid"] == pid and d["writer"]["tid"] == tid for d in held)
    assert held[0]["writer"]["held_s"] is None  # the first refresh cannot know since when
    spans = [d["writer"]["held_s"] for d in held[1:]]
    assert spans == sorted(spans) and spans[-1] >= 2.5
    warned = [_ids(d)["long-write-txn"] for d in held if "long-write-txn" in _ids(d)]
    assert warned and {x["severity"] for x in warned} == {"warning", "critical"}
    first = warned[0]
    assert first["subject"] == str(pid) and f"pid {pid}" in first["message"] and "(python" in first["message"]
    assert first["practice"] == "Transaction Patterns: Short-lived write transactions"
    assert first["figure_text"].startswith("write txn open")
    # after the commit: no writer, no warning
    after = docs[docs.index(held[-1]) + 1:]
    assert after and all(d["writer"] is None and "long-write-txn" not in _ids(d) for d in after)
    assert max(d["lmdb"]["last_txnid"] for d in after) > min(d["lmdb"]["last_txnid"] for d in held)


def test_single_run_names_the_writer_without_a_duration(tmp_path):
    path = str(tmp_path)
    with Proc(path, "1.0", "hold", "0") as w:
        out = subprocess.run([sys.executable, "-m", "zlmdb_inspect", path, "--json"], capture_output=True,
                             text=True, timeout=60)
        doc = json.loads(out.stdout)
        assert doc["writer"]["pid"] == w.first["pid"] and doc["writer"]["held_s"] is None
        assert "long-write-txn" not in _ids(doc) and "batching" not in doc
        w.send()
        w.line()
    doc = json.loads(subprocess.run([sys.executable, "-m", "zlmdb_inspect", path, "--json"],
                                    capture_output=True, text=True, timeout=60).stdout)
    assert doc["writer"] is None


@pytest.mark.parametrize("per_txn, per_s, warned", [(1, 150, True), (50, 3, False)])
def test_watch_tells_unbatched_commits_from_batches(tmp_path, fmt, per_txn, per_s, warned):
    path = str(tmp_path)
    with Proc(path, fmt, "rate", str(per_txn), str(per_s), "5") as w:
        watch = _watch(path, 9, 0.5)
        docs = _docs(watch)
        done = w.line()
    rate = done["records"] / done["seconds"]
    assert rate >= 100  # both writers change the same number of records a second
    last = docs[-1]
    b = last["batching"]
    assert b["records_per_commit"] == pytest.approx(per_txn, rel=0.1)
    hits = [_ids(d).get("unbatched-writes") for d in docs[-3:]]
    if warned:
        assert done["txns"] / done["seconds"] >= 100 and b["commits_per_s"] >= 100
        assert all(hits), [d["batching"] for d in docs[-3:]]
        h = hits[-1]
        assert h["subject"] == "Orders" and h["figure"]["commits_per_s"] >= 100
        assert h["figure"]["records_per_commit"] < 2 and "table Orders" in h["message"]
        assert h["practice"] == "Common Anti-Patterns to Avoid: Don't commit after every write (batch!)"
    else:
        assert b["commits_per_s"] < 20 and not any(_ids(d).get("unbatched-writes") for d in docs)


def test_an_unknown_lock_layout_is_reported_not_guessed(tmp_path, monkeypatch):
    """A lock format the inspector does not know (another LMDB build): writer "unknown" with the
    reason, every other figure as usual, no warning from a guess."""
    path = str(tmp_path)
    with Proc(path, "1.0", "hold", "0") as w:
        monkeypatch.setattr(writerlock, "FORMATS", {0x00010001: ("0.9", 48)})  # 1.0's layout unknown
        svc = Service(Options(path=path))
        try:
            one = refresh_dict(svc.refresh(), live=False)
            live = [refresh_dict(svc.refresh(live=True), live=True) for _ in range(2)]
        finally:
            svc.close()
        w.send()
        w.line()
    for doc in [one, *live]:
        assert doc["writer"]["state"] == "unknown" and "0x2C2F6002" in doc["writer"]["reason"]
        assert "long-write-txn" not in _ids(doc) and doc["lmdb"]["format"] == "1.0"


def _snapshot(tmp_path):
    path = str(tmp_path / "db")
    with Proc(path, "1.0", "hold", "0") as w:
        w.send()
        w.line()
    svc = Service(Options(path=path))
    try:
        return svc.refresh().snapshot
    finally:
        svc.close()


def test_rules_at_their_default_thresholds(tmp_path):
    snap = _snapshot(tmp_path)
    th = Thresholds()
    assert (th.write_txn_warning_s, th.write_txn_critical_s) == (10, 60)
    assert (th.unbatched_min_txns_per_s, th.unbatched_max_records_per_txn) == (20, 2)

    def found(**kw) -> dict[str, health.Finding]:
        return {f.id: f for f in health.evaluate(snap, th, RuleInputs(**kw))}

    def writer(held_s):
        return WriterState("held", pid=4242, tid=4250, name="crossbar", held_s=held_s)

    assert "long-write-txn" not in found(writer=writer(9.9))
    assert "long-write-txn" not in found(writer=writer(None))  # a single run has no duration
    w = found(writer=writer(34))["long-write-txn"]
    assert w.severity == "warning" and "Writer pid 4242 (crossbar), thread 4250," in w.message and "34 s" in w.message
    assert found(writer=writer(61))["long-write-txn"].severity == "critical"
    assert "long-write-txn" not in found(writer=WriterState("free"))

    def batch(cps, rpc, tables):
        return Batching(10.0, int(cps * 10), cps, int(cps * 10 * (rpc or 0)), rpc, tables)

    assert "unbatched-writes" not in found(batching=batch(20, 1.0, {1: 200}))  # not more than 20/s
    assert "unbatched-writes" not in found(batching=batch(500, 2.0, {1: 10000}))  # 2 per commit is a batch
    assert "unbatched-writes" not in found(batching=batch(500, None, {}))  # updates only: not judged
    u = found(batching=batch(500, 1.0, {1: 3000, 7: 1000}), writers_seen=[(4242, "crossbar")])["unbatched-writes"]
    assert u.subject is None and "Orders 75%, slot 7 25%" in u.message and "pid 4242 (crossbar)" in u.message
    assert u.figure == {"commits_per_s": 500, "records_per_commit": 1.0}
    assert found(batching=batch(500, 1.0, {1: 5000}))["unbatched-writes"].subject == "Orders"


def test_long_reader_says_how_many_pages_it_pins(tmp_path):
    snap = _snapshot(tmp_path)
    psize = snap.lmdb.page_size
    reader = Reader(pid=777, thread="7f", txnid=1, name="slowpoke", lag=5000, alive=True)
    cap = replace(snap.capacity, pinned_pages=1280, pinned_by={"pid": 777, "name": "slowpoke", "txnid": 1,
                                                               "lag": 5000, "alive": True})
    snap = replace(snap, readers=[reader], capacity=cap)
    w = {f.id: f for f in health.evaluate(snap, Thresholds(), RuleInputs())}["long-reader"]
    assert f"1,280 freed pages, {1280 * psize / 1048576:.1f} MiB" in w.message
    assert "the file grows although records are deleted" in w.message


async def test_tui_shows_the_writer_in_the_title_and_readers_tab_then_not(tmp_path):
    path = str(tmp_path)
    with Proc(path, "1.0", "hold", "0") as w:
        pid = w.first["pid"]
        svc = Service(Options(path=path, interval=0.4, thresholds=["write_txn_warning_s=1"]))
        app = create_app(svc, clock_fn=lambda t: "12:00:00")
        async with app.run_test(size=(120, 30)) as pilot:

            def title() -> str:
                return str(app.screen.query_one("#title", Static).render())

            async def until(cond, timeout=20.0) -> None:
                end = time.monotonic() + timeout
                while not cond():
                    assert time.monotonic() < end, title()
                    await asyncio.sleep(0.1)

            def warned() -> bool:
                ref = app.last_refresh
                return ref is not None and any(x.id == "long-write-txn" for x in ref.warnings)

            await until(lambda: f"writer pid {pid} python" in title() and "write txn open" in title())
            await until(warned)
            assert f"pid {pid}" in next(x.message for x in app.last_refresh.warnings if x.id == "long-write-txn")
            await pilot.press("3")
            line = app.screen.query_one("#writer-line", Static)
            await until(lambda: line.display and f"writer pid {pid} python" in str(line.render()))
            assert f"thread {w.first['tid']}" in str(line.render())
            w.send()  # commit
            assert "committed" in await asyncio.to_thread(w.line)
            await until(lambda: "writer pid" not in title() and not warned() and not line.display)
            await app.workers.wait_for_complete()
        svc.close()
