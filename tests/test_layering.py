"""The data layer never imports Textual; report modes never load it."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

PKG = pathlib.Path(__file__).resolve().parent.parent / "zlmdb_inspect"


def test_data_layer_has_no_textual_import():
    for path in PKG.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for n in names:
                assert not n.startswith("textual"), f"{path.name} imports {n}"
                if path.name != "cli.py":  # the CLI starts the TUI, lazily, in TUI mode only
                    assert not n.startswith("zlmdb_inspect.tui"), f"{path.name} imports {n}"


def test_report_modes_do_not_load_textual(demo_db):
    code = ("import sys; from zlmdb_inspect.cli import main; "
            "[main([sys.argv[1], m]) for m in ('--json', '--check', '--prometheus')]; "
            "sys.stderr.write(str(any(k.startswith('textual') for k in sys.modules)))")
    r = subprocess.run([sys.executable, "-c", code, demo_db], capture_output=True, text=True)
    assert r.stderr.strip().endswith("False"), r.stderr
