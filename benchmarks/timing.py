"""Timing helpers shared by the benchmark scripts (run from this directory, so importable)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_ms(fn: Callable[[], object], n: int) -> float:
    """Median wall time of ``n`` calls, in milliseconds (robust to a busy machine's outliers)."""
    xs = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        xs.append(time.perf_counter() - t0)
    return statistics.median(xs) * 1000


class CheckFailed(RuntimeError):
    """A benchmark's two sides did not give the same result: its timings would compare nothing."""


def check(ok: bool, what: str) -> None:
    """Raise unless ``ok`` (not ``assert``: ``python -O`` removes those, and a ratio would print anyway)."""
    if not ok:
        raise CheckFailed(what)
