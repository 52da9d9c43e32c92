"""Human-readable figures, shared by the TUI and the report modes."""

from __future__ import annotations


def plain(v: float) -> str:
    """A number as Nagios perfdata and config files take it: digits and a point, never an exponent
    (``f"{1209600.0:g}"`` is ``1.2096e+06``)."""
    if isinstance(v, int) or float(v).is_integer():
        return str(int(v))
    from decimal import Decimal  # here: a one-shot run that prints no fraction does not import it

    return format(Decimal(repr(float(v))), "f")


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def fmt_duration(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def fmt_rate(v: float | None, unit: str) -> str:
    if v is None:
        return "–"
    if unit == "B/s":
        return fmt_bytes(v) + "/s"
    return f"{v:,.1f} {unit}"


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``n`` with its noun in the right number, thousands separated: "1 record", "2,000 records"."""
    return f"{n:,} {noun if n == 1 else (nouns or noun + 's')}"


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{suffix}"
