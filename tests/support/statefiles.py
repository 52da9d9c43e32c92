"""State files (service/state.py) as a later run finds them: moved back in time, the way a run a
minute ago would have left them (the tests cannot wait that minute); one-shot runs with or without one."""

from __future__ import annotations

import glob
import json
import os
import struct
import subprocess
import sys
from collections.abc import Callable

from zlmdb import lmdb


def state_file(state_dir: str) -> str:
    """The one database's state file in ``state_dir``."""
    (path,) = glob.glob(os.path.join(state_dir, "*.json"))
    return path


def _parts(path: str) -> tuple[dict, bytes | memoryview]:
    """A state file's JSON line, parsed, and the summary columns' bytes after it."""
    from zlmdb_inspect.service.state import split

    with open(path, "rb") as f:
        line, blob = split(f.read())
    return json.loads(line), blob


def state_doc(state_dir: str) -> dict:
    """The JSON line of the one state file in ``state_dir``."""
    return _parts(state_file(state_dir))[0]


def edit_state(state_dir: str, edit: Callable[[dict], None]) -> None:
    """Edit the JSON line of the state file; the summary columns after it stay as they are."""
    path = state_file(state_dir)
    doc, blob = _parts(path)
    edit(doc)
    with open(path, "wb") as f:
        f.write(json.dumps(doc).encode() + b"\n" + blob)


def edit_free_crcs(state_dir: str) -> None:
    """Every CRC-32 of the free database's pages in the state file changed (as a backup restored over
    the file would show: other bytes under the same page numbers and txnids)."""
    import numpy as np

    path = state_file(state_dir)
    doc, blob = _parts(path)
    free = doc["free"]
    at = sum(doc["summaries"][k] for k in doc["summaries"] if k not in ("rows", "witness")) + free["keys"]
    crcs = np.frombuffer(blob, dtype="<i8", count=free["crcs"] // 8, offset=at)
    data = bytearray(blob)
    data[at:at + free["crcs"]] = ((crcs + 1) % (1 << 32)).astype("<i8").tobytes()
    with open(path, "wb") as f:
        f.write(json.dumps(doc).encode() + b"\n" + bytes(data))


def earlier(doc: dict, seconds: float) -> None:
    """Every time in the state moved back: as if the run that wrote it ran ``seconds`` ago."""
    doc["written_at"] -= seconds
    for s in doc["samples"]:
        s["t"] -= seconds
    for r in doc.get("readers", []):
        r[4] -= seconds


def grow(path: str, fmt: str, commits: int, start: int, value: int = 3000) -> None:
    """``commits`` write transactions of one record each in slot 77 (the test databases' orphan
    slot), values large enough that the pages in use grow with each."""
    env = lmdb.open(path, map_size=64 * 1024 * 1024, lib_version=0 if fmt == "0.9" else 1)
    for i in range(start, start + commits):
        with env.begin(write=True) as txn:
            txn.put(struct.pack(">HQ", 77, 1_000_000 + i), b"g" * value)
    env.close()


def grow_in_child(path: str, fmt: str, commits: int, start: int) -> None:
    """:func:`grow` from another process (LMDB refuses a second open of one environment in a process,
    and the writer is another process in real life)."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = (f"import sys; sys.path.insert(0, {here!r}); from statefiles import grow; "
            "grow(*sys.argv[1:3], *map(int, sys.argv[3:]))")
    subprocess.run([sys.executable, "-c", code, path, fmt, str(commits), str(start)], check=True, timeout=60)


def one_shot(path: str, state_dir: str | None, **opts):
    """One one-shot refresh as a fresh process would do it (a new service each time; state in
    ``state_dir``, none without it; ``opts``: more Options)."""
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import open_service

    svc = open_service(Options(path=path, state=state_dir is not None, state_dir=state_dir, **opts))
    try:
        return svc.refresh()
    finally:
        svc.close()


def free_key(snap) -> tuple:
    """What the free database says: its pages and records, and the runs of reusable pages."""
    c = snap.capacity
    return c.free_pages, c.reusable_pages, c.free_db_pages, c.last_commit_freed_pages, c.free_runs
