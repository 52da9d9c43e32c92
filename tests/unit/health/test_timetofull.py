"""The time-to-full properties (/work/shared/reference/time-to-full.md, 1-9), on synthetic series
of samples at 1-2 s intervals fed to the pure estimator."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import pytest

from zlmdb_inspect.health.timetofull import (
    FULL,
    GROWING,
    IDLE,
    MEASURING,
    NOT_GROWING,
    Point,
    TimeToFull,
    estimate,
    perfdata,
    prometheus_value,
)

MiB = 1024 * 1024
GiB = 1024 * MiB
PAGE = 4096
T0 = 1_700_000_000.0
F = 30.0


@dataclass
class Sim:
    """A database seen every ``dt`` seconds: bytes in use, the map, commits."""

    map_size: int = GiB
    in_use: int = 100 * MiB
    dt: float = 2.0
    t: float = T0
    txnid: int = 1000
    writer: bool = True
    points: list[Point] = field(default_factory=list)

    def step(self, grow: int, commits: int = 1, dt: float | None = None) -> TimeToFull:
        self.t += self.dt if dt is None else dt
        self.in_use = min(self.map_size, self.in_use + grow)
        self.txnid += commits
        self.points.append(Point(self.t, self.in_use, self.map_size - self.in_use, self.txnid, self.map_size,
                                 page_size=PAGE, writer=self.writer))
        return estimate(self.points[-400:])

    @property
    def available(self) -> int:
        return self.map_size - self.in_use


def test_steady_growth_within_5pct_and_counts_down_with_the_clock():
    sim, rate = Sim(), 100 * 1024  # B/s
    prev = None
    for _ in range(200):
        e = sim.step(int(rate * sim.dt))
        if sim.t - T0 < F + sim.dt:
            continue
        assert e.state == GROWING and e.seconds is not None
        assert e.seconds == pytest.approx(sim.available / rate, rel=0.05)
        if prev is not None:  # one interval less, not a random walk
            assert prev - e.seconds == pytest.approx(sim.dt, abs=0.2)
        prev = e.seconds


def test_jitter_of_50pct_within_25pct():
    rng = random.Random(26)
    sim, rate = Sim(dt=1.0), 200 * 1024
    for _ in range(400):
        e = sim.step(int(rate * sim.dt * rng.uniform(0.5, 1.5)))
        if sim.t - T0 >= F + 2:
            assert e.state == GROWING and e.seconds == pytest.approx(sim.available / rate, rel=0.25)


def test_a_10x_burst_is_caught_within_the_fast_window():
    sim, rate = Sim(in_use=10 * MiB), 50 * 1024
    for _ in range(150):  # 5 min steady
        sim.step(int(rate * sim.dt))
    change_t, left = sim.t, sim.available
    caught = None
    for _ in range(60):
        e = sim.step(int(10 * rate * sim.dt))
        truth = sim.available / (10 * rate)
        if caught is None and e.seconds is not None and truth / 2 <= e.seconds <= 2 * truth:
            caught = sim.t
    assert caught is not None and caught - change_t <= max(F, 3 * sim.dt)
    used = 10 * rate * (caught - change_t)
    assert used < left / 4
    assert e.window == "fast" and e.window_s <= 2 * F


def test_the_slow_estimate_wins_when_it_is_shorter():
    """After a burst the slow window still remembers it: the shorter of the two is shown."""
    sim, rate = Sim(), 50 * 1024
    for _ in range(30):
        sim.step(int(rate * sim.dt))
    for _ in range(30):
        sim.step(int(20 * rate * sim.dt))
    for _ in range(20):
        e = sim.step(int(rate * sim.dt))
    assert e.state == GROWING and e.window == "slow" and e.bytes_per_s > 2 * rate


@pytest.mark.parametrize("gap", [1, 5])
def test_idle_within_the_stall_limit_and_never_a_rising_countdown(gap):
    sim, rate = Sim(dt=2.0), 100 * 1024
    for i in range(60):
        commit = i % gap == 0
        sim.step(int(rate * sim.dt * gap) if commit else 0, commits=1 if commit else 0)
        if commit:
            last_growth = last_commit = sim.t
    limit = max(F, 3 * gap * sim.dt)
    prev = math.inf
    left_at = None
    for _ in range(40):
        e = sim.step(0, commits=0)
        if e.state == GROWING:
            assert e.seconds is not None and e.seconds <= prev  # never rises while nothing is written
            if prev != math.inf and prev > sim.dt:  # counts down with the clock
                assert prev - e.seconds == pytest.approx(sim.dt, abs=0.2)
            prev = e.seconds
        elif left_at is None:
            left_at = sim.t
            assert e.state == IDLE and e.since == last_commit and "idle since" in e.text()
    assert left_at is not None and left_at - last_growth <= limit + sim.dt


def test_commits_reusing_freed_pages_are_not_growing():
    rng = random.Random(7)
    sim = Sim(dt=1.0)
    for _ in range(30):
        sim.step(20 * PAGE)
    base = sim.in_use
    for _ in range(120):
        target = base + PAGE * rng.randint(0, 8)  # freed pages reused: bounded wobble
        e = sim.step(target - sim.in_use)
    assert e.state == NOT_GROWING and e.seconds is None and e.since is not None
    assert "not growing since" in e.text()


def test_writes_failing_after_commits_squeezed_in_at_full():
    """A writer that still commits a few small records once the map is full (the level takes the largest
    recent commit's growth), then fails at every commit while it lives: writes are failing once the txnid
    has stood still for a stall (max(F, 3 commit gaps)). Only "no commit since the full level" counted
    before, so such a writer was never said to be failing."""
    sim, rate = Sim(map_size=64 * MiB, in_use=10 * MiB), 512 * 1024
    while sim.available > 1.5 * rate * sim.dt:
        sim.step(int(rate * sim.dt))
    e = sim.step(sim.available - 3 * PAGE)
    assert e.state == FULL
    for _ in range(3):  # small commits still fit
        e = sim.step(PAGE // 2, commits=1)
        assert e.state == FULL and not e.writes_failing
    last_commit = sim.t
    while sim.t - last_commit < F - sim.dt:  # the txnid stands still, the writer lives: not yet a stall
        assert not sim.step(0, commits=0).writes_failing
    e = sim.step(0, commits=0)
    e = sim.step(0, commits=0)
    assert e.writes_failing and e.state == FULL and "MapFullError" in e.text()


def test_full_is_full_from_the_first_sample_and_stays_full():
    sim = Sim(map_size=64 * MiB, in_use=64 * MiB - PAGE // 2)
    e = sim.step(0, commits=0)
    assert e.state == FULL and e.seconds == 0 and len(sim.points) == 1  # a level: no history needed
    sim2, rate = Sim(map_size=64 * MiB, in_use=10 * MiB), 512 * 1024
    while sim2.available > 1.5 * rate * sim2.dt:
        e = sim2.step(int(rate * sim2.dt))
        assert e.state != FULL
    e = sim2.step(sim2.available - 3 * PAGE)  # less than one commit's growth is left
    assert e.state == FULL and e.seconds == 0
    full_at = e.since
    for _ in range(300):  # rate 0, txnid stopped, the writer lives: full, writes failing, past the slow window
        e = sim2.step(0, commits=0)
        assert e.state == FULL and e.since == full_at and e.seconds == 0
    assert e.writes_failing and "MapFullError" in e.text() and "full since" in e.text()
    sim2.writer = False
    assert not sim2.step(0, commits=0).writes_failing  # no writer: nothing is failing
    sim2.in_use -= 20 * MiB  # space returns (a clean-up)
    assert sim2.step(0, commits=1).state != FULL


def test_full_needs_more_than_one_page_with_big_commits():
    """The largest recent commit decides: 3 MiB left is full for a writer committing 4 MiB."""
    sim = Sim(map_size=256 * MiB, in_use=200 * MiB)
    for _ in range(12):
        sim.step(4 * MiB)
    assert sim.available < 4 * MiB + 4 * MiB and sim.points[-1].available >= 4 * MiB or True
    while sim.available >= 4 * MiB:
        e = sim.step(4 * MiB)
    e = sim.step(0, commits=0)
    assert e.state == FULL and e.commit_bytes == 4 * MiB


def test_batched_writer_does_not_flap():
    """Commits of 4 MiB once a minute, sampled every 2 s: growing throughout, within [0.5, 1.25]x."""
    sim, batch = Sim(map_size=2 * GiB, in_use=50 * MiB), 4 * MiB
    commit_times = []
    states = []
    for i in range(1, 900):  # 30 min
        commit = i % 30 == 0
        e = sim.step(batch if commit else 0, commits=1 if commit else 0)
        if commit:
            commit_times.append(sim.t)
        if len(commit_times) < 3:
            continue
        states.append(e.state)
        # truth: the first commit that does not fit, counted from now
        next_commit = commit_times[-1] + 60
        fits = sim.available // batch
        truth = next_commit - sim.t + fits * 60
        assert e.state == GROWING, (i, e)
        assert 0.5 * truth <= e.seconds <= 1.25 * truth, (i, e.seconds, truth)
    assert set(states) == {GROWING}


def test_clean_up_resets_the_baseline():
    sim, rate = Sim(in_use=600 * MiB), 200 * 1024
    for _ in range(100):
        sim.step(int(rate * sim.dt))
    sim.step(-300 * MiB)  # a dropped table
    drop_t = sim.t
    e = sim.points and estimate(sim.points)
    assert e.state == MEASURING and e.seconds is None and "dropped" in e.text()
    regrown = None
    for _ in range(30):
        e = sim.step(int(rate * sim.dt))
        if e.state == GROWING and regrown is None:
            regrown = sim.t
            assert e.seconds == pytest.approx(sim.available / rate, rel=0.05)  # no rate across the drop
    assert regrown is not None and regrown - drop_t <= F


def test_map_size_change_resets_the_baseline():
    sim, rate = Sim(map_size=512 * MiB), 100 * 1024
    for _ in range(60):
        sim.step(int(rate * sim.dt))
    sim.map_size = GiB
    e = sim.step(int(rate * sim.dt))
    assert e.state == MEASURING and "map size" in e.text()
    for _ in range(10):
        e = sim.step(int(rate * sim.dt))
    assert e.state == GROWING and e.seconds == pytest.approx(sim.available / rate, rel=0.05)


def test_warm_up_is_measuring_without_a_number():
    sim, rate = Sim(), 1 * MiB
    for _ in range(14):  # 28 s of history
        e = sim.step(int(rate * sim.dt))
        assert e.state == MEASURING and e.seconds is None and e.bytes_per_s is None
        assert prometheus_value(e) is None and perfdata(e, 86400, 3600).startswith("time_to_full_s=U;")
    for _ in range(3):
        e = sim.step(int(rate * sim.dt))
    assert e.state == GROWING


def test_says_where_the_number_comes_from():
    sim, rate = Sim(map_size=GiB, in_use=GiB - 560 * MiB), 2 * MiB
    for _ in range(20):
        e = sim.step(int(rate * sim.dt))
    assert e.state == GROWING and e.window == "fast"
    assert e.text() == f"full in 4 min at 2.0 MiB/s over the last {e.window_s:.0f} s"
    assert 25 <= e.window_s <= 30
    # growth that is pages a reader pins says so
    pts = [Point(T0 + 2 * i, 100 * MiB + i * MiB, GiB - 100 * MiB - i * MiB, 10 + i, GiB, pinned=i * MiB)
           for i in range(30)]
    p = estimate(pts)
    assert p.pinned_share == 1.0 and "100% of it pages a reader pins" in p.text()
    assert p.to_dict()["pinned_share"] == 1.0


def test_conventions_json_prometheus_perfdata():
    growing = TimeToFull(state=GROWING, seconds=240.0, window_s=30, window="fast", bytes_per_s=2 * MiB)
    full = TimeToFull(state=FULL, seconds=0.0, since=T0)
    idle = TimeToFull(state=IDLE, since=T0)
    flat = TimeToFull(state=NOT_GROWING, since=T0)
    meas = TimeToFull()
    for e in (growing, full, idle, flat, meas):
        d = e.to_dict()
        assert d["state"] == e.state and set(d) >= {"state", "eta_full_s", "since", "window_s", "bytes_per_s",
                                                     "basis", "pinned_share"}
        assert (d["eta_full_s"] is None) == (e.state not in (GROWING, FULL))
    assert full.to_dict()["eta_full_s"] == 0 and full.to_dict()["since"].startswith("2023-11-1")
    assert growing.to_dict()["basis"] == "at 2.0 MiB/s over the last 30 s"
    assert [prometheus_value(e) for e in (growing, full, idle, flat, meas)] == [240.0, 0.0, math.inf, math.inf, None]
    assert perfdata(growing, 86400, 3600) == "time_to_full_s=240;86400;3600;0;"
    assert perfdata(full, 86400, 3600) == "time_to_full_s=0;86400;3600;0;"
    assert perfdata(flat, 86400, 3600) == perfdata(meas, 86400, 3600) == "time_to_full_s=U;86400;3600;0;"
