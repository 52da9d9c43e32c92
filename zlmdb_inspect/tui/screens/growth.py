"""``g`` on the overview: growth from the records' own time (issue 23), drawn as charts.

Two plotext charts (``textual-plotext``) over figures the snapshot already holds (no reads):
bytes per day by UTC day for each time-ordered table, and the space in use projected at the
7-day growth to the limit, with the limit and the fill date marked. Table names never reach
plotext (its output is parsed as ANSI): the legend under the charts names the series as
literal Text, each in its series' colour.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual_plotext import Plot, PlotextPlot

from zlmdb_inspect.core.fmt import fmt_bytes, fmt_duration, plural
from zlmdb_inspect.core.model import Snapshot
from zlmdb_inspect.service import Refresh
from zlmdb_inspect.tui import bindings
from zlmdb_inspect.tui.text import join, literal
from zlmdb_inspect.tui.widgets.panels import NAME_WIDTH, set_content, short_name

DAY_S = 86400
RGB = tuple[int, int, int]
# the series' colours (plotext takes RGB; the legend writes the same as Rich styles); red marks the
# limit, yellow the fill date, green the space in use
COLORS: tuple[RGB, ...] = ((0, 200, 255), (230, 120, 255), (255, 160, 60), (120, 160, 255), (220, 220, 220))
LIMIT_COLOR: RGB = (255, 70, 70)
FILL_COLOR: RGB = (255, 230, 0)
IN_USE_COLOR: RGB = (80, 220, 100)


def style(c: RGB) -> str:
    return f"rgb({c[0]},{c[1]},{c[2]})"
NO_TABLE = "no time-ordered table: no table's keys or values carry a time of their own"


@dataclass(frozen=True)
class Series:
    """One table's bytes per UTC day (``days``: days since the epoch) and its 7-day rate."""

    name: str  # the table's name as the Tables list shows it (data: literal Text only)
    color: RGB
    days: list[int]
    bytes: list[int]
    rate_7d: float
    exact: bool
    half_7d: float | None = None  # an estimate's half-width (bytes per day)
    sample: int | None = None
    purged: bool | None = None  # its oldest record moved: left out of the projection


@dataclass(frozen=True)
class RatesChart:
    """Bytes per day by table: x from the first to the last day of any series, y from 0 to ``y_max``."""

    series: list[Series]
    left_out: list[tuple[str, str]]  # (table name, why it has no series)
    x_range: tuple[int, int] = (0, 0)
    y_max: int = 0
    message: str | None = None  # no series at all: why


@dataclass(frozen=True)
class FillChart:
    """In use now and at the 7-day growth, up to the limit on the fill date (None: no fill date, ``message`` why)."""

    now_s: float
    in_use: int
    limit: int  # in use + available: the map's limit, or the disk's
    limit_name: str  # "map limit" | "disk limit"
    rate: float | None = None  # bytes per day
    fill_s: float | None = None  # now + the growth's time to full
    message: str | None = None


@dataclass(frozen=True)
class GrowthFigures:
    rates: RatesChart
    fill: FillChart


def _epoch_day(day: str) -> int:
    return (dt.date.fromisoformat(day) - dt.date(1970, 1, 1)).days


def day_text(day: float) -> str:
    """An epoch day (or a fraction of one) as its UTC date."""
    return (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=day)).strftime("%Y-%m-%d")


def figures(snap: Snapshot, now_s: float) -> GrowthFigures:
    """What the charts draw, from the snapshot's ``Table.time`` and ``capacity.growth`` only."""
    series: list[Series] = []
    left_out: list[tuple[str, str]] = []
    for t in snap.tables:
        tt = t.time
        if tt is None:
            continue
        name = short_name(t)
        rate = tt.rate_7d
        if rate is None or not tt.days:
            left_out.append((name, tt.note or "no rate"))
            continue
        series.append(Series(name, COLORS[len(series) % len(COLORS)], [_epoch_day(d["day"]) for d in tt.days],
                             [int(d["bytes"]) for d in tt.days], float(rate), tt.exact, tt.half_7d, tt.sample,
                             tt.purged))
    if series:
        x = (min(s.days[0] for s in series), max(s.days[-1] for s in series))
        rates = RatesChart(series, left_out, x, max(max(s.bytes) for s in series))
    elif left_out:
        n = len(left_out)
        rates = RatesChart([], left_out, message=f"too little history: less than 2 days of records in "
                                                 f"{plural(n, 'time-ordered table')}")
    else:
        rates = RatesChart([], [], message=NO_TABLE)
    cap = snap.capacity
    limit_name = f"{cap.limit} limit"
    limit = cap.in_use_bytes + cap.available_bytes
    g = cap.growth
    if g is None or g.bytes_per_day is None:
        why = g.basis if g is not None else NO_TABLE
        fill = FillChart(now_s, cap.in_use_bytes, limit, limit_name, message=why)
    elif g.eta_full_s is None:
        fill = FillChart(now_s, cap.in_use_bytes, limit, limit_name, g.bytes_per_day,
                         message="no fill date: the time-ordered tables are not growing")
    else:
        fill = FillChart(now_s, cap.in_use_bytes, limit, limit_name, g.bytes_per_day, now_s + g.eta_full_s)
    return GrowthFigures(rates, fill)


def _ticks(lo: float, hi: float, n: int) -> list[float]:
    if hi <= lo or n < 2:
        return [lo]
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


#: round steps for size axes: 1, 2, 5, 10 … 500 of B, KiB, MiB, GiB, TiB
STEPS = [m * 10**e * 1024**u for u in range(5) for e in range(3) for m in (1, 2, 5)]


def size_ticks(top: float, n: int) -> list[float]:
    """Round sizes from 0 up to ``top``, at most ``n`` of them and at least two where ``top`` allows:
    the labels read 0 B, 5.0 KiB, 10.0 KiB …"""
    if top < 1 or n < 2:
        return [0.0]
    fits = [st for st in STEPS if st <= top]
    step = next((st for st in fits if top // st + 1 <= n), fits[-1] if fits else top)
    return [float(i * step) for i in range(int(top // step) + 1)]


def _label_room(lo: float, hi: float, width: int) -> float:
    """Room on the x axis beyond the first and last tick for half a date label (6 columns), so the
    labels at the ends need not move (see :func:`_date_ticks`)."""
    return (hi - lo) * 6 / max(20, width - 24)


def _date_ticks(width: int) -> int:
    """How many dates the x axis has room for: plotext moves a label towards free space when another
    lies within its own length, in an order that changes between processes; 22 columns apart, none does."""
    return max(2, min(6, (width - 12) // 22))


def draw_rates(plt: Plot, c: RatesChart, width: int, height: int) -> None:
    """One line per table: bytes per day over its days, dates below, sizes left."""
    plt.title("Bytes per day by table (the records' own time, UTC days)")
    for s in c.series:
        plt.plot(s.days, s.bytes, marker="braille", color=s.color)
    lo, hi = c.x_range
    pad = _label_room(lo, hi, width)
    plt.xlim(lo - max(0.5, pad), hi + max(0.5, pad))
    xt = sorted({float(round(x)) for x in _ticks(lo, hi, _date_ticks(width))})
    plt.xticks(xt, [day_text(x) for x in xt])
    top = max(1, c.y_max) * 1.1
    plt.ylim(0, top)
    yt = size_ticks(c.y_max, max(2, min(5, height // 3)))
    plt.yticks(yt, [fmt_bytes(y) for y in yt])


def draw_fill(plt: Plot, c: FillChart, width: int, height: int) -> None:
    """In use from now to the limit at the 7-day growth: the limit a horizontal line, the fill date a vertical one."""
    assert c.fill_s is not None
    now, fill = c.now_s / DAY_S, c.fill_s / DAY_S
    plt.title(f"In use {fmt_bytes(c.in_use)}, at {fmt_bytes(c.rate or 0)}/day: {c.limit_name} on {day_text(fill)}")
    plt.plot([now, fill], [c.in_use, c.limit], marker="braille", color=IN_USE_COLOR)
    plt.hline(c.limit, LIMIT_COLOR)
    plt.vline(fill, FILL_COLOR)
    pad = _label_room(now, fill, width)
    plt.xlim(now - pad, fill + pad)
    xt = _ticks(now, fill, _date_ticks(width))
    plt.xticks(xt, [day_text(x) for x in xt])
    plt.ylim(0, c.limit * 1.08)
    # the limit's own label, and round sizes below it that leave it room
    n = max(2, min(5, height // 3))
    yt = [y for y in size_ticks(c.limit, n) if y <= c.limit * (1 - 1 / n)] + [float(c.limit)]
    plt.yticks(yt, [fmt_bytes(y) for y in yt])


class Chart(PlotextPlot):
    """A plotext chart drawn again at every render from ``draw`` (sizes and ticks follow the widget's size)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.draw: Callable[[Plot, int, int], None] | None = None
        self._data: Any = None  # what ``draw`` shows

    def plot(self, data: Any, fn: Callable[[Plot, Any, int, int], None]) -> None:
        """Draw ``data`` with ``fn`` from now on; drawn again only when ``data`` differs from what the
        chart shows (each render is a plotext build), as :func:`set_content` does for text."""
        self.draw = lambda p, w, h: fn(p, data, w, h)
        if data != self._data:
            self._data = data
            self.refresh()

    def render(self) -> RenderResult:
        plt = self.plt
        plt.clear_figure()
        if self.draw is not None:
            self.draw(plt, self.size.width, self.size.height)
        return super().render()


def in_words(s: float) -> str:
    """A time to full for the legend: days up to two years, then years."""
    return f"{s / (365.25 * DAY_S):.1f} years" if s > 730 * DAY_S else fmt_duration(s)


def legend(f: GrowthFigures) -> Text:
    """The series' colours and names (literal), their 7-day rates (exact, or ± an estimate's half-width)."""
    lines: list[Text] = []
    for s in f.rates.series:
        how = "exact" if s.exact else f"± {fmt_bytes(s.half_7d or 0)}, {s.sample or 0:,} sampled"
        line = join(("━━ ", style(s.color)), literal(s.name, NAME_WIDTH, "bold"),
                    Text(f"  {fmt_bytes(s.rate_7d)}/day ({how})"))
        if s.purged:
            line.append(" purged: left out of the projection", "dim")
        lines.append(line)
    for name, why in f.rates.left_out:
        lines.append(join(Text("   "), literal(name, NAME_WIDTH, "bold"), Text(f"  {why}", "dim")))
    fc = f.fill
    if fc.fill_s is not None:
        lines.append(join(("━━ ", style(LIMIT_COLOR)), Text(f"{fc.limit_name} {fmt_bytes(fc.limit)}   "),
                          ("┃ ", style(FILL_COLOR)), Text(f"full on {day_text(fc.fill_s / DAY_S)}, "
                          f"in {in_words(fc.fill_s - fc.now_s)}")))
    return Text("\n").join(lines)


class GrowthScreen(Screen[None]):
    """The snapshot's growth figures as charts; redrawn when the overview takes a new snapshot."""

    BINDINGS = list[BindingType](bindings.GROWTH)
    DEFAULT_CSS = """
    GrowthScreen #growth-title { height: 1; background: $panel; }
    GrowthScreen #growth-message { height: auto; padding: 0 1; }
    GrowthScreen Chart { height: 1fr; min-height: 7; }
    GrowthScreen #growth-legend { height: auto; max-height: 8; padding: 0 1; }
    """

    def __init__(self, ref: Refresh, now_fn: Callable[[], float] | None = None) -> None:
        """``now_fn``: the time the fill date counts from (tests fix it); None: when the snapshot was taken."""
        super().__init__()
        self.ref = ref
        self.now_fn = now_fn
        self.figures = self._figures(ref)

    def _figures(self, ref: Refresh) -> GrowthFigures:
        now = self.now_fn() if self.now_fn is not None else ref.snapshot.taken_at
        return figures(ref.snapshot, now)

    def compose(self) -> ComposeResult:
        yield Static(join(("Growth", "bold"), "  from the records' own time; the live rates (30 s) are on the Live "
                          "tab (4)", width=None), id="growth-title")
        yield Static(id="growth-message")
        yield Chart(id="growth-rates")
        yield Chart(id="growth-fill")
        yield Static(id="growth-legend")
        yield Footer()

    def on_mount(self) -> None:
        self.show()

    def snapshot_refreshed(self, ref: Refresh) -> None:
        """The overview took a new snapshot: draw its figures."""
        self.ref = ref
        self.figures = self._figures(ref)
        self.show()

    def show(self) -> None:
        f = self.figures
        rates, fill = self.query_one("#growth-rates", Chart), self.query_one("#growth-fill", Chart)
        rates.display = bool(f.rates.series)
        fill.display = f.fill.fill_s is not None
        rates.plot(f.rates, draw_rates)  # drawn only while displayed
        fill.plot(f.fill, draw_fill)  # (its axis starts at the snapshot's time: drawn again nearly always)
        msgs = [m for m in (f.rates.message, f.fill.message) if m]
        msg = self.query_one("#growth-message", Static)
        msg.display = bool(msgs)
        set_content(msg, Text("\n").join(literal(m, 300) for m in dict.fromkeys(msgs)))
        set_content(self.query_one("#growth-legend", Static), legend(f))

    def action_back(self) -> None:
        self.dismiss(None)
