"""The writer mutex read from lock.mdb, and the tracker built on it, against real writer processes."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time

import pytest
from conftest import SUPPORT
from support.procs import Proc

from zlmdb_inspect.health.history import Monitor
from zlmdb_inspect.health.writer_watch import (
    WriterWatch,
    batching,
    long_write,
    single,
    unbatched,
)
from zlmdb_inspect.storage import writerlock
from zlmdb_inspect.storage.inspector import Inspector

HERE = SUPPORT  # the helper processes


def paths(d) -> tuple[str, str]:
    return os.path.join(str(d), "lock.mdb"), os.path.join(str(d), "data.mdb")


def test_this_host_has_the_verified_layout():
    assert writerlock.platform_problem() is None  # otherwise every test below checks only "unknown"


def test_held_write_txn_names_thread_and_process_then_clears_on_commit(tmp_path, fmt):
    lock, data = paths(tmp_path)
    with Proc(str(tmp_path), fmt, "hold", "0") as w:
        pid, tid = w.first["pid"], w.first["tid"]
        assert tid != pid  # the transaction runs in a worker thread: tid and pid differ
        with open(lock, "rb") as f:
            before = f.read()
        seen = writerlock.writer(lock, data)
        with open(lock, "rb") as f:
            assert f.read() == before  # reading touched nothing
        assert (seen.state, seen.tid, seen.pid, seen.format) == ("held", tid, pid, fmt)
        assert seen.name == "python" or seen.name.startswith("python")
        assert seen.lock_txnid == w.first["last_txnid"]
        assert seen.reason is None
        w.send()
        committed = w.line()["committed"]
        after = writerlock.writer(lock, data, candidates=[pid])
        assert (after.state, after.tid, after.pid, after.reason) == ("free", None, None, None)
        assert after.lock_txnid == committed == seen.lock_txnid + 1


def test_known_pids_are_tried_first_and_a_thread_is_found_without_them(tmp_path):
    with Proc(str(tmp_path), "1.0", "hold", "0") as w:
        pid, tid = w.first["pid"], w.first["tid"]
        assert writerlock.thread_group(tid, [os.getpid(), pid]) == pid
        assert writerlock.thread_group(tid, []) == pid  # through /proc/TID/status
        w.send()
        w.line()


def test_no_live_process_reads_nothing(tmp_path):
    lock, data = paths(tmp_path)
    with Proc(str(tmp_path), "1.0", "hold", "0") as w:
        w.send()
        w.line()
    got = writerlock.writer(lock, data)
    assert got.state == "closed" and single(got).to_json() is None


def test_writer_that_died_inside_its_txn_is_no_writer(tmp_path, fmt):
    lock, data = paths(tmp_path)
    with Proc(str(tmp_path), fmt, "hold", "0") as w, \
            Proc(str(tmp_path), "read", "0", script="holder_proc.py"):  # keeps the environment live
        tid = w.first["tid"]
        assert writerlock.writer(lock, data).tid == tid
        w.proc.kill()
        w.proc.wait()
        got = writerlock.writer(lock, data)
        assert got.state == "free" and str(tid) in got.reason and "died" in got.reason


def test_thread_id_of_an_unrelated_process_is_not_taken_for_the_writer(tmp_path):
    """A tid from another PID namespace can name some local thread: it must map data.mdb to count."""
    data = paths(tmp_path)[1]
    with Proc(str(tmp_path), "1.0", "hold", "0") as w:
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            fake = writerlock.WriterLock("held", tid=other.pid, format="1.0")
            got = writerlock.resolve(fake, data, candidates=[w.first["pid"]])
            assert got.pid is None and f"pid {other.pid}" in got.reason and "namespace" in got.reason
            with open("/proc/sys/kernel/pid_max") as f:
                beyond = int(f.read()) + 1
            got = writerlock.resolve(writerlock.WriterLock("held", tid=beyond), data)
            assert got.pid is None and "not in this /proc" in got.reason
        finally:
            other.kill()
            other.wait()
        w.send()
        w.line()


def _lock_bytes(magic=writerlock.MAGIC, fmt=0x2C2F6002, kind=0x90, owner=0, lock=None, size=8192) -> bytes:
    b = bytearray(size)
    struct.pack_into("<II", b, 0, magic, fmt)
    if size >= writerlock.READ_BYTES:
        struct.pack_into("<IIiIi", b, 64, owner if lock is None else lock, 1, owner, 1 if owner else 0, kind)
    return bytes(b)


@pytest.mark.parametrize("content, why", [
    (_lock_bytes(magic=0x12345678), "magic"),
    (_lock_bytes(fmt=0x2C2F6003), "lock format 0x2C2F6003"),
    (_lock_bytes(fmt=0x00010002), "lock format 0x00010002"),
    (_lock_bytes(kind=0x0), "not a process-shared robust"),
    (_lock_bytes(kind=0x80, owner=4242), "not a process-shared robust"),
    (_lock_bytes(owner=4242, lock=4343), "disagree"),
    (_lock_bytes(size=40), "too short"),
    (b"", "too short"),
])
def test_unknown_layout_is_reported_unknown_never_guessed(tmp_path, content, why):
    lock, data = paths(tmp_path)
    with open(lock, "wb") as f:
        f.write(content)
    got = writerlock.writer(lock, data, live=True)
    assert got.state == "unknown" and why in got.reason and got.tid is None
    assert single(got).to_json() == {"state": "unknown", "reason": got.reason}


def test_unreadable_lock_file_is_unknown(tmp_path):
    lock, data = paths(tmp_path)
    os.mkdir(lock)  # a directory where the lock file should be
    got = writerlock.writer(lock, data, live=True)
    assert got.state == "unknown" and "lock.mdb" in got.reason


def test_known_layout_with_owner_is_parsed():
    got = writerlock.parse(_lock_bytes(owner=4242))
    assert (got.state, got.tid, got.format) == ("held", 4242, "1.0")
    assert writerlock.parse(_lock_bytes(fmt=0x00010001)).format == "0.9"


# -- across refreshes --------------------------------------------------------------------


def test_same_thread_holding_grows_held_s_and_warns_then_clears(tmp_path, fmt):
    lock, data = paths(tmp_path)
    watch = WriterWatch()
    with Proc(str(tmp_path), fmt, "hold", "0") as w:
        t0 = time.monotonic()
        first = watch.observe(writerlock.writer(lock, data), t0)
        assert first.held and first.held_s is None  # the first observation cannot know since when
        time.sleep(1.2)
        st = watch.observe(writerlock.writer(lock, data), time.monotonic())
        assert st.pid == w.first["pid"] and st.tid == w.first["tid"]
        assert 1.1 <= st.held_s <= 3.0
        assert long_write(st, warning_s=1.0, critical_s=60) == "warning"
        assert long_write(st, warning_s=0.5, critical_s=1.0) == "critical"
        assert long_write(st) is None  # the defaults: 10 s and 60 s
        assert st.to_json()["held_s"] == st.held_s
        w.send()
        w.line()
        gone = watch.observe(writerlock.writer(lock, data), time.monotonic())
        assert not gone.held and gone.to_json() is None and long_write(gone, 1.0) is None


def test_busy_writer_that_commits_between_refreshes_is_not_one_long_txn(tmp_path):
    """Back-to-back 50 ms transactions: the same thread holds the lock at nearly every refresh,
    but the txnid moves, so no transaction is long."""
    lock, data = paths(tmp_path)
    watch = WriterWatch()
    with Proc(str(tmp_path), "1.0", "busy", "3") as w:
        held = []
        for _ in range(12):
            st = watch.observe(writerlock.writer(lock, data), time.monotonic())
            if st.held:
                assert st.tid == w.first["tid"]
                held.append(st.held_s)
            time.sleep(0.2)
        assert w.line()["txns"] > 20
    assert len(held) >= 6  # seen holding most of the time ...
    assert max(h or 0.0 for h in held) < 0.5  # ... yet never one transaction across refreshes


def _watch_rates(path: str, seconds: float, interval: float = 0.25) -> Monitor:
    mon = Monitor(window=100)
    with Inspector(path) as ins:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            mon.add(ins.snapshot())
            time.sleep(interval)
    return mon


def test_unbatched_writer_is_told_from_a_batching_one_at_the_same_record_rate(tmp_path, fmt):
    one, fifty = tmp_path / "one", tmp_path / "fifty"
    one.mkdir()
    fifty.mkdir()
    with Proc(str(one), fmt, "rate", "1", "150", "3.5") as w:
        time.sleep(0.3)
        mon = _watch_rates(str(one), 2.5)
        done = w.line()
    assert done["txns"] / done["seconds"] >= 100  # the writer really committed that fast
    b = batching(mon.samples, window=100)
    assert b.commits_per_s >= 100 and b.records_per_commit == pytest.approx(1.0, abs=0.05)
    assert b.attributed() == [1] and b.share(1) == 1.0
    assert unbatched(b)
    assert not unbatched(b, min_txns_per_s=1000)

    with Proc(str(fifty), fmt, "rate", "50", "3", "3.5") as w:
        time.sleep(0.3)
        mon = _watch_rates(str(fifty), 2.5)
        w.line()
    b = batching(mon.samples, window=100)
    assert 1 <= b.commits_per_s <= 5 and b.records_per_commit == pytest.approx(50, rel=0.1)
    assert b.records_changed / b.window_s >= 100  # the same record rate
    assert not unbatched(b)
    assert not unbatched(b, min_txns_per_s=1.0)  # 50 records a commit is a batch at any pace


def test_commits_that_change_no_count_are_not_judged():
    class S:
        def __init__(self, t, txnid, tables, counts_txnid=None):
            self.t, self.last_txnid, self.tables = t, txnid, tables
            self.entries = sum(tables.values())
            self.counts_txnid = txnid if counts_txnid is None else counts_txnid

    updates_only = [S(0, 100, {0: 1, 1: 500}), S(1, 200, {0: 1, 1: 500}), S(2, 300, {0: 1, 1: 500})]
    b = batching(updates_only)
    assert b.commits_per_s == 100 and b.records_per_commit is None and not unbatched(b)
    # the split by table: inserts into one table, deletes from another
    mixed = [S(0, 0, {1: 10, 2: 10}), S(1, 50, {1: 35, 2: 10}), S(2, 100, {1: 60, 2: 0})]
    b = batching(mixed)
    assert b.records_changed == 25 + 15 and b.tables == {1: 50, 2: 10} and b.attributed() == [1, 2]
    assert b.records_per_commit == 0.4 and unbatched(b) and b.share(2) == pytest.approx(1 / 6)
    assert batching(mixed[:1]) is None
    # a deferred walk repeats the previous counts: the split compares walks of different transactions
    deferred = [S(0, 0, {1: 10}), S(1, 50, {1: 10}, counts_txnid=0), S(2, 100, {1: 110})]
    deferred[1].entries = 60
    b = batching(deferred)
    assert b.records_changed == 100 and b.tables == {1: 100} and b.records_per_commit == 1.0
