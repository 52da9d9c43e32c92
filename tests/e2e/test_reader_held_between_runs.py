"""A reader's held time carried between one-shot runs (issue 24): a process holding the same
snapshot across two ``--check`` runs a minute apart shows that minute in the second run, keyed by
pid, the process's start time from /proc, thread and txnid (a reused pid is another reader)."""

from __future__ import annotations

import json

from conftest import build_orm_db, run_cli
from procs import Holder
from statefiles import earlier, edit_state, state_doc

QUIET = ("--rule", "orphan-slot=off")  # the test database's deliberate orphan slot
MINUTE = 61.0  # the long-reader rule fires above reader_held_warning_s (60 s)


def _db(tmp_path, fmt: str) -> str:
    path = str(tmp_path / f"db-{fmt}")
    build_orm_db(path, fmt, n=50)
    return path


def _earlier(doc: dict, seconds: float = MINUTE) -> None:
    earlier(doc, seconds)


def _reader(doc: dict, pid: int) -> dict:
    (r,) = [r for r in doc["readers"] if r["pid"] == pid]
    return r


def test_a_reader_holding_across_two_checks_a_minute_apart_is_held_a_minute(tmp_path, fmt):
    path, st = _db(tmp_path, fmt), str(tmp_path / "state")
    with Holder(path, "pin") as holder:
        first = run_cli(path, "--check", *QUIET, "--state-dir", st)
        assert first.returncode == 0 and "held its snapshot" not in first.stdout, first.stdout
        (kept,) = state_doc(st)["readers"]
        assert kept[0] == holder.pid and kept[3] == holder.info["txnid"]
        edit_state(st, _earlier)
        second = run_cli(path, "--check", *QUIET, "--state-dir", st)
        assert second.returncode == 1, second.stdout  # WARNING
        with open(f"/proc/{holder.pid}/comm") as f:  # python or python3: what the interpreter was started as
            name = f.read().strip()
        said = f"[long-reader] Reader pid {holder.pid} ({name}) has held its snapshot for 6"  # 61 s + the runs
        assert said in second.stdout, second.stdout
        doc = json.loads(run_cli(path, "--json", "--state-dir", st).stdout)
        r = _reader(doc, holder.pid)
        assert r["txnid"] == holder.info["txnid"] and r["held_s"] is not None and r["held_s"] >= MINUTE


def test_a_single_run_does_not_know_how_long_a_reader_held(tmp_path):
    path, st = _db(tmp_path, "1.0"), str(tmp_path / "state")
    with Holder(path, "pin") as holder:
        doc = json.loads(run_cli(path, "--json", "--state-dir", st).stdout)
        assert _reader(doc, holder.pid)["held_s"] is None


def test_a_reused_pid_is_another_reader(tmp_path):
    """The same pid and txnid, but the process started at another time: not carried."""
    path, st = _db(tmp_path, "1.0"), str(tmp_path / "state")
    with Holder(path, "pin") as holder:
        doc = json.loads(run_cli(path, "--json", "--state-dir", st).stdout)
        started = _reader(doc, holder.pid)["started"]
        assert isinstance(started, int) and started > 0

        def reused(doc: dict) -> None:
            _earlier(doc)
            doc["readers"][0][1] = started + 100  # another process under the same pid
        edit_state(st, reused)
        doc = json.loads(run_cli(path, "--json", "--state-dir", st).stdout)
        assert _reader(doc, holder.pid)["held_s"] is None
        edit_state(st, _earlier)  # the state this run wrote names the holder as it is: carried
        doc = json.loads(run_cli(path, "--json", "--state-dir", st).stdout)
        assert _reader(doc, holder.pid)["held_s"] >= MINUTE


def test_a_reader_seen_over_an_hour_ago_is_not_carried(tmp_path):
    """It may have ended and begun again on the same snapshot meanwhile: never a guessed hour."""
    path, st = _db(tmp_path, "1.0"), str(tmp_path / "state")
    with Holder(path, "pin") as holder:
        run_cli(path, "--json", "--state-dir", st)
        edit_state(st, lambda doc: _earlier(doc, 3700.0))
        doc = json.loads(run_cli(path, "--json", "--state-dir", st).stdout)
        assert _reader(doc, holder.pid)["held_s"] is None
