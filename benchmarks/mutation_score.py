"""The mutation score of the tests over the rules, the capacity figures and the reader table.

Runs ``mutmut run`` (mutmut 3, a test dependency; files and tests in ``[tool.mutmut]`` of
pyproject.toml) on the mutants of the functions SCOPE names, then reads ``mutmut results --all
true``: a mutant is killed when a test failed (or timed out) with it in place; "no tests" and
"survived" are not. Rewrites ``benchmarks/mutation_survivors.md``, one line per survivor, keeping
the note written for each (why it is equivalent, or which test now kills it), and prints
``killed K of N mutants (P %)`` last. Not in CI: it takes minutes.

    python benchmarks/mutation_score.py [--max-children 1]
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import subprocess
import sys
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SURVIVORS = os.path.join(ROOT, "benchmarks", "mutation_survivors.md")
LOG = os.path.join(ROOT, "mutants", "mutation_score.log")
KILLED = {"killed", "timeout", "segfault"}
C = "ǁ"  # mutmut's separator of class and method in a mutant's name
#: mutmut's names (module.x_function / module.xǁClassǁmethod) of the functions scored: where a
#: mutant changes a figure or a decision (thresholds, comparisons, sums), not the rules' wording
SCOPE = [
    "zlmdb_inspect.health.rules.x_map_headroom__*",                  # map-headroom: levels, figures
    "zlmdb_inspect.health.rules.x_reader_slots__*",                  # reader-slots: its threshold
    "zlmdb_inspect.health.rules.x__long_reader_bytes__*",            # long-reader: bytes pinned that count
    "zlmdb_inspect.health.rules.x__pinned_by__*",                    # which reader pins the freed pages
    "zlmdb_inspect.health.rules.x_map_eta__*",                       # map-eta: levels, pinned growth
    "zlmdb_inspect.health.rules.x_free_pages__*",                    # free-pages: both thresholds, the pinner
    "zlmdb_inspect.health.rules.x__pinner_text__*",                  # the pinning reader in words
    "zlmdb_inspect.health.rules.x__unpin__*",                        # end its transaction or clear its slot
    "zlmdb_inspect.health.rules.x__map_mismatch__*",                 # which writers' maps differ
    f"zlmdb_inspect.storage.inspector.x{C}Inspector{C}_capacity__*",  # the capacity figures
    f"zlmdb_inspect.storage.inspector.x{C}Inspector{C}_disk__*",     # map or disk: which allows less
    "zlmdb_inspect.storage.inspector.x_parse_readers__*",            # the reader table
    "zlmdb_inspect.storage.inspector.x_reader_space__*",             # what each reader pins
    "zlmdb_inspect.storage.lockfile.x__lock_holder__*",              # lock.mdb: F_GETLK on a byte
    "zlmdb_inspect.storage.lockfile.x_in_use__*",                    # another process has it open
    "zlmdb_inspect.storage.lockfile.x_holder__*",                    # who holds the environment lock
    "zlmdb_inspect.storage.lockfile.x_pids_alive__*",                # each reader's liveness
]
NOTE = re.compile(r"^- `([^`]+)` \(([^)]*)\): (.*)$")
UNNOTED = "NOT YET ANNOTATED"


def in_scope(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in SCOPE)


def results() -> dict[str, str]:
    """Mutant name -> status, from ``mutmut results --all true`` (lines ``name: status``)."""
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name:
            found[name] = status.strip()
    return found


def notes() -> dict[str, str]:
    """The note kept for each survivor in the file from the last run."""
    if not os.path.exists(SURVIVORS):
        return {}
    with open(SURVIVORS, encoding="utf-8") as f:
        return {m.group(1): m.group(3) for m in map(NOTE.match, f) if m and m.group(3) != UNNOTED}


def write_survivors(res: dict[str, str], summary: str) -> int:
    """Rewrite the survivors' file; returns how many survivors have no note yet."""
    kept = notes()
    survived = sorted(n for n, s in res.items() if s not in KILLED)
    missing = 0
    with open(SURVIVORS, "w", encoding="utf-8") as f:
        f.write("# Mutants the tests do not kill\n\n"
                "Written by `python benchmarks/mutation_score.py` (notes are kept across runs); "
                "`python -m mutmut show NAME` prints a mutant's diff. Each note says why the mutant is "
                "equivalent (no test can tell it from the code), or why it is left.\n\n"
                f"Last run: {summary}\n\n")
        for n in survived:
            note = kept.get(n)
            missing += note is None
            f.write(f"- `{n}` ({res[n]}): {note or UNNOTED}\n")
    return missing


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-children", type=int, default=1, help="mutmut's workers (the CPU is shared)")
    a = ap.parse_args()
    t0 = time.monotonic()
    os.makedirs(os.path.dirname(LOG), exist_ok=True)
    with open(LOG, "w") as log:  # mutmut's own output (a spinner, and why a clean run failed)
        run = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(a.max_children),
                              *SCOPE], cwd=ROOT, check=False, stdout=log, stderr=subprocess.STDOUT)
    res = {n: s for n, s in results().items() if in_scope(n)}
    if run.returncode or not res or any(s == "not checked" for s in res.values()):
        with open(LOG, errors="replace") as log:
            tail = log.read()[-3000:]
        raise RuntimeError(f"mutmut run failed (exit {run.returncode}), no score measured; the end of {LOG}:\n{tail}")
    by = Counter(res.values())
    killed = sum(by[s] for s in KILLED)
    score = f"killed {killed} of {len(res)} mutants ({100.0 * killed / len(res):.1f} %)"
    took = time.monotonic() - t0
    missing = write_survivors(res, f"{score}; {dict(by)}; {took:.0f} s with {a.max_children} worker(s)")
    print(f"statuses: {dict(by)}; {took:.0f} s; survivors in {os.path.relpath(SURVIVORS, ROOT)}"
          f" ({missing} without a note)")
    print(score)
    return 0


if __name__ == "__main__":
    sys.exit(main())
