"""The rules of issue 29 items 1-2 on real databases: free-runs names a table whose values no
reusable run holds (and is silent where the free pages are contiguous); disk-headroom grades the
volume only where it allows less than the map."""

from __future__ import annotations

import pytest
from conftest import FORMATS
from holes import build_holes

from zlmdb_inspect.core.kinds import RuleId, Severity
from zlmdb_inspect.core.options import Thresholds
from zlmdb_inspect.health.evaluate import evaluate
from zlmdb_inspect.storage.inspector import Inspector

PSIZE = 4096


def build(path: str, fmt: str, deleted) -> None:
    build_holes(path, fmt, deleted, big_value=True)


def findings(path: str, rule: RuleId):
    with Inspector(path) as ins:
        snap = ins.snapshot(remember=False)
    return snap, [f for f in evaluate(snap) if f.id == rule]


@pytest.mark.parametrize("fmt", FORMATS)
def test_free_runs_names_the_table_whose_values_no_run_holds(tmp_path, fmt):
    path = str(tmp_path / "db")
    build(path, fmt, lambda i: i % 2 == 0)
    snap, found = findings(path, RuleId.FREE_RUNS)
    largest = snap.capacity.free_runs["largest_pages"]
    assert largest < 13
    assert [f.subject for f in found] == ["slot 6"]  # slot 5's 3-page values fit the runs
    f = found[0]
    assert f.severity == Severity.WARNING and f.figure == largest and f.threshold == 13
    assert f"no run of more than {largest} pages" in f.message and "`slot 6`" in f.message


@pytest.mark.parametrize("fmt", FORMATS)
def test_free_runs_silent_where_free_pages_are_contiguous(tmp_path, fmt):
    path = str(tmp_path / "db")
    build(path, fmt, lambda i: i < 300)
    snap, found = findings(path, RuleId.FREE_RUNS)
    assert snap.capacity.free_runs["largest_pages"] > 13
    assert found == []


def test_disk_headroom_silent_where_the_map_is_the_limit(tmp_path):
    path = str(tmp_path / "db")
    build(path, "1.0", lambda i: i < 300)
    with Inspector(path) as ins:
        snap = ins.snapshot(remember=False)
    fs0 = snap.capacity.filesystem
    assert snap.capacity.limit == "map" and fs0["size_bytes"] > fs0["free_bytes"]
    # any use of the volume over the threshold, but the map allows less: silent
    low = Thresholds(disk_used_warning_pct=0.0, disk_used_critical_pct=0.0)
    assert [f for f in evaluate(snap, low) if f.id == RuleId.DISK_HEADROOM] == []
    # the same snapshot with a volume nearly full that allows less than the map: warning, then critical
    cap = snap.capacity
    fs = dict(cap.filesystem, size_bytes=100 << 20, free_bytes=12 << 20)
    cap.filesystem, cap.limit, cap.available_bytes = fs, "disk", 12 << 20
    [f] = [f for f in evaluate(snap) if f.id == RuleId.DISK_HEADROOM]
    assert f.severity == Severity.WARNING and f.figure == 88.0
    fs["free_bytes"] = 4 << 20
    [f] = [f for f in evaluate(snap) if f.id == RuleId.DISK_HEADROOM]
    assert f.severity == Severity.CRITICAL
