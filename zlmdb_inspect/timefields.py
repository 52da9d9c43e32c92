"""Integer fields that are plausible epoch times, read as ISO 8601 UTC for operators.

Applications store times as integers in several units (cfxdb: nanoseconds; others seconds or
milliseconds). A field is read as a time when its name says so (``timestamp``, ``*_at``,
``created``, ``*time*``...) and its value lies in 2000–2100 in some unit, or, without such a
name, when it lies in that range in nanoseconds, microseconds or milliseconds (magnitudes that
small counters and sizes do not reach). Seconds alone (10 digits) are too common to guess by
range, so they need the name.
"""

from __future__ import annotations

import re

from zlmdb_inspect.decode import ts_iso

_LO_S, _HI_S = 946_684_800, 4_102_444_800  # 2000-01-01 .. 2100-01-01 in seconds
_UNITS = (("ns", 10**9), ("µs", 10**6), ("ms", 10**3), ("s", 1))
_NAME = re.compile(r"(^|_)(timestamp|ts|time|created|modified|updated|deleted|expires?|started|"
                   r"stopped|seen|last_seen|date)($|_)|_at$|_ts$|time", re.IGNORECASE)


def time_name(name: str) -> bool:
    """A field name that says it holds a time."""
    return bool(_NAME.search(name))


def epoch_unit(value: object, named: bool) -> tuple[str, int] | None:
    """(unit, ns per unit) when ``value`` is a plausible epoch time, else None."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None
    for unit, scale in _UNITS:
        if _LO_S * scale <= value <= _HI_S * scale:
            if unit == "s" and not named:
                return None
            return unit, 10**9 // scale
    return None


def time_hint(name: str, value: object) -> str | None:
    """``value`` of field ``name`` as an ISO 8601 UTC time, or None if it is not plausibly one."""
    u = epoch_unit(value, time_name(name))
    if u is None:
        return None
    iso = ts_iso(value * u[1])  # type: ignore[operator]
    if u[0] == "s":
        return iso.replace(".000000000Z", "Z")
    if u[0] == "ms":
        return iso[:-7] + "Z"
    if u[0] == "µs":
        return iso[:-4] + "Z"
    return iso


def time_fields(value: object) -> list[tuple[str, int, str, str]]:
    """Top-level fields of a record value that read as times: (name, raw, unit, ISO)."""
    if not isinstance(value, dict):
        return []
    out = []
    for k, v in value.items():
        u = epoch_unit(v, time_name(str(k)))
        if u is not None:
            out.append((str(k), v, u[0], time_hint(str(k), v) or ""))
    return out
