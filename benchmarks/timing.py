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
