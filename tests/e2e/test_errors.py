"""Paths that cannot be opened: one line that says why, exit 3, nothing created, nothing changed;
a bug says "internal error" and where its traceback is, never a reason it does not have."""

from __future__ import annotations

import os
import re
import stat
import struct
import subprocess
import sys

import pytest
from conftest import SUPPORT, build_orm_db, listing, run_cli, sha

MODES = [["--json"], ["--check"], ["--dump", "TUsers"], ["--prometheus"], []]


def _case(tmp_path, name: str) -> str:
    p = tmp_path / name
    if name == "missing":
        return str(p)
    if name == "regular-file":
        p.write_bytes(b"hello")
        return str(p)
    if name == "symlink-to-nothing":
        p.symlink_to(tmp_path / "nowhere")
        return str(p)
    p.mkdir()
    if name == "empty-dir":
        return str(p)
    data = p / "data.mdb"
    if name == "data-mdb-is-a-directory":
        data.mkdir()
    elif name == "zero-length":
        data.write_bytes(b"")
    elif name == "random-bytes":
        data.write_bytes(os.urandom(256 * 1024))
    elif name == "other-byte-order":
        raw = bytearray(8192)
        raw[24:28] = struct.pack(">I" if struct.pack("=I", 1)[0] == 1 else "<I", 0xBEEFC0DE)
        data.write_bytes(bytes(raw))
    else:
        build_orm_db(str(p), "1.0", n=200)
        raw = bytearray(data.read_bytes())
        if name == "damaged-meta":
            for i in (0, 4096):
                raw[i + 24:i + 32] = b"\xde\xad\xbe\xef" * 2
        elif name == "truncated":
            raw = raw[: len(raw) // 3]
        data.write_bytes(bytes(raw))
    return str(p)


# Each case's reason, as "subject: reason" (the subject is the path, or its data.mdb): the line ends
# with it in every mode, so a reason lost on the way (a generic message, a bug's NameError) fails.
REASONS = {
    "missing": ("{p}", "no such file or directory"),
    "regular-file": ("{p}", "not a directory (an LMDB environment is a directory holding data.mdb)"),
    "symlink-to-nothing": ("{p}", "a symbolic link to {t}/nowhere, which does not exist"),
    "empty-dir": ("{p}", "no data.mdb in this directory, so no LMDB database here"),
    "data-mdb-is-a-directory": ("{p}/data.mdb", "not a regular file"),
    "zero-length": ("{p}/data.mdb", "the file is empty (0 bytes)"),
    "random-bytes": ("{p}", "not an LMDB data file (no LMDB magic in the first meta page)"),
    "damaged-meta": ("{p}", "not an LMDB data file (no LMDB magic in the first meta page)"),
    "other-byte-order": ("{p}", "an LMDB file written on a machine of the other byte order; LMDB files only open "
                                "on the architecture that wrote them"),
}
CASES = list(REASONS)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mode", MODES, ids=lambda m: " ".join(m) or "tui")
def test_cannot_open(tmp_path, case, mode):
    path = _case(tmp_path, case)
    subject, reason = (x.format(p=path, t=tmp_path) for x in REASONS[case])
    before = listing(str(tmp_path))
    r = run_cli(path, *mode, timeout=30)
    assert r.returncode == 3, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zlmdb-inspect: error: "), r.stderr
    assert lines[0].endswith(f"{subject}: {reason}") and path in lines[0], r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    if mode == ["--check"]:
        assert r.stdout == f"ZLMDB UNKNOWN - {path}: {reason}\n" if subject == path else \
            r.stdout == f"ZLMDB UNKNOWN - {path}: {subject}: {reason}\n", r.stdout
    assert listing(str(tmp_path)) == before


def _damage_a_leaf(path: str) -> int:
    """Scribble over the flags of a leaf in the middle of the tree; returns its page number."""
    data = os.path.join(path, "data.mdb")
    raw = bytearray(open(data, "rb").read())
    leaves = [pg for pg in range(2, len(raw) // 4096) if struct.unpack_from("<H", raw, pg * 4096 + 18)[0] & 2]
    pgno = leaves[len(leaves) // 2]
    raw[pgno * 4096 + 18:pgno * 4096 + 20] = b"\xff\xff"
    open(data, "wb").write(bytes(raw))
    return pgno


def test_damaged_page_is_named(tmp_path):
    """A leaf with impossible flags: --dump refuses with the page's number and why; --check is
    CRITICAL (2, a finding: the file opened) naming the same page."""
    path = str(tmp_path / "dmg")
    build_orm_db(path, "1.0", n=2000)
    pgno = _damage_a_leaf(path)
    before = sha(path)
    why = f"page {pgno} should be a leaf but has flags 0xffff"
    r = run_cli(path, "--dump", "TUsers", timeout=30)
    assert r.returncode == 3 and r.stdout == ""
    assert r.stderr == (f"zlmdb-inspect: error: {path}: the database is damaged (the page walk stopped: {why}); "
                        "records are not read from a damaged tree\n")
    r = run_cli(path, "--check", timeout=30)
    assert r.returncode == 2 and r.stdout.startswith(f"ZLMDB CRITICAL - {path}: "), r.stdout
    assert f"The database file is damaged: the page walk stopped: {why}." in r.stdout, r.stdout
    assert sha(path) == before


def _planted(tmp_path, target: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    return subprocess.run([sys.executable, os.path.join(SUPPORT, "planted_bug.py"), target, *args],
                          capture_output=True, text=True, timeout=60, env=env)


def _crash_file(tmp_path, line: str) -> str:
    """The traceback file the line names: under the state directory, 0600, holding the bug."""
    state = str(tmp_path / "state" / "zlmdb-inspect")
    assert "; traceback written to " in line, line
    name = line.split("; traceback written to ", 1)[1].split(";", 1)[0]
    assert os.path.dirname(name) == state and os.path.basename(name).startswith("crash-"), name
    assert stat.S_IMODE(os.stat(name).st_mode) == 0o600
    text = open(name).read()
    assert "Traceback (most recent call last)" in text and "NameError: name 'pgno' is not defined" in text
    return text


@pytest.mark.parametrize("mode", [["--json"], ["--check"], ["--dump", "TUsers"]], ids=" ".join)
def test_a_bug_is_an_internal_error_with_its_traceback_in_a_file(tmp_path, mode):
    """A NameError planted in the page walk: still exit 3 and one line (UNKNOWN for Nagios), but
    named as a bug of ours, with the traceback file and how to report it, not as a reason."""
    path = str(tmp_path / "db")
    build_orm_db(path, "1.0", n=50)
    before = listing(path)
    r = _planted(tmp_path, "zlmdb_inspect.storage.walk:TreeWalker", path, *mode)
    assert r.returncode == 3, (r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("zlmdb-inspect: error: internal error (a bug in zlmdb-inspect): "
                               "NameError: name 'pgno' is not defined; traceback written to "), lines[0]
    assert lines[0].endswith("please report it to the zlmdb-inspect maintainers with that file "
                             "(it holds paths and names, not records: review it first)"), lines[0]
    assert "TreeWalker" in _crash_file(tmp_path, lines[0])  # where it happened
    if mode == ["--check"]:
        assert r.stdout.startswith(f"ZLMDB UNKNOWN - {path}: internal error (a bug in zlmdb-inspect): "), r.stdout
    assert listing(path) == before


def test_a_bug_in_an_error_path_is_an_internal_error(tmp_path):
    """The bug is in the code that reports an expected error (--check's status line for a missing
    path): the reason is lost, so the line must not pretend to give one, nor be a traceback."""
    r = _planted(tmp_path, "zlmdb_inspect.reports.document:unknown_line", str(tmp_path / "missing"), "--check")
    assert r.returncode == 3, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("zlmdb-inspect: error: internal error (a bug in zlmdb-inspect): "
                                                   "NameError: name 'pgno' is not defined; traceback"), r.stderr
    assert "unknown_line" in _crash_file(tmp_path, lines[0])


def test_an_unwritable_state_directory_prints_the_traceback(tmp_path):
    """No file for the traceback (the state directory's place is a file): it goes to stderr, and
    the line says so, rather than being lost."""
    (tmp_path / "state").write_text("not a directory")
    r = _planted(tmp_path, "zlmdb_inspect.storage.walk:TreeWalker", str(tmp_path / "db"), "--json")
    # no database is needed to fail: the path is missing, an expected error...
    assert r.stderr == f"zlmdb-inspect: error: {tmp_path}/db: no such file or directory\n"
    path = str(tmp_path / "db")
    build_orm_db(path, "1.0", n=5)
    r = _planted(tmp_path, "zlmdb_inspect.storage.walk:TreeWalker", path, "--json")
    assert r.returncode == 3
    assert r.stderr.startswith("Traceback (most recent call last)"), r.stderr
    last = r.stderr.splitlines()[-1]
    assert "NameError: name 'pgno' is not defined; the traceback could not be written to " in last, last
    assert last.endswith("so it is printed above; please report it to the zlmdb-inspect maintainers"), last


def test_truncated_file_is_damaged_not_a_crash(tmp_path):
    """A data.mdb cut to a third of its pages: LMDB cannot open it (the tree's root lies past the
    end), so every mode says so in one line and exits 3 (UNKNOWN), as for any path that cannot be
    inspected; --check also prints the status line. Not 2: no snapshot, so no finding to grade."""
    path = _case(tmp_path, "truncated")
    before = sha(path)
    why = f"{path}: LMDB cannot open it: MDB_PAGE_NOTFOUND"
    for mode in (["--json"], ["--check"], ["--dump", "TUsers"], ["--prometheus"]):
        r = run_cli(path, *mode, timeout=30)
        assert r.returncode == 3, (mode, r.stderr)
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"zlmdb-inspect: error: {why}"), (mode, r.stderr)
        if mode == ["--check"]:
            assert r.stdout.startswith(f"ZLMDB UNKNOWN - {why}") and len(r.stdout.splitlines()) == 1, r.stdout
    assert sha(path) == before


def test_usage_and_config_errors_are_unknown(tmp_path):
    path = str(tmp_path / "db")
    build_orm_db(path, "1.0", n=5)
    bad = tmp_path / "bad.toml"
    bad.write_text("x = [")
    for args in (["--bogus"], ["--threshold", "nope=1"], ["--config", str(tmp_path / "missing.toml")],
                 ["--config", str(bad)], ["--limit", "-1", "--dump", "TUsers"], ["--json", "--check"]):
        r = run_cli(path, *args)
        assert r.returncode == 3, args
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("zlmdb-inspect: error: "), (args, r.stderr)
        assert "internal error" not in r.stderr, (args, r.stderr)


@pytest.mark.parametrize(("args", "reason"), [
    (["--limit", "3", "--json"], "--limit works with --dump TABLE only, not with --json"),
    (["--where", ".a", "--check"], "--where works with --dump TABLE only, not with --check"),
    (["--from", "x"], "--from works with --dump TABLE only"),
    (["--format", "csv", "--watch"], "--format works with --dump TABLE only, not with --watch"),
    (["--interval", "0", "--watch"], "--interval takes seconds, 0.1 or more, not 0"),
    (["--interval", "-1"], "--interval takes seconds, 0.1 or more, not -1"),
    (["--interval", "nan", "--watch"], "--interval takes seconds, 0.1 or more, not nan"),
    (["--interval", "5", "--json"], "--interval applies to what refreshes"),
    (["--count", "2"], "--count works with --watch only"),
    (["--count", "0", "--watch"], "--count takes a number of refreshes, 1 or more"),
    (["--demo-records", "5"], "--demo-records works with --demo only"),
    (["--no-state", "--state-dir", "/tmp", "--json"], "give --state-dir or --no-state, not both"),
    (["--fbs-type", "A=B", "--json"], "--fbs-type names a type of a --fbs schema"),
    (["--dump", "TUsers", "--rule", "format-09=off"], "--threshold and --rule grade warnings"),
    (["--output", "/nonexistent-dir/x.prom", "--prometheus"], "--output /nonexistent-dir/x.prom: no directory "
                                                              "/nonexistent-dir"),
])
def test_flags_outside_their_mode_and_nonsense_values_are_usage_errors(orm_db, args, reason):
    path, _ = orm_db
    r = run_cli(path, *args)
    assert r.returncode == 3, (args, r.stdout, r.stderr)
    assert r.stderr.startswith(f"zlmdb-inspect: error: {reason}") and r.stderr.count("\n") == 1, r.stderr
    if "--check" in args:
        assert r.stdout.startswith("ZLMDB UNKNOWN - ") and reason in r.stdout


def test_list_rules_and_help_name_every_rule_and_threshold():
    from dataclasses import fields

    from zlmdb_inspect.core.kinds import RuleId
    from zlmdb_inspect.core.options import Thresholds

    r = run_cli("--list-rules")
    assert r.returncode == 0, r.stderr
    names = [f.name for f in fields(Thresholds) if f.name != "rules"]
    for rid in RuleId:
        assert re.search(rf"^  {re.escape(rid.value)} +\S", r.stdout, re.M), rid
    for name in names:
        v = getattr(Thresholds(), name)
        want = str(int(v)) if float(v).is_integer() else repr(v)  # as written in a config file: no exponent
        assert re.search(rf"^  {name} = {re.escape(want)}$", r.stdout, re.M), (name, want)
    text = " ".join(run_cli("--help").stdout.split())
    assert all(rid.value in text for rid in RuleId) and all(n in text for n in names)


def test_a_file_truncated_while_open_is_damaged_not_sigbus(tmp_path):
    """data.mdb cut to 3 pages after the first refresh: the next refresh reads the time-ordered table's
    first keys through LMDB's own cursors (a map past the file's end: SIGBUS kills the process) unless
    the page count is checked first. In a child process, so a crash fails the test instead of the run."""
    path = str(tmp_path / "timed")
    code = f"""
import time_tables
from zlmdb_inspect.core.errors import DamagedError
from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service.database import Service
time_tables.build({path!r}, "1.0", ticks=time_tables.times([200] * 5))
svc = Service(Options(path={path!r}))
svc.refresh()
with open({path!r} + "/data.mdb", "r+b") as f:
    f.truncate(4096 * 3)
try:
    svc.refresh()
except DamagedError as e:
    print("damaged:", e)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert r.stdout.startswith(f"damaged: {path}: data.mdb holds 3 pages, its meta page says "), r.stdout


def test_data_mdb_restored_under_an_open_environment_is_said(tmp_path):
    """An older backup copied over data.mdb while a process keeps the environment open: lock.mdb (kept
    by that process) names a newer transaction than either meta page carries, so no snapshot can be
    read. Said in one line with the likely cause; once that process is gone, the next opener resets
    lock.mdb and the database reads again."""
    from procs import Holder

    path = str(tmp_path / "db")
    build_orm_db(path, "1.0", n=20)
    backup = bytes((tmp_path / "db" / "data.mdb").read_bytes())
    build_orm_db(path, "1.0", n=20)  # more commits
    with Holder(path, "pin"):
        with open(os.path.join(path, "data.mdb"), "r+b") as f:
            f.write(backup)
            f.truncate()
        for mode in (["--check"], ["--json"]):
            r = run_cli(path, *mode, "--no-state")
            assert r.returncode == 3, (mode, r.stdout, r.stderr)
            lines = r.stderr.splitlines()
            assert len(lines) == 1 and re.search(
                r"lock\.mdb names transaction \d+ the newest, but data\.mdb's meta pages carry \d+ and \d+: "
                r"was data\.mdb replaced or restored while a process had the environment open\?", lines[0]), lines
    r = run_cli(path, "--check", "--no-state")
    assert r.returncode in (0, 1), (r.stdout, r.stderr)
