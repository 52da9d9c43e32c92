"""Growth from the records' own time (issue 23): a table's span, records and bytes per UTC day and
its rates, exact from the walk's hourly buckets or estimated from a sample of record times; and the
database's growth and time to full at the rate its time-ordered tables grew over the last 7 days.

Pure functions over plain data: the walk's buckets (storage) and the sampled times (tables)
arrive through the service. Plausible times lie between 2000-01-01 and now + 1 day; anything
else is not time. No rate comes from less than :data:`MIN_SPAN_DAYS` of data.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from zlmdb_inspect.core.fmt import fmt_bytes
from zlmdb_inspect.core.model import Capacity, Growth, TableTime
from zlmdb_inspect.core.times import DAY_NS, HOUR_NS, plausible, ts_iso

MIN_SPAN_DAYS = 2.0  # no rate from less history than this
WINDOWS = {"1d": 1, "7d": 7, "30d": 30}
Z = 3.0  # estimates: half-widths at 3 standard errors (99.7 %)
CONFIDENCE = 0.997
TOO_LITTLE = "too little history"


def _day(hour: int) -> str:
    return dt.datetime.fromtimestamp(hour * 3600, dt.UTC).strftime("%Y-%m-%d")


def _hour(hour: int) -> str:
    return dt.datetime.fromtimestamp(hour * 3600, dt.UTC).strftime("%Y-%m-%dT%H")


def _per_day(hours: Mapping[int, tuple[float, float]]) -> list[dict]:
    """Every UTC day from the first to the last bucket (empty days included), records and bytes."""
    if not hours:
        return []
    days: dict[int, list[float]] = {}
    for h, (r, b) in hours.items():
        d = days.setdefault(h // 24, [0.0, 0.0])
        d[0] += r
        d[1] += b
    first, last = min(days), max(days)
    return [{"day": _day(d * 24), "records": int(round(days.get(d, [0, 0])[0])),
             "bytes": int(round(days.get(d, [0, 0])[1]))} for d in range(first, last + 1)]


def _last_hours(hours: Mapping[int, tuple[float, float]], newest_hour: int) -> list[dict]:
    return [{"hour": _hour(h), "records": int(round(hours.get(h, (0, 0))[0])),
             "bytes": int(round(hours.get(h, (0, 0))[1]))} for h in range(newest_hour - 47, newest_hour + 1)]


def _span_days(oldest_ns: int, newest_ns: int) -> float:
    return (newest_ns - oldest_ns) / DAY_NS


def _fill_span(out: TableTime, hours: Mapping[int, tuple[float, float]], oldest_ns: int, newest_ns: int) -> bool:
    """The span, per-day and last-hours figures of ``out``; True (rates None, said so) when the span is
    shorter than :data:`MIN_SPAN_DAYS`."""
    out.oldest, out.newest = ts_iso(oldest_ns), ts_iso(newest_ns)
    out.oldest_s, out.newest_s = oldest_ns / 1e9, newest_ns / 1e9
    out.days = _per_day(hours)
    out.hours = _last_hours(hours, newest_ns // HOUR_NS)
    if _span_days(oldest_ns, newest_ns) >= MIN_SPAN_DAYS:
        return False
    out.note = TOO_LITTLE
    out.records_per_day = dict.fromkeys(WINDOWS)
    out.bytes_per_day = dict.fromkeys(WINDOWS)
    return True


def exact(source: str, buckets: Mapping[int, Sequence[float]], oldest_ns: int | None, newest_ns: int | None,
          now_ns: int) -> TableTime:
    """A leading-key-time table from the walk's hourly buckets (hour -> records, bytes; hour -1: no
    time in the key) and its first and last key's time (exact, read by the cursor)."""
    hours: dict[int, tuple[float, float]] = {}
    untimed = 0.0
    for h, rb in buckets.items():
        if h < 0 or not plausible(h * HOUR_NS, now_ns):
            untimed += rb[0]
        else:
            hours[h] = (float(rb[0]), float(rb[1]))
    if oldest_ns is None or not plausible(oldest_ns, now_ns):
        oldest_ns = min(hours) * HOUR_NS if hours else None
    if newest_ns is None or not plausible(newest_ns, now_ns):
        newest_ns = (max(hours) + 1) * HOUR_NS - 1 if hours else None
    out = TableTime(source=source, exact=True, untimed=int(round(untimed)))
    if not hours or oldest_ns is None or newest_ns is None:
        out.note = "no record carries a plausible time"
        return out
    if _fill_span(out, hours, oldest_ns, newest_ns):
        return out
    newest_hour = newest_ns // HOUR_NS
    span_hours = newest_hour - oldest_ns // HOUR_NS + 1
    for name, days in WINDOWS.items():
        n_hours = min(days * 24, span_hours)
        lo = newest_hour - n_hours
        r = b = 0.0
        for h, rb in hours.items():
            if lo < h <= newest_hour:
                r += rb[0]
                b += rb[1]
        out.records_per_day[name] = round(r * 24 / n_hours, 3)
        out.bytes_per_day[name] = round(b * 24 / n_hours, 1)
    return out


#: Seeks to random keys pick a record with the chance of the gap before its key: for randomly
#: spread keys (exponential gaps) that doubles a count's variance against a simple random sample.
DESIGN_EFFECT = 2.0


def estimated(source: str, times_ns: Iterable[int | None], records: int, table_bytes: int,
              now_ns: int) -> TableTime:
    """A table whose time is not the key's lead, from the times of a random sample of its records
    (None: a sampled record without a plausible time). Each sampled record stands for
    ``records / sampled`` records and the table's average bytes; a count's half-width is ``Z``
    binomial standard errors, widened by :data:`DESIGN_EFFECT`."""
    ts = list(times_ns)
    n = len(ts)
    out = TableTime(source=source, exact=False, sample=n)
    if n == 0 or records == 0:
        out.note = "nothing sampled"
        return out
    good = sorted(t for t in ts if t is not None and plausible(t, now_ns))
    scale = records / n
    per_record = table_bytes / records
    out.untimed = int(round((n - len(good)) * scale))
    if not good:
        out.note = "no sampled record carries a plausible time"
        return out
    oldest, newest = good[0], good[-1]
    hours: dict[int, tuple[float, float]] = {}
    for t in good:
        r, b = hours.get(t // HOUR_NS, (0.0, 0.0))
        hours[t // HOUR_NS] = (r + scale, b + scale * per_record)
    unc: dict = {"confidence": CONFIDENCE, "records_per_day": {}, "bytes_per_day": {},
                 "method": f"{n} records at random keys; {Z:g} standard errors (binomial x {DESIGN_EFFECT:g})"}
    out.uncertainty = unc
    if _fill_span(out, hours, oldest, newest):
        return out
    span = _span_days(oldest, newest)
    for name, days in WINDOWS.items():
        width = min(float(days), span)
        k = sum(1 for t in good if t > newest - width * DAY_NS)
        p = k / n
        # a window with no sampled record is bounded by the rule of three, not by zero
        se = math.sqrt(DESIGN_EFFECT * p * (1 - p) / n) if 0 < k < n else 3.0 / n / Z
        rate = records * p / width
        half = Z * records * se / width
        out.records_per_day[name] = round(rate, 3)
        out.bytes_per_day[name] = round(rate * per_record, 1)
        unc["records_per_day"][name] = round(half, 3)
        unc["bytes_per_day"][name] = round(half * per_record, 1)
    return out


def growth(tables: Sequence[tuple[str, TableTime, int]], cap: Capacity) -> Growth | None:
    """The database's growth: the 7-day bytes per day of its time-ordered tables (``(label, time,
    bytes)``), those seen purged left out (their old records make room), and the map's time to full."""
    if not tables:
        return None
    rows: list[dict[str, Any]] = [
        {"table": label, "bytes_per_day": t.rate_7d, "purged": t.purged, "exact": t.exact}
        for label, t, _ in tables if t.rate_7d is not None]
    rows.sort(key=lambda r: -r["bytes_per_day"])
    counted = [r for r in rows if not r["purged"]]
    share = round(min(1.0, sum(b for _, _, b in tables) / cap.in_use_bytes), 4) if cap.in_use_bytes else None
    if not counted:
        why = ("every time-ordered table is purged" if rows
               else f"{TOO_LITTLE} (less than {MIN_SPAN_DAYS:g} days of records)")
        return Growth(None, None, f"no growth rate: {why}", share, rows)
    rate = float(sum(r["bytes_per_day"] for r in counted))
    eta = cap.available_bytes / (rate / 86400) if rate > 0 else None
    names = ", ".join(r["table"] for r in counted[:3]) + (f" and {len(counted) - 3} more" if len(counted) > 3 else "")
    left = [r["table"] for r in rows if r["purged"]]
    basis = (f"{fmt_bytes(rate)}/day over the last 7 days of the records' own time "
             f"({names})" + (f"; left out, purged: {', '.join(left)}" if left else ""))
    return Growth(round(rate, 1), round(eta, 1) if eta is not None else None, basis, share, rows)
