"""A restarted exporter (``--serve-metrics``) starts with the history of its state file (issue 24):
its first scrape has a time to full, no warm-up; without the state it is still measuring."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

from conftest import build_orm_db
from prometheus_client.parser import text_string_to_metric_families
from statefiles import earlier, edit_state, grow


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Exporter:
    """``--serve-metrics`` in a child process: scrape it, stop it as SIGTERM does."""

    def __init__(self, path: str, *args: str):
        self.port = _port()
        self.proc = subprocess.Popen([sys.executable, "-m", "zlmdb_inspect", path, "--serve-metrics", str(self.port),
                                      "--interval", "0.2", *args], stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        assert "serving metrics" in self.proc.stderr.readline()

    def scrape(self) -> dict[str, float]:
        """Each unlabelled sample by name (the figures of the one database)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=30) as r:
            text = r.read().decode()
        return {s.name: s.value for fam in text_string_to_metric_families(text) for s in fam.samples
                if set(s.labels) <= {"path"}}

    def scrape_at(self, txnid: int) -> dict[str, float]:
        """The first scrape that has seen transaction ``txnid`` (a scrape reuses figures younger than --interval)."""
        deadline = time.monotonic() + 30
        while (m := self.scrape())["zlmdb_last_txnid"] < txnid:
            assert time.monotonic() < deadline, m
            time.sleep(0.1)
        return m

    def stop(self) -> None:
        self.proc.terminate()
        assert self.proc.wait(timeout=30) == 0


def _history_then_restart(tmp_path, fmt: str, *state: str) -> dict[str, float]:
    path = str(tmp_path / f"db-{fmt}")
    build_orm_db(path, fmt, n=50)
    first = Exporter(path, *state)
    try:
        m = first.scrape()
        assert "zlmdb_time_to_full_seconds" not in m  # one sample: measuring
        txnid = int(m["zlmdb_last_txnid"])
        for step in range(2):  # two growths: a trend
            grow(path, fmt, 20, 20 * step)
            first.scrape_at(txnid + 20 * (step + 1))
    finally:
        first.stop()  # writes the state as it stops
    if state[0] == "--state-dir":
        edit_state(state[1], lambda doc: earlier(doc, 60.0))  # that exporter ran a minute ago
    grow(path, fmt, 20, 40)
    again = Exporter(path, *state)
    try:
        return again.scrape()
    finally:
        again.stop()


def test_a_restarted_exporter_has_a_time_to_full_at_its_first_scrape(tmp_path, fmt):
    m = _history_then_restart(tmp_path, fmt, "--state-dir", str(tmp_path / "state"))
    assert 0 < m["zlmdb_time_to_full_seconds"] < float("inf")


def test_without_state_a_restarted_exporter_is_measuring(tmp_path):
    m = _history_then_restart(tmp_path, "1.0", "--no-state")
    assert "zlmdb_time_to_full_seconds" not in m and m["zlmdb_up"] == 1.0
