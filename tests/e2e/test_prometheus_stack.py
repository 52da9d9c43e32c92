"""The exporter scraped by a real Prometheus: what Prometheus stores is what the databases hold.

Only loopback traffic; Prometheus keeps everything it writes (TSDB, working directory, HOME) in
the test's temporary directory; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest import build_orm_db, listing, open_db, sha

from zlmdb_inspect.reports.prometheus import MetricsServer
from zlmdb_inspect.service.discover import expand_paths
from zlmdb_inspect.service.fleet import Fleet

pytestmark = pytest.mark.skipif(not shutil.which("prometheus"),
                                reason="prometheus (Debian package prometheus) not installed")

WAIT_S = 90.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
        return None


def _query(base: str, expr: str) -> dict[tuple, float]:
    doc = _get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    if not doc or doc.get("status") != "success":
        return {}
    return {tuple(sorted((k, v) for k, v in r["metric"].items() if k not in ("instance", "job"))): float(r["value"][1])
            for r in doc["data"]["result"]}


def _until(what, check, timeout: float = WAIT_S, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"prometheus exited with {proc.returncode} while waiting for {what}")
        time.sleep(0.5)
    pytest.fail(f"no {what} within {timeout:.0f} s")


def test_prometheus_scrapes_every_database(tmp_path):
    node = tmp_path / "node"
    node.mkdir()
    counts = {str(node / "a"): build_orm_db(str(node / "a"), "1.0", n=30),
              str(node / "b"): build_orm_db(str(node / "b"), "0.9", n=55)}
    (node / "broken").mkdir()
    (node / "broken" / "data.mdb").write_bytes(b"\0" * 8192)
    digests = {p: sha(p) for p in counts}
    paths = expand_paths([str(node)])
    assert len(paths) == 3

    fleet = Fleet(paths, open_db, max_age=1.0)
    server = MetricsServer(lambda: fleet.results(timeout=10), host="127.0.0.1", port=0)
    work = tmp_path / "prometheus"
    work.mkdir()
    (work / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: zlmdb\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{server.port}']\n")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work), "TMPDIR": str(work)}
    proc = subprocess.Popen(
        ["prometheus", f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _until("ready Prometheus", lambda: _get(f"{base}/api/v1/status/buildinfo"), proc=proc)
        _until("scrape", lambda: _query(base, 'up{job="zlmdb"} == 1'), proc=proc)
        up = _until("zlmdb_up of three databases", lambda: (lambda r: r if len(r) == 3 else None)(
            _query(base, "zlmdb_up")), proc=proc)
        assert {dict(k)["path"]: v for k, v in up.items()} == {
            str(node / "a"): 1.0, str(node / "b"): 1.0, str(node / "broken"): 0.0}
        for table in ("TUsers", "TPairs", "TIdxNames"):
            got = {dict(k)["path"]: v for k, v in _query(base, f'zlmdb_table_records{{table="{table}"}}').items()}
            assert got == {p: float(c[table]) for p, c in counts.items()}, table
        assert _query(base, f'zlmdb_table_records{{path="{node / "broken"}"}}') == {}
        # a counter Prometheus can rate(): the last transaction id of each database
        tx = {dict(k)["path"]: v for k, v in _query(base, "zlmdb_transactions_total").items()}
        assert set(tx) == set(counts) and all(v >= 1 for v in tx.values())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
        server.close()
        fleet.close()
    assert {p: sha(p) for p in counts} == digests
    assert listing(str(node / "broken")) == ["data.mdb"]  # nothing created where no database is
    assert os.path.isdir(work / "data")  # the TSDB stayed in the temporary directory
