"""Paths that cannot be opened: one line, exit 3, nothing created, nothing changed."""

from __future__ import annotations

import os
import re
import struct

import pytest
from conftest import build_orm_db, listing, run_cli, sha

MODES = [["--json"], ["--check"], ["--dump", "TUsers"], ["--prometheus"], []]


def _case(tmp_path, name: str) -> str:
    p = tmp_path / name
    if name == "missing":
        return str(p)
    if name == "regular-file":
        p.write_bytes(b"hello")
        return str(p)
    p.mkdir()
    if name == "empty-dir":
        return str(p)
    data = p / "data.mdb"
    if name == "zero-length":
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


CASES = ["missing", "regular-file", "empty-dir", "zero-length", "random-bytes", "damaged-meta",
         "other-byte-order"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mode", MODES, ids=lambda m: " ".join(m) or "tui")
def test_cannot_open(tmp_path, case, mode):
    path = _case(tmp_path, case)
    before = listing(str(tmp_path))
    r = run_cli(path, *mode, timeout=30)
    assert r.returncode == 3, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zlmdb-inspect: error: "), r.stderr
    assert "Traceback" not in r.stderr
    assert listing(str(tmp_path)) == before


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
        assert re.search(rf"^  {name} = {v if isinstance(v, int) else format(v, 'g')}$", r.stdout, re.M), name
    text = " ".join(run_cli("--help").stdout.split())
    assert all(rid.value in text for rid in RuleId) and all(n in text for n in names)
