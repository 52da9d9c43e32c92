"""Every stored screenshot belongs to a snapshot test that still exists. syrupy reports snapshots no
test used only when the suite runs in one process, and it runs in two (pyproject.toml's ``-n 2``)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def test_every_stored_screenshot_has_its_test():
    r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", "-p", "no:cacheprovider",
                        str(HERE)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    collected = {line.strip() for line in r.stdout.splitlines() if "::" in line}
    stored = sorted((HERE / "__snapshots__").glob("*/*.svg"))
    assert len(stored) >= 10
    orphans = [str(svg.relative_to(HERE)) for svg in stored
               if f"tests/tui/{svg.parent.name}.py::{svg.stem}" not in collected]
    assert not orphans, f"screenshots no test takes (pytest -n 0 --snapshot-update removes them): {orphans}"
