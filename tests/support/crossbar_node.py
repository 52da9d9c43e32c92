"""A real Crossbar.io node for the tests: ``crossbar edge start`` with a cfxdb realm store, and its publisher.

Crossbar (``pip install '.[crossbar]'``, pinned in pyproject) is found in the directory
``ZLMDB_INSPECT_CROSSBAR`` names (a venv's ``bin``; .ci/run makes ``.ci-crossbar/``), else next to the test
interpreter. Where it
is missing the tests skip with the reason; with ``CI=true`` they fail instead (.ci/run installs it,
a missing node there is a broken run, not a skipped one).

The node runs in its own process group on a free 127.0.0.1 port, its directory and log in the
test's temp dir; teardown sends SIGTERM to the group, then SIGKILL. Under NumPy 2 autobahn logs a
traceback about bjdata (built for NumPy 1) at start: harmless, nothing here reads tracebacks as
failure.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

MIB = 1024 * 1024
HERE = Path(__file__).resolve().parent
CROSSBAR_ENV = "ZLMDB_INSPECT_CROSSBAR"

# cfxdb's own counts, read-only on the live store (run by the crossbar venv's python)
_COUNTS = """
import json, sys
import zlmdb
from cfxdb.realmstore import RealmStore
db = zlmdb.Database.open(dbpath=sys.argv[1], readonly=True)
schema = RealmStore.attach(db)
with db.begin() as txn:
    print(json.dumps({"publications": schema.publications.count(txn), "events": schema.events.count(txn),
                      "sessions": schema.sessions.count(txn)}))
"""


def crossbar_bin() -> Path:
    """The directory holding ``crossbar`` and the python that runs it; skips (fails under CI) without one."""
    where = os.environ.get(CROSSBAR_ENV) or os.path.dirname(sys.executable)
    bindir = Path(where)
    missing = [n for n in ("crossbar", "python") if not (bindir / n).exists()]
    if missing:
        why = (f"no Crossbar.io: {', '.join(missing)} not in {bindir} "
               f"(pip install '.[crossbar]', or set {CROSSBAR_ENV} to a venv's bin holding it)")
        if os.environ.get("CI") == "true":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    return bindir


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def node_config(port: int, maxsize: int) -> dict:
    """An edge node: one router worker, realm "realm1" with a cfxdb store, websocket on 127.0.0.1:port."""
    allow = {"call": True, "register": True, "publish": True, "subscribe": True}
    return {
        "version": 2,
        "controller": {},
        "workers": [{
            "type": "router",
            "realms": [{
                "name": "realm1",
                "roles": [{"name": "anonymous", "permissions": [
                    {"uri": "", "match": "prefix", "allow": allow,
                     "disclose": {"caller": False, "publisher": False}, "cache": True}]}],
                "store": {"type": "cfxdb", "path": "../.db-realm1", "maxsize": maxsize,
                          "event-history": [{"uri": "com.example.", "match": "prefix", "limit": 100000}]},
            }],
            "transports": [{
                "type": "websocket",
                "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": port},
                "serializers": ["cbor", "json"],
            }],
        }],
    }


@dataclass
class CrossbarNode:
    """One ``crossbar edge start`` process group and its node directory."""

    root: Path
    maxsize: int = 64 * MIB
    bindir: Path = field(default_factory=crossbar_bin)
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def cbdir(self) -> Path:
        return self.root / ".crossbar"

    @property
    def db(self) -> str:
        """The realm store's directory (the config's "../.db-realm1", relative to the cbdir)."""
        return str(self.root / ".db-realm1")

    @property
    def log(self) -> Path:
        return self.root / "node.log"

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def python(self) -> str:
        return str(self.bindir / "python")

    def start(self, timeout: float = 60.0) -> None:
        """Start the node and wait (bounded) until its transport accepts connections."""
        self.cbdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        (self.cbdir / "config.json").write_text(json.dumps(node_config(self.port, self.maxsize), indent=2))
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(self.bindir / "crossbar"), "edge", "start", "--cbdir", str(self.cbdir)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.root,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"crossbar exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                if os.path.exists(os.path.join(self.db, "data.mdb")):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"crossbar did not listen on 127.0.0.1:{self.port} within {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM to the node's process group (controller and workers), SIGKILL after 15 s."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the group is the controller's pid
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _group_alive(pgid):
                self.proc.poll()  # reaps the controller: a zombie still counts as a member of the group
                time.sleep(0.1)
            if not _group_alive(pgid):
                break
        self.proc.wait(timeout=5)
        self.proc = None

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as e:
            return f"(no log: {e})"

    def publish(self, *args: str, timeout: float = 90.0) -> dict:
        """Run the publisher (``tests/crossbar_publisher.py``) with the node's python; its tally."""
        r = subprocess.run([self.python, str(HERE / "crossbar_publisher.py"), "--url", self.url, *args],
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"publisher failed ({r.returncode}):\n{r.stderr[-3000:]}\nnode:\n{self.log_tail()}")
        return json.loads(r.stdout.strip().splitlines()[-1])

    def cfxdb_counts(self) -> dict[str, int]:
        """cfxdb's own ``count()`` of Publications, Events and Sessions, read-only on the live store."""
        r = subprocess.run([self.python, "-c", _COUNTS, self.db], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"cfxdb count failed:\n{r.stderr[-3000:]}")
        return json.loads(r.stdout.strip().splitlines()[-1])

    def wait_idle(self, quiet_s: float = 1.5, timeout: float = 30.0) -> None:
        """Wait until data.mdb has not changed for ``quiet_s`` (the store flushes its buffer every 200 ms)."""
        path = os.path.join(self.db, "data.mdb")
        deadline = time.monotonic() + timeout
        last, since = _stamp(path), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = _stamp(path)
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
        raise RuntimeError(f"{path} still changing after {timeout} s")


def _stamp(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
