"""Repeat one-shot runs in a steady state (issue 24): an unchanged run must hand the next one every
subtree summary, not only the root's it reused."""

from __future__ import annotations

from conftest import put_random, space_key
from statefiles import one_shot as _run
from statefiles import state_doc

from zlmdb_inspect.storage.walk import TreeWalker


def _summaries(state_dir: str) -> int:
    return state_doc(state_dir)["summaries"]["rows"]


def test_an_unchanged_run_leaves_the_next_one_every_summary(tmp_path, monkeypatch):
    # a 10M-record tree has 6,000 branch pages: more than the slack; here the slack is none
    monkeypatch.setattr(TreeWalker, "cache_slack", 0)
    path, st = str(tmp_path / "db"), str(tmp_path / "state")
    put_random(path, 30000, seed=1)
    first = _run(path, st)
    kept = _summaries(st)
    assert kept >= 5 and first.snapshot.count_method == "pages"
    same = _run(path, st)  # nothing changed: the root's summary is reused, nothing below it is walked
    assert same.snapshot.count_method == "pages+cache" and _summaries(st) == kept
    put_random(path, 1, seed=2)  # one record: one bottom branch page of 7 changes
    after = _run(path, st)
    assert after.snapshot.count_method == "pages+cache"
    assert after.read_bytes < first.read_bytes // 3, (after.read_bytes, first.read_bytes)
    assert space_key(after.snapshot) == space_key(_run(path, None).snapshot)


def test_a_one_shot_run_writes_its_state_once(tmp_path, monkeypatch):
    """The refresh writes the state; closing the service after it must not encode it all again."""
    from zlmdb_inspect.service.state import StateStore

    path, st = str(tmp_path / "db"), str(tmp_path / "state")
    put_random(path, 3000, seed=1)
    saves: list[int] = []
    real = StateStore.save
    monkeypatch.setattr(StateStore, "save", lambda self, *a, **k: saves.append(1) or real(self, *a, **k))
    _run(path, st)
    assert len(saves) == 1


def test_rows_of_freed_pages_leave_the_state_and_rows_below_a_reused_summary_stay(tmp_path, monkeypatch):
    """A state keeps a row per branch page the tree still uses: after commits the rows of pages the
    writer freed are gone (they were a quarter of a busy 10M-record tree's file, and grew), and an
    unchanged run keeps the rows below the root it reused, found by their parents."""
    monkeypatch.setattr(TreeWalker, "cache_slack", 10_000)  # the size backstop must not do the work
    path, st = str(tmp_path / "db"), str(tmp_path / "state")
    put_random(path, 60000, seed=1)
    first = _run(path, st)
    branch = first.snapshot.lmdb.branch_pages
    assert _summaries(st) == branch >= 5
    for seed in (2, 3, 4):
        put_random(path, 3, seed=seed, commits=5)  # a few pages rewritten, their old numbers freed
        ref = _run(path, st)
        assert ref.snapshot.count_method == "pages+cache"
        assert _summaries(st) == ref.snapshot.lmdb.branch_pages, (seed, _summaries(st))
        assert space_key(ref.snapshot) == space_key(_run(path, None).snapshot)
    kept = _summaries(st)
    same = _run(path, st)  # only the root is looked up; every row below it stays
    assert same.snapshot.count_method == "pages+cache" and _summaries(st) == kept


def test_a_repeat_run_does_not_import_numpy_ma(tmp_path):
    """numpy's np.unique imports numpy.ma on its first call (7 ms a one-shot run paid for nothing)."""
    import subprocess
    import sys

    path, st = str(tmp_path / "db"), str(tmp_path / "state")
    put_random(path, 30000, seed=1)
    _run(path, st)
    put_random(path, 1, seed=2)  # one bottom branch page of 7 changes: the rest come from the state
    code = ("import sys; from zlmdb_inspect.core.options import Options; "
            "from zlmdb_inspect.service import open_service; "
            f"s = open_service(Options(path={path!r}, state=True, state_dir={st!r})); r = s.refresh(); s.close(); "
            "assert r.snapshot.count_method == 'pages+cache', r.snapshot.count_method; "
            "print('numpy.ma' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
