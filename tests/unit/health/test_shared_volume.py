"""The grading of a volume several databases share: time to full at their combined growth, where each
first fills its own free pages, and the thresholds it is graded with (issue 29 item 1)."""

from __future__ import annotations

import pytest

from zlmdb_inspect.core.kinds import RuleId, Severity
from zlmdb_inspect.core.options import Thresholds
from zlmdb_inspect.health.shared_volume import Member, SharedVolume, fill_seconds, grade

MIB = 1 << 20


def test_fill_seconds_each_first_fills_its_own_space():
    a = Member("/a", own_bytes=0, need_bytes=0, claim_bytes=0, bytes_per_s=1.0)
    b = Member("/b", own_bytes=50, need_bytes=0, claim_bytes=0, bytes_per_s=1.0)
    # a draws alone for 50 s (50 of 100), then both: 50 left at 2/s
    assert fill_seconds(100, [a, b]) == pytest.approx(75.0)
    assert fill_seconds(100, [b]) == pytest.approx(150.0)
    # b's own space outlasts the free bytes a draws alone
    late = Member("/late", own_bytes=500, need_bytes=0, claim_bytes=0, bytes_per_s=1.0)
    assert fill_seconds(100, [a, late]) == pytest.approx(100.0)
    idle = Member("/idle", own_bytes=0, need_bytes=0, claim_bytes=0, bytes_per_s=None)
    assert fill_seconds(100, [idle]) is None


def _vol(free: int, *members: Member) -> SharedVolume:
    v = SharedVolume(1, "/srv", 100 * MIB, free, list(members))
    v.seconds = fill_seconds(free, v.members)
    return v


def test_grade_combined_growth_and_need():
    th = Thresholds()
    grow = [Member(p, 0, MIB // 4, 500 * MIB, MIB / 60) for p in ("/a", "/b")]  # 1 MiB/min each
    [f] = grade(_vol(20 * MIB, *grow), th)  # 20 MiB at 2 MiB/min together: 10 min, under map-eta's 1 h
    assert f.id == RuleId.DISK_HEADROOM and f.severity == Severity.CRITICAL and f.subject == "/srv"
    assert f.figure == pytest.approx(600.0) and f.threshold == th.map_eta_critical_s
    assert "2 databases on /srv grow by 34.1 KiB/s together and fill its 20.0 MiB free in 10 min" in f.message
    [f] = grade(_vol(240 * MIB, *grow), th)  # 2 h: under map-eta's warning day
    assert f.severity == Severity.WARNING and f.threshold == th.map_eta_warning_s
    assert grade(_vol(20 * MIB, grow[0]), th) == []  # one database alone: its own rules speak
    assert grade(_vol(10_000 * MIB, *grow), th) == []  # far from full
    need = [Member(p, 0, MIB, 500 * MIB, None) for p in ("/a", "/b", "/c")]
    [f] = grade(_vol(2 * MIB, *need), th)
    assert f.severity == Severity.CRITICAL and "together outgrow it" in f.message and f.figure == 3 * MIB
    assert grade(_vol(3 * MIB, *need), th) == []  # exactly enough for one commit of each
    v = _vol(2 * MIB, *need)
    assert v.limits and v.text("/a") == "shares /srv (2.0 MiB free) with 2 other databases"
    assert not _vol(2000 * MIB, *need).limits  # their maps allow less than the free bytes

