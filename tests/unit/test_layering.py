"""The layers are import-linter contracts (pyproject.toml, run by .ci/run); here, what only a
run shows: report modes never load Textual, and the contracts hold for this checkout."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent


def test_report_modes_do_not_load_textual(demo_db):
    code = ("import sys; from zlmdb_inspect.cli import main; "
            "[main([sys.argv[1], m]) for m in ('--json', '--check', '--prometheus')]; "
            "sys.stderr.write(str(any(k.startswith(('textual', 'rich')) for k in sys.modules)))")
    r = subprocess.run([sys.executable, "-c", code, demo_db], capture_output=True, text=True)
    assert r.stderr.strip().endswith("False"), r.stderr


#: stdlib modules a one-shot --json or --check run has no use for, and paid ~20 ms of its start for:
#: statistics (with fractions and decimal), tempfile and argparse's shutil (with bz2 and lzma), hashlib
#: (OpenSSL), subprocess, csv
UNUSED = ("statistics", "tempfile", "shutil", "hashlib", "subprocess", "csv")


def test_one_shot_runs_import_nothing_they_do_not_use(demo_db, tmp_path):
    # twice each: the second run reads the state the first wrote, and writes it again
    code = ("import sys; from zlmdb_inspect.cli import main; "
            "[main([sys.argv[1], m, '--state-dir', sys.argv[2]]) for m in ('--json', '--check') * 2]; "
            f"sys.stderr.write(repr(sorted(m for m in {UNUSED!r} if m in sys.modules)))")
    r = subprocess.run([sys.executable, "-c", code, demo_db, str(tmp_path / "state")], capture_output=True, text=True)
    assert r.stderr.strip().endswith("[]"), r.stderr
    assert len([f for f in (tmp_path / "state").iterdir() if f.suffix == ".json"]) == 1


# the interpreter's own first: pytest run as venv/bin/python -m pytest has no venv/bin on PATH
LINT_IMPORTS = (shutil.which("lint-imports", path=str(pathlib.Path(sys.executable).parent))
                or shutil.which("lint-imports"))


@pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter not installed")
def test_import_contracts_hold():
    r = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and "0 broken" in r.stdout, r.stdout[-3000:]
