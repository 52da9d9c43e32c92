"""Times for people: ISO 8601 renderings of datetime64[ns] keys and of integer fields holding epoch times.

Shared by the decoders (tables) and the record cells (tui), which must render a time the same way.
"""

from __future__ import annotations

import re
from typing import Any

#: The range a time of a record's own may lie in (issue 23): 2000-01-01 to 2100-01-01; clients cut
#: at now + 1 day (:func:`plausible`). The walk buckets, the time sources and the growth figures share it.
HOUR_NS = 3600 * 10**9
DAY_NS = 24 * HOUR_NS
TIME_MIN_NS = 946_684_800 * 10**9  # 2000-01-01: earlier is not a time
TIME_MAX_NS = 4_102_444_800 * 10**9  # 2100-01-01


def plausible(ns: int, now_ns: int) -> bool:
    """A time we take for one: 2000-01-01 up to now + 1 day."""
    return TIME_MIN_NS <= ns <= now_ns + DAY_NS


def ts_iso(ns: int) -> str:
    """An ISO 8601 UTC timestamp with nanoseconds (what numpy datetime64[ns] holds)."""
    import datetime as dt

    sec, frac = divmod(ns, 10**9)
    try:
        base = dt.datetime.fromtimestamp(sec, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return f"datetime64({ns}ns)"
    return f"{base}.{frac:09d}Z"


# -- times for people: ISO renderings of integer fields that hold epoch times -------------

_TIME_NAME = re.compile(r"(^|[_.\-])(created|modified|updated|deleted|expires?|started|stopped|ended|"
                        r"last_?seen|seen|time|timestamp|ts|date|when)($|[_.\-])|_at$|^at$|timestamp|time$",
                        re.IGNORECASE)
_UNITS = ((10**9, "ns"), (10**6, "us"), (10**3, "ms"), (1, "s"))


def time_hint(name: str | None, value: Any) -> str | None:
    """An ISO 8601 UTC rendering of ``value`` when it is a plausible epoch time, else None.

    By field name (``*timestamp*``, ``*_at``, ``created``, ...) an integer in any unit from
    seconds to nanoseconds between 1990 and 2100 counts; without a telling name only
    nanoseconds between 2000 and 2100 do (smaller units overlap ids and counters).
    """
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None
    named = bool(name) and bool(_TIME_NAME.search(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name))))
    lo, hi = (631_152_000 if named else TIME_MIN_NS // 10**9), TIME_MAX_NS // 10**9  # a named field: from 1990
    for scale, _unit in (_UNITS if named else _UNITS[:1]):
        if lo * scale <= value <= hi * scale:
            return ts_iso(value * (10**9 // scale))
    return None


def time_hints(value: Any, prefix: str = "", depth: int = 0, out: dict[str, str] | None = None) -> dict[str, str]:
    """``{field path: ISO time}`` for the epoch-time integers in a decoded value (maps, nested)."""
    out = {} if out is None else out
    if depth > 4 or len(out) >= 64:
        return out
    if isinstance(value, dict):
        for k, v in value.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, (dict, list)):
                time_hints(v, path, depth + 1, out)
            else:
                iso = time_hint(str(k), v)
                if iso:
                    out[path] = iso
    elif isinstance(value, list):
        for i, v in enumerate(value[:64]):
            if isinstance(v, (dict, list)):
                time_hints(v, f"{prefix}[{i}]", depth + 1, out)
    elif not prefix:
        iso = time_hint(None, value)
        if iso:
            out[""] = iso
    return out
