"""The Growth view (g) and the Tables list's Growth column (issue 23): what they draw is the
snapshot's figures, and those are the per-day truths the builders wrote."""

from __future__ import annotations

import struct
import uuid

import cbor2
import pytest
import time_tables as tt
from conftest import raw_env, sha
from textual.widgets import DataTable, Static

from zlmdb_inspect.core.fmt import fmt_bytes
from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import Service
from zlmdb_inspect.tui.app import create_app
from zlmdb_inspect.tui.screens.growth import DAY_S, NO_TABLE, Chart, GrowthScreen, day_text
from zlmdb_inspect.tui.settle import settle

RATES = [200] * 20 + [600] * 10  # 30 days: 200 a day, then 600: the last 7 days grow faster
NOW = 1_800_000_000.0  # the fill date counts from here (a fixed clock)


@pytest.fixture(scope="module")
def timed(tmp_path_factory) -> dict:
    path = str(tmp_path_factory.mktemp("growth") / "db")
    ticks = tt.times(RATES)
    members = tt.times([30] * 10, seed=2)  # value times (ms): an estimate
    tt.build(path, "1.0", ticks=ticks, members=members, map_size=8 << 20)
    return {"path": path, "ticks": ticks}


def _app(path: str, now: float | None = NOW):
    svc = Service(Options(path=path))
    svc._growth.seed = 1  # the sampled estimates: the same every run
    app = create_app(svc, clock_fn=lambda t: "12:00:00", interval=3600,
                     now_fn=(lambda: now) if now is not None else None)
    app.animation_level = "none"
    return app


def _row(app, name: str) -> dict[str, str]:
    t = app.screen.query_one("#tables-table", DataTable)
    cols = [str(c.key.value) for c in t.columns.values()]
    for i in range(t.row_count):
        cells = [str(c) for c in t.get_row_at(i)]
        if cells[1] == name:
            return dict(zip(cols, cells))
    raise LookupError(name)


async def _growth(app, pilot) -> GrowthScreen:
    await settle(pilot)
    await pilot.press("g")
    await settle(pilot)
    assert isinstance(app.screen, GrowthScreen)
    return app.screen


def _size(label: str) -> float:
    """"15.0 KiB" -> 15360.0"""
    n, unit = label.split()
    return float(n) * 1024 ** ["B", "KiB", "MiB", "GiB", "TiB"].index(unit)


def _plain(w) -> str:
    return w.render().plain


async def test_the_growth_column_shows_the_snapshots_rate(timed):
    app = _app(timed["path"])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        snap = app.last_refresh.snapshot
        ticks = next(t for t in snap.tables if t.name and t.name.endswith("Ticks"))
        rate = ticks.time.bytes_per_day["7d"]
        # the last 7 days hold 600 records a day (and the newest one): the rate is the 600-a-day one
        assert ticks.time.records_per_day["7d"] == pytest.approx((600 * 7 + 1) / 7, abs=1e-3)
        assert rate == pytest.approx(sum(d["bytes"] for d in ticks.time.days[-7:]) / 7, rel=1e-3)
        assert _row(app, "Ticks")["growth"] == f"{fmt_bytes(rate)}/day"
        assert _row(app, "(zlmdb catalog)")["growth"] == ""  # no time of its own: blank
        members = next(t for t in snap.tables if t.name and t.name.endswith("Members"))
        assert _row(app, "Members")["growth"] == f"{fmt_bytes(members.time.bytes_per_day['7d'])}/day"
        # the column fits 80 columns beside the figures: the header is on screen
        t = app.screen.query_one("#tables-table", DataTable)
        x = sum(c.get_render_width(t) for c in list(t.columns.values())[:5])
        assert x + len("Growth") <= 80


async def test_the_chart_draws_the_snapshots_days_limit_and_fill_date(timed):
    before = sha(timed["path"])
    app = _app(timed["path"])
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _growth(app, pilot)
        snap = scr.ref.snapshot
        f = scr.figures
        ticks = next(t for t in snap.tables if t.name and t.name.endswith("Ticks"))
        s = next(s for s in f.rates.series if s.name == "Ticks")
        # one point per UTC day, the bytes the snapshot counted for it; the days are the builder's
        truth = tt.by_day(timed["ticks"])
        assert [day_text(d) for d in s.days] == sorted(truth) == [d["day"] for d in ticks.time.days]
        assert s.bytes == [d["bytes"] for d in ticks.time.days]
        assert s.exact and s.rate_7d == ticks.time.bytes_per_day["7d"]
        assert {x.name for x in f.rates.series} == {"Ticks", "Members"}
        assert f.rates.x_range == (min(min(x.days) for x in f.rates.series), max(max(x.days) for x in f.rates.series))
        assert f.rates.y_max == max(max(x.bytes) for x in f.rates.series)
        # the limit (the map: no live writer, no disk limit) and the fill date at the snapshot's growth
        cap, g = snap.capacity, snap.capacity.growth
        assert cap.limit == "map" and f.fill.limit == cap.map_size and f.fill.limit_name == "map limit"
        assert f.fill.rate == g.bytes_per_day and f.fill.fill_s == pytest.approx(NOW + g.eta_full_s)
        assert f.fill.in_use == cap.in_use_bytes
        fill_day = day_text(f.fill.fill_s / DAY_S)
        # drawn: dates on the x axes, sizes on the y axes, the limit's line, the fill date's line
        rates = _plain(scr.query_one("#growth-rates", Chart)).splitlines()
        assert day_text(f.rates.x_range[0]) in rates[-1] and day_text(f.rates.x_range[1]) in rates[-1]
        sizes = [_size(line.split("┤")[0]) for line in rates if "┤" in line]  # the y axis' labels, top down
        assert sizes[-1] == 0 and f.rates.y_max / 2.5 <= sizes[0] <= f.rates.y_max  # they span the data
        fill = _plain(scr.query_one("#growth-fill", Chart)).splitlines()
        assert fill_day in fill[0] and fill_day in fill[-1] and day_text(NOW / DAY_S) in fill[-1]
        limit_row = next(line for line in fill if line.lstrip().startswith(fmt_bytes(cap.map_size)))
        assert limit_row.count("─") > 40  # the map limit: a line across the chart
        # the fill date: a vertical line through the plot, crossing the x axis where its date is written
        col = fill[-2].index("┴")
        assert fill[-2].count("┴") == 1 and sum(line[col] in "│┼" for line in fill[2:-2]) >= len(fill) - 5
        start = fill[-1].index(fill_day)
        assert start - 2 <= col <= start + len(fill_day) + 2
        legend = scr.query_one("#growth-legend", Static).render().plain  # type: ignore[union-attr]
        assert f"full on {fill_day}" in legend and "Ticks" in legend and "Members" in legend
        assert f"{fmt_bytes(s.rate_7d)}/day (exact)" in legend
        # a new snapshot (the overview refreshes under the view): the view draws it
        first = scr.ref
        app.screen_stack[-2].action_refresh()
        await settle(pilot)
        assert scr.ref is app.last_refresh and scr.ref is not first
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, GrowthScreen)
    assert sha(timed["path"]) == before


async def test_without_a_time_ordered_table_the_view_says_so(tmp_path):
    path = str(tmp_path / "plain")
    env = raw_env(path, "1.0")
    with env.begin(write=True) as txn:
        txn.put(struct.pack(">HH", 0, 3), cbor2.dumps({"oid": str(uuid.UUID(int=3)), "name": "Plain"}))
        for i in range(50):
            txn.put(struct.pack(">HQ", 3, i), cbor2.dumps({"n": i}))
    env.close()
    app = _app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _growth(app, pilot)
        assert scr.figures.rates.message == NO_TABLE
        assert NO_TABLE in scr.query_one("#growth-message", Static).render().plain  # type: ignore[union-attr]
        assert not scr.query_one("#growth-rates", Chart).display
        assert not scr.query_one("#growth-fill", Chart).display


async def test_under_two_days_is_too_little_history(tmp_path):
    path = str(tmp_path / "young")
    tt.build(path, "1.0", ticks=tt.times([300]))  # one day of records
    app = _app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        scr = await _growth(app, pilot)
        f = scr.figures
        assert f.rates.series == [] and [n for n, _ in f.rates.left_out] == ["Ticks"]
        msg = scr.query_one("#growth-message", Static).render().plain  # type: ignore[union-attr]
        assert "too little history" in msg
        assert not scr.query_one("#growth-rates", Chart).display
        assert "too little history" in scr.query_one("#growth-legend", Static).render().plain  # type: ignore


async def test_a_table_name_is_shown_literally(tmp_path):
    """A name with markup and control characters: in the legend as written (escaped), never as styles."""
    path = str(tmp_path / "hostile")
    name = "Ev[bold red]x[/]\x1b[31m"
    env = raw_env(path, "1.0")
    ts = tt.times([40] * 5)
    with env.begin(write=True) as txn:
        txn.put(struct.pack(">HH", 0, 9), cbor2.dumps({"oid": str(uuid.UUID(int=9)), "name": name}))
        for i, t in enumerate(ts):
            txn.put(struct.pack(">HQ", 9, t) + struct.pack(">I", i), cbor2.dumps({"a": 1}))
    env.close()
    app = _app(path)
    async with app.run_test(size=(120, 30)) as pilot:
        scr = await _growth(app, pilot)
        assert [s.name for s in scr.figures.rates.series] == [name]
        legend = scr.query_one("#growth-legend", Static).render()
        assert "Ev[bold red]x[/]\\x1b[31m" in legend.plain  # type: ignore[union-attr]
        assert "\x1b" not in legend.plain  # type: ignore[union-attr]
        # plotext never sees it: its charts hold dates and sizes only
        assert "Ev[" not in _plain(scr.query_one("#growth-rates", Chart))


async def test_help_names_the_growth_keys(timed):
    from zlmdb_inspect.tui.app import HelpScreen

    app = _app(timed["path"])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        text = app.screen.query_one("#help-text", Static).content.plain  # type: ignore[union-attr]
        overview = text[text.index("This screen: Overview"):text.index("Everywhere")]
        assert "  g " in overview and "growth by the records' own time" in overview
        await pilot.press("escape")
        await settle(pilot)
        await _growth(app, pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one("#help-text", Static).content.plain  # type: ignore[union-attr]
        assert text.startswith("This screen: Growth\n") and "back to the overview" in text.splitlines()[1]


def test_figures_follow_the_limit_and_the_growth(timed):
    """The disk as the limit, a purged table, no growth: what the view would draw says so."""
    import copy

    from zlmdb_inspect.tui.screens.growth import figures

    svc = Service(Options(path=timed["path"]))
    svc._growth.seed = 1
    try:
        snap = svc.refresh().snapshot
    finally:
        svc.close()
    disk = copy.deepcopy(snap)
    disk.capacity.limit, disk.capacity.available_bytes = "disk", 1 << 20
    f = figures(disk, NOW)
    assert f.fill.limit_name == "disk limit" and f.fill.limit == disk.capacity.in_use_bytes + (1 << 20)
    purged = copy.deepcopy(snap)
    next(t for t in purged.tables if t.name and t.name.endswith("Ticks")).time.purged = True
    assert [s.purged for s in figures(purged, NOW).rates.series if s.name == "Ticks"] == [True]
    still = copy.deepcopy(snap)
    still.capacity.growth.eta_full_s = None  # a rate of 0: not growing
    f = figures(still, NOW)
    assert f.fill.fill_s is None and f.fill.message == "no fill date: the time-ordered tables are not growing"
    none = copy.deepcopy(snap)
    none.capacity.growth.bytes_per_day = None
    none.capacity.growth.basis = "no growth rate: every time-ordered table is purged"
    f = figures(none, NOW)
    assert f.fill.fill_s is None and f.fill.message == "no growth rate: every time-ordered table is purged"


def test_a_chart_is_drawn_again_only_when_its_data_changes(monkeypatch):
    """Each render of a chart is a plotext build: plotting what it shows already asks for none."""
    from zlmdb_inspect.tui.screens.growth import Chart

    chart, calls = Chart(id="c"), []
    monkeypatch.setattr(chart, "refresh", lambda *a, **k: calls.append(1))
    drawn: list[object] = []
    chart.plot((1, 2), lambda p, data, w, h: drawn.append(data))
    chart.plot((1, 2), lambda p, data, w, h: drawn.append(data))
    assert len(calls) == 1
    chart.plot((1, 3), lambda p, data, w, h: drawn.append(data))
    assert len(calls) == 2
    assert chart.draw is not None
    chart.draw(None, 10, 5)  # type: ignore[arg-type]
    assert drawn == [(1, 3)]
