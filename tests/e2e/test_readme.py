"""The README's commands on the demo database work as written (paths and module names included)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

from conftest import ROOT


def _demo_commands() -> list[list[str]]:
    """The one-shot commands of the README's "More to try" block, as argv (continuations joined,
    comments and pipes dropped); the TUI, follow and background lines are left to the TUI tests."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    block = text.split("More to try on the demo database:", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    block = re.sub(r"\\\n\s*", " ", block)
    out = []
    for line in block.splitlines():
        argv = shlex.split(line, comments=True)
        argv = argv[:argv.index("|")] if "|" in argv else argv
        if not argv or argv[-1] == "&" or "--follow" in argv:
            continue
        assert argv[0] == "zlmdb-inspect", line
        if not ({"--json", "--dump"} & set(argv)) and "--import" not in argv:
            continue  # opens the TUI
        out.append(argv[1:])
    return out


def test_readme_demo_commands_run_as_written(tmp_path):
    cmds = _demo_commands()
    assert len(cmds) >= 4, cmds
    demo = str(tmp_path / "demo")
    for argv in cmds:
        argv = [demo if a == "/tmp/demo" else a for a in argv]
        if "--import" in argv and not ({"--json", "--dump"} & set(argv)):
            argv += ["--json"]  # the README opens the TUI with the app's classes: the same decoding, as JSON
        r = subprocess.run([sys.executable, "-m", "zlmdb_inspect", *argv], capture_output=True, text=True,
                           timeout=180, cwd=ROOT)
        assert r.returncode == 0, (argv, r.stderr)
        lines = r.stdout.splitlines()
        assert lines, argv
        if "--dump" in argv:
            recs = [json.loads(x) for x in lines]
            if "--fbs" in argv:
                assert len(recs) == 3 and all(rec["decoder"].endswith("flatbuffers:Event") for rec in recs), recs
            if "--where" in argv:
                assert [rec["value"]["name"] for rec in recs] == ["user000897"], recs
        else:
            doc = json.loads(r.stdout)
            assert {(t["name"] or "").rsplit(".", 1)[-1] for t in doc["tables"]} >= {"Users", "Events", "Sessions"}
