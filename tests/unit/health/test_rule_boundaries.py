"""Each threshold rule at its threshold, just below and just above it: which severity fires, and
which threshold the finding reports (the critical one reports the critical threshold).

Snapshots are built from the model's dataclasses and go through ``health.evaluate`` as every
client's do; nothing is read from a database.
"""

from __future__ import annotations

import math

import pytest

from zlmdb_inspect.core.kinds import RuleId, Severity
from zlmdb_inspect.core.model import Capacity, LmdbFigures, Reader, Snapshot
from zlmdb_inspect.core.options import Thresholds
from zlmdb_inspect.health import Finding, RuleInputs, evaluate
from zlmdb_inspect.health.timetofull import GROWING, TimeToFull

TH = Thresholds()  # the shipped defaults: what an operator gets without --threshold
MIB = 1024 * 1024


def below(x: float) -> float:
    return math.nextafter(x, -math.inf)


def above(x: float) -> float:
    return math.nextafter(x, math.inf)


def _snap(used_pct: float = 10.0, readers: list[Reader] | None = None, max_readers: int = 126) -> Snapshot:
    """A quiet 1.0 database of 64 MiB map whose only notable figures are the ones given."""
    map_size, page = 64 * MIB, 4096
    used = int(map_size * used_pct / 100)
    lm = LmdbFigures(format="1.0", library="1.0", page_size=page, depth=2, branch_pages=1, leaf_pages=10,
                     overflow_pages=0, entries=100, last_pgno=used // page - 1, last_txnid=5000,
                     max_readers=max_readers, num_readers=len(readers or []), locking=True)
    cap = Capacity(map_size=map_size, file_size=used, used_bytes=used, headroom_bytes=map_size - used,
                   headroom_pct=100.0 - used_pct, free_pages=0, reusable_pages=0, free_db_pages=0,
                   used_pct=used_pct, map_size_meta=map_size, in_use_bytes=used, available_bytes=map_size - used)
    return Snapshot(path="/db", taken_at=0.0, txn_ms=1.0, lmdb=lm, capacity=cap, tables=[], databases=[],
                    readers=list(readers or []))


def _found(rule: RuleId, snap: Snapshot, th: Thresholds = TH, found: RuleInputs | None = None) -> list[Finding]:
    return [f for f in evaluate(snap, th, found) if f.id == rule]


def _reader(pid: int, lag: int | None = 0, held_s: float | None = None, own: bool = False) -> Reader:
    return Reader(pid=pid, thread="0x1", txnid=5000 - (lag or 0), lag=lag, held_s=held_s, alive=True, own=own)


# -- map-headroom: warning at >= map_used_warning_pct, critical at >= map_used_critical_pct --------------


@pytest.mark.parametrize("th", [TH, Thresholds(map_used_warning_pct=70.5, map_used_critical_pct=90.25)],
                         ids=["defaults", "custom"])
@pytest.mark.parametrize("level, expected", [
    ("warning", [(None, None), (Severity.WARNING, "warning"), (Severity.WARNING, "warning")]),
    ("critical", [(Severity.WARNING, "warning"), (Severity.CRITICAL, "critical"), (Severity.CRITICAL, "critical")]),
])
def test_map_headroom_at_below_and_above_each_threshold(th, level, expected):
    thr = th.map_used_warning_pct if level == "warning" else th.map_used_critical_pct
    thresholds = {"warning": th.map_used_warning_pct, "critical": th.map_used_critical_pct}
    for used, (sev, reported) in zip((below(thr), thr, above(thr)), expected):
        found = _found(RuleId.MAP_HEADROOM, _snap(used_pct=used), th)
        if sev is None:
            assert found == [], used
            continue
        assert len(found) == 1, used
        f = found[0]
        assert f.severity == sev, used
        assert f.figure == used
        assert f.threshold == thresholds[reported], used
        assert f.threshold_text == f"{thresholds[reported]:g}% in use", used


# -- long-reader: lag "over N transactions" (N does not fire, N + 1 does), held "over S seconds" ---------


@pytest.mark.parametrize("lag, fires", [(TH.reader_lag_warning_txns - 1, False), (TH.reader_lag_warning_txns, False),
                                        (TH.reader_lag_warning_txns + 1, True)])
def test_long_reader_lag_is_over_the_threshold_exactly(lag, fires):
    found = _found(RuleId.LONG_READER, _snap(readers=[_reader(4242, lag=lag)]))
    if not fires:
        assert found == []
        return
    assert len(found) == 1
    f = found[0]
    assert (f.severity, f.subject) == (Severity.WARNING, "4242")
    assert f.figure == {"lag": lag, "held_s": None, "pins_bytes": None}
    assert f.figure_text == f"lag {lag:,} transactions"
    assert f.threshold == {"lag": TH.reader_lag_warning_txns, "held_s": TH.reader_held_warning_s,
                           "pins_bytes": 16 * MIB}  # a quarter of the 64 MiB map
    assert f.threshold_text == "lag over 1,000 transactions, held over 60 s or pinning 16.0 MiB"


@pytest.mark.parametrize("held, fires", [(below(TH.reader_held_warning_s), False), (TH.reader_held_warning_s, False),
                                         (above(TH.reader_held_warning_s), True)])
def test_long_reader_held_is_over_the_threshold(held, fires):
    found = _found(RuleId.LONG_READER, _snap(readers=[_reader(4243, lag=0, held_s=held)]))
    assert [(f.severity, f.subject, f.figure) for f in found] == (
        [(Severity.WARNING, "4243", {"lag": 0, "held_s": held, "pins_bytes": None})] if fires else [])


# -- long-reader on bytes pinned (issue 29 item 3): at long_reader_bytes, else min(1 GiB, 25 % of the map) --


@pytest.mark.parametrize("th, limit", [(TH, 16 * MIB), (Thresholds(long_reader_bytes=5 * MIB), 5 * MIB)],
                         ids=["quarter-of-map", "set"])
@pytest.mark.parametrize("delta, fires", [(-1, False), (0, True), (1, True)])
def test_long_reader_fires_on_bytes_pinned(th, limit, delta, fires):
    r = _reader(4244, lag=1)
    r.pins_bytes, r.releases_bytes = limit + delta, 4096
    found = _found(RuleId.LONG_READER, _snap(readers=[r]), th)
    assert [(f.subject, f.figure["pins_bytes"], f.threshold["pins_bytes"]) for f in found] == (
        [("4244", limit + delta, limit)] if fires else [])
    if fires:
        assert "pins " in found[0].message and "ending it releases 4.0 KiB" in found[0].figure_text


def test_long_reader_bytes_default_is_at_most_a_gibibyte():
    snap = _snap(readers=[_reader(4245, lag=1)])
    snap.capacity.map_size = 64 * 1024 * MIB
    snap.readers[0].pins_bytes = 1024 * MIB - 1
    assert _found(RuleId.LONG_READER, snap) == []
    snap.readers[0].pins_bytes = 1024 * MIB
    assert [f.threshold["pins_bytes"] for f in _found(RuleId.LONG_READER, snap)] == [1024 * MIB]


@pytest.mark.parametrize("map_size, limit", [(64 * MIB + 3, 16 * MIB), (0, 1024 * MIB)],
                         ids=["quarter-rounded-down", "map-unknown"])
def test_long_reader_bytes_default_of_an_odd_or_unknown_map(map_size, limit):
    snap = _snap(readers=[_reader(4246, lag=1)])
    snap.capacity.map_size = map_size
    snap.readers[0].pins_bytes = limit
    [f] = _found(RuleId.LONG_READER, snap)
    assert f.threshold["pins_bytes"] == limit and isinstance(f.threshold["pins_bytes"], int)


def test_long_reader_bytes_set_to_one_byte():
    snap = _snap(readers=[_reader(4247, lag=1)])
    snap.readers[0].pins_bytes = 1
    assert [f.threshold["pins_bytes"] for f in _found(RuleId.LONG_READER, snap, Thresholds(long_reader_bytes=1))] \
        == [1]


def test_long_reader_ignores_our_own_reader():
    own = _reader(1, lag=TH.reader_lag_warning_txns + 1, own=True)
    assert _found(RuleId.LONG_READER, _snap(readers=[own])) == []


# -- reader-slots: warning at >= reader_slots_warning_pct of max_readers (our own slot not counted) ------


@pytest.mark.parametrize("in_use, fires", [(79, False), (80, True), (81, True)])
def test_reader_slots_at_below_and_above_the_threshold(in_use, fires):
    assert TH.reader_slots_warning_pct == 80.0  # 100 slots: 80 in use is the threshold exactly
    readers = [_reader(1000 + i) for i in range(in_use)] + [_reader(1, own=True)]
    found = _found(RuleId.READER_SLOTS, _snap(readers=readers, max_readers=100))
    if not fires:
        assert found == []
        return
    assert len(found) == 1
    f = found[0]
    assert f.severity == Severity.WARNING
    assert f.figure == float(in_use) and f.figure_text == f"{in_use} of 100 slots ({in_use}%)"
    assert f.threshold == 80.0 and f.threshold_text == "80% of slots"


def test_reader_slots_figure_to_one_decimal():
    readers = [_reader(1000 + i) for i in range(101)]  # 101 of 126 slots: 80.158... %
    [f] = _found(RuleId.READER_SLOTS, _snap(readers=readers, max_readers=126))
    assert (f.figure, f.figure_text) == (80.2, "101 of 126 slots (80%)")


# -- map-eta: while growing, warning under map_eta_warning_s, critical under map_eta_critical_s ----------


def _growing(seconds: float) -> RuleInputs:
    return RuleInputs(time_to_full=TimeToFull(state=GROWING, seconds=seconds, window_s=60.0, bytes_per_s=1000.0),
                    history=True)


@pytest.mark.parametrize("eta, expected", [
    (below(TH.map_eta_critical_s), (Severity.CRITICAL, TH.map_eta_critical_s, "less than 60 min")),
    (TH.map_eta_critical_s, (Severity.WARNING, TH.map_eta_warning_s, "less than 24.0 h")),
    (above(TH.map_eta_critical_s), (Severity.WARNING, TH.map_eta_warning_s, "less than 24.0 h")),
    (below(TH.map_eta_warning_s), (Severity.WARNING, TH.map_eta_warning_s, "less than 24.0 h")),
    (TH.map_eta_warning_s, None),
    (above(TH.map_eta_warning_s), None),
])
def test_map_eta_at_below_and_above_each_threshold(eta, expected):
    found = _found(RuleId.MAP_ETA, _snap(used_pct=50.0), found=_growing(eta))
    assert [(f.severity, f.threshold, f.threshold_text) for f in found] == ([expected] if expected else [])
    if expected:
        assert found[0].figure == round(eta, 1)


def test_map_eta_needs_a_live_history():
    """A single run's estimate (no history) never counts down, however close it says full is."""
    single = _growing(below(TH.map_eta_critical_s))
    single.history = False
    assert _found(RuleId.MAP_ETA, _snap(used_pct=50.0), found=single) == []
