"""Growth from the records' own time (issue 23): per-day figures against the exact counts the
builders wrote, estimates within their stated uncertainty, odd data never a rate."""

from __future__ import annotations

import time

import pytest
import time_tables as tt
from conftest import open_db, raw_env, sha

from zlmdb_inspect.core.kinds import RuleId

RATES = [100 + (d // 30) * 100 for d in range(90)]  # 100/day, then 200, then 300: a changing rate


def _table(snap, name):
    return next(t for t in snap.tables if t.name and t.name.endswith(name))


def _refresh(path, seed=None):
    svc = open_db(path)
    if seed is not None:
        svc._growth.seed = seed
    try:
        return svc.refresh()
    finally:
        svc.close()


def test_leading_key_days_are_exact_both_formats(tmp_path, fmt):
    ts = tt.times(RATES)
    future = [time.time_ns() + 30 * tt.DAY_NS + i for i in range(7)]  # dated in the future: not time
    path = str(tmp_path / "db")
    tt.build(path, fmt, ticks=ts + future)
    before = sha(path)
    ref = _refresh(path)
    t = _table(ref.snapshot, "Ticks").time
    assert t is not None and t.source == "key" and t.exact and t.sample is None
    assert {d["day"]: d["records"] for d in t.days} == tt.by_day(ts)
    assert t.untimed == len(future)
    assert t.oldest[:10] == tt.day_of(min(ts)) and t.newest[:10] == tt.day_of(max(ts))
    last7 = sum(RATES[-7:]) + 1  # the newest record at 23:59:59.9 of the last day
    assert t.records_per_day["7d"] == pytest.approx(last7 / 7, abs=1e-3)
    assert t.records_per_day["30d"] == pytest.approx((sum(RATES[-30:]) + 1) / 30, abs=1e-3)
    assert t.records_per_day["1d"] == pytest.approx(RATES[-1] + 1, abs=1e-3)
    assert len(t.hours) == 48 and sum(h["records"] for h in t.hours) == RATES[-1] + RATES[-2] + 1
    table = _table(ref.snapshot, "Ticks")
    assert sum(d["bytes"] for d in t.days) == pytest.approx(table.bytes * len(ts) / table.records, rel=0.02)
    g = ref.snapshot.capacity.growth
    assert g is not None and g.tables[0]["table"].endswith("Ticks")
    assert g.bytes_per_day == pytest.approx(t.bytes_per_day["7d"])
    assert g.eta_full_s == pytest.approx(ref.snapshot.capacity.available_bytes / (g.bytes_per_day / 86400), rel=1e-3)
    assert sha(path) == before


def _state_run(path, state_dir):
    """One ``--json``-like run as a fresh process does it, keeping its state in ``state_dir``."""
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import open_service

    svc = open_service(Options(path=path, state=True, state_dir=state_dir))
    try:
        return svc.refresh()
    finally:
        svc.close()


def _days(ref):
    t = _table(ref.snapshot, "Ticks").time
    return {d["day"]: (d["records"], d["bytes"]) for d in t.days}


def _same_days(got, want):
    """Records exact, bytes (sums of page shares, in another order) to a part in 10^9."""
    assert {d: r for d, (r, _) in got.items()} == {d: r for d, (r, _) in want.items()}
    assert {d: b for d, (_, b) in got.items()} == pytest.approx({d: b for d, (_, b) in want.items()}, rel=1e-9)


def test_state_carries_the_time_between_one_shot_runs(tmp_path, fmt):
    """A repeat one-shot run reuses the walk's summaries from the state file with their time rows:
    the same days as a walk from scratch, for a fraction of the pages (summaries kept without
    their time would be walked again, or give no time at all)."""
    ts = tt.times(RATES)
    path, st = str(tmp_path / "db"), str(tmp_path / "state")
    tt.build(path, fmt, ticks=ts)
    before = sha(path)
    scratch = _days(_refresh(path))
    assert {d: r for d, (r, _) in scratch.items()} == tt.by_day(ts)
    first, again = _state_run(path, st), _state_run(path, st)
    _same_days(_days(first), scratch)
    assert again.snapshot.count_method == "pages+cache"
    assert again.read_bytes < first.read_bytes / 10, (again.read_bytes, first.read_bytes)
    _same_days(_days(again), scratch)
    assert sha(path) == before
    more = [tt.first_day(3) + i * 10**9 for i in range(400)]  # later records: part of the tree walked again
    tt.build(path, fmt, ticks=more)
    scratch = _days(_refresh(path))
    assert {d: r for d, (r, _) in scratch.items()} == tt.by_day(ts + more)
    third = _state_run(path, st)
    _same_days(_days(third), scratch)
    if fmt == "1.0":  # subtrees the records did not touch came from the state
        assert third.snapshot.count_method == "pages+cache" and third.read_bytes < first.read_bytes / 2


def test_state_time_rows_are_checked():
    """Time rows read back as written (consecutive equal hours summed); rows of another slot, of
    more records than the summary counts, of an impossible hour or negative bytes reject the file."""
    import numpy as np

    from zlmdb_inspect.service.state import Identity, State, StateError, encode, parse
    from zlmdb_inspect.storage.summaries import PackedSummaries
    from zlmdb_inspect.storage.walk import SlotSpace, TreeSummary

    hour = 1_760_000_000 // 3600
    rows = np.array([[1, hour, 3, 4096.0], [1, hour, 2, 10.5], [1, hour + 1, 5, 4096.0], [1, -1, 1, 0.0]])
    summary = TreeSummary(slots={1: SlotSpace(records=11, leaf_pages=2.0)}, leaf_pages=2, entries=11,
                          times=[rows], time_slots=frozenset({1}))
    packed = PackedSummaries.pack([((5, 9), 7, summary)])
    state = State(Identity(1, 2, "/x", 4096, "1.0"), 2.0, summaries=packed)
    back = parse(encode(state)).summaries
    assert back.row((5, 9)) == 0 and back.summary(0).time_slots == frozenset({1})
    assert back.summary(0).times[0].tolist() == [[1, hour, 5, 4106.5], [1, hour + 1, 5, 4096.0], [1, -1, 1, 0.0]]
    for bad in ([2, hour, 3, 4096], [1, hour, 30, 4096], [1, 5, 3, 4096], [1, hour, 3, -1]):
        wrong = PackedSummaries.pack([((5, 9), 7, summary)])
        wrong.times = wrong.times.copy()
        wrong.times[0] = bad
        with pytest.raises(StateError):
            parse(encode(State(Identity(1, 2, "/x", 4096, "1.0"), 2.0, summaries=wrong)))


def test_purge_window_and_purge_seen(tmp_path, fmt):
    ts = tt.times(RATES)
    path = str(tmp_path / "db")
    tt.build(path, fmt, ticks=ts)
    svc = open_db(path)
    try:
        first = _table(svc.refresh(live=True).snapshot, "Ticks").time
        assert first.purged is None  # seen once: nothing to compare
        cut = tt.first_day(30)  # delete everything older than 30 days, as a retention job does
        import subprocess
        import sys

        code = f"import time_tables; time_tables.purge_before({path!r}, {fmt!r}, {cut})"
        subprocess.run([sys.executable, "-c", code], check=True)
        svc.count_now()
        after = _table(svc.refresh(live=True).snapshot, "Ticks").time
    finally:
        svc.close()
    kept = [x for x in ts if x >= cut]
    assert {d["day"]: d["records"] for d in after.days} == tt.by_day(kept)
    assert after.purged is True


def test_single_day_is_too_little_history(tmp_path, fmt):
    path = str(tmp_path / "db")
    tt.build(path, fmt, ticks=tt.times([500]))
    ref = _refresh(path)
    t = _table(ref.snapshot, "Ticks").time
    assert t.note == "too little history" and t.records_per_day == {"1d": None, "7d": None, "30d": None}
    assert {d["day"]: d["records"] for d in t.days} == tt.by_day(tt.times([500]))
    g = ref.snapshot.capacity.growth
    assert g is not None and g.bytes_per_day is None and g.eta_full_s is None
    assert RuleId.GROWTH_ETA not in {w.id for w in ref.warnings}


@pytest.mark.parametrize("source", ["key:2", "value:created:s", "value:created:ms", "value:created:ns", "le"])
def test_estimates_fall_within_their_uncertainty(tmp_path, source):
    rates = [40 + (d // 45) * 80 for d in range(60)]  # 40/day, then 120/day
    ts = tt.times(rates, seed=5)
    path = str(tmp_path / "db")
    if source == "le":
        env = raw_env(path, "1.0", map_size=128 << 20)
        tt.put_events_le(env, 9, ts)
        env.close()
        name = "Events"
    elif source == "key:2":
        tt.build(path, "1.0", joins=ts)
        name = "Joins"
    else:
        unit = {"s": 10**9, "ms": 10**6, "ns": 1}[source.rsplit(":", 1)[1]]
        tt.build(path, "1.0", members=ts, unit=unit)
        name = "Members"
    truth7 = (sum(rates[-7:]) + 1) / 7
    truth30 = (sum(rates[-30:]) + 1) / 30
    for seed in range(6):
        t = _table(_refresh(path, seed).snapshot, name).time
        assert t is not None and not t.exact and t.sample == 1000
        assert t.source == ("value:created" if source.startswith("value") else "key:2")
        unc = t.uncertainty["records_per_day"]
        assert abs(t.records_per_day["7d"] - truth7) <= unc["7d"], (seed, t.records_per_day, unc)
        assert abs(t.records_per_day["30d"] - truth30) <= unc["30d"], (seed, t.records_per_day, unc)
        assert unc["7d"] < truth7  # an uncertainty that says something


def test_odd_data_gives_no_rate(tmp_path):
    """Keys in 1970 and 2262, keys that look like times only at both ends, a counter named created."""
    import struct

    path = str(tmp_path / "db")
    tt.build(path, "1.0", members=list(range(1, 400)), unit=1)  # created = 1..399: a counter
    env = raw_env(path, "1.0", map_size=256 << 20)
    good = tt.times([5, 5])
    with env.begin(write=True) as txn:
        for i in range(300):
            txn.put(struct.pack(">HQ", 20, i * 10**9) + bytes(4), b"1970")  # 1970: before 2000
            txn.put(struct.pack(">HQ", 21, 2**63 - 1 - i) + bytes(4), b"2262")  # datetime64's end
        # a random-key slot whose first and last keys happen to read as times
        import os

        txn.put(struct.pack(">HQ", 22, good[0]) + bytes(8), b"a")
        for _ in range(300):
            txn.put(struct.pack(">H", 22) + bytes([0x30]) + os.urandom(15), b"r")
        txn.put(struct.pack(">HQ", 22, good[-1]) + b"\xff" * 8, b"z")
    env.close()
    ref = _refresh(path)
    for t in ref.snapshot.tables:
        assert t.time is None, (t.label(), t.time)
    assert ref.snapshot.capacity.growth is None


def test_growth_eta_rule(tmp_path):
    ts = tt.times([3000] * 10)
    path = str(tmp_path / "db")
    tt.build(path, "1.0", ticks=ts, map_size=16 << 20, pad=200)  # a small map the rate fills in days
    svc = open_db(path)
    try:
        ref = svc.refresh()
        g = ref.snapshot.capacity.growth
        w = next(w for w in ref.warnings if w.id == RuleId.GROWTH_ETA)
        assert w.figure == pytest.approx(g.eta_full_s, abs=0.1)
        sev = "critical" if g.eta_full_s < 2 * 86400 else "warning"
        assert w.severity == sev and w.subject.endswith("Ticks")
        assert "Database sizing (map_size)" in w.practice and "Database scratching (purge)" in w.practice
        assert "live rate" in w.message and "no purge seen in this run" in w.message
        svc.settings.thresholds.growth_eta_warning_s = g.eta_full_s - 1
        svc.settings.thresholds.growth_eta_critical_s = g.eta_full_s - 2
        assert RuleId.GROWTH_ETA not in {w.id for w in svc.refresh().warnings}
    finally:
        svc.close()
