"""Strict reading of the state file's JSON (service.state, service.memo): every value checked for its
type and range, :class:`StateError` (one line, for ``--json``'s notes) on the first doubt."""

from __future__ import annotations

import math
from typing import Any

I64 = (1 << 63) - 1


class StateError(ValueError):
    """Why a state file is not used (one line, for ``--json``'s notes)."""


def whole(v: Any, what: str, lo: int = 0, hi: int = I64) -> int:
    if type(v) is not int or not lo <= v <= hi:
        raise StateError(f"{what} is not a whole number in {lo}..{hi}")
    return v


def number(v: Any, what: str, lo: float = 0.0, hi: float = float(I64)) -> float:
    if type(v) not in (int, float) or not math.isfinite(v) or not lo <= v <= hi:
        raise StateError(f"{what} is not a number in {lo:g}..{hi:g}")
    return float(v)


def listed(v: Any, what: str, n: int | None = None) -> list:
    if type(v) is not list or (n is not None and len(v) != n):
        raise StateError(f"{what} is not a list" + (f" of {n}" if n is not None else ""))
    return v


def text(v: Any, what: str) -> str:
    if type(v) is not str:
        raise StateError(f"{what} is not a text")
    return v
