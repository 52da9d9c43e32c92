"""The mutation score of the tests over the code ``[tool.mutmut]`` in pyproject.toml names.

Runs ``mutmut run`` (mutmut 3, a test dependency) from the repository root, then reads
``mutmut results --all true``: a mutant is killed when a test failed (or timed out) with it in place.
Writes the surviving mutants to ``benchmarks/mutation_survivors.txt`` (to be annotated: why each
is equivalent, or which test now kills it) and prints ``killed K of N mutants (P %)`` last.
Not in CI: it takes minutes to hours.

    python benchmarks/mutation_score.py [--max-children 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SURVIVORS = os.path.join(ROOT, "benchmarks", "mutation_survivors.txt")
KILLED = {"killed", "timeout", "segfault"}


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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-children", type=int, default=2)
    a = ap.parse_args()
    t0 = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(a.max_children)], cwd=ROOT,
                         check=False)
    res = results()
    if run.returncode or not res or all(s == "not checked" for s in res.values()):
        raise RuntimeError(f"mutmut run failed (exit {run.returncode}): no score measured")
    by = Counter(res.values())
    survived = sorted(n for n, s in res.items() if s not in KILLED)
    with open(SURVIVORS, "w") as f:
        f.write("# Mutants the tests did not kill (mutmut show NAME for the diff); annotate each:\n"
                "# equivalent (why) or the test that now kills it.\n")
        for n in survived:
            f.write(f"{n}: {res[n]}\n")
    killed = sum(by[s] for s in KILLED)
    print(f"statuses: {dict(by)}; {time.monotonic() - t0:.0f} s; survivors in {os.path.relpath(SURVIVORS, ROOT)}")
    print(f"killed {killed} of {len(res)} mutants ({100.0 * killed / len(res):.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
