"""Warnings tied to zlmdb's monitoring and sizing practices: every registered rule
(:mod:`zlmdb_inspect.health.rules`) over one snapshot, re-graded by ``--rule``/``[rules]``."""

from __future__ import annotations

from typing import Any

from zlmdb_inspect.core.fmt import fmt_bytes, fmt_duration
from zlmdb_inspect.core.kinds import Level, RuleId, Severity, Status
from zlmdb_inspect.core.model import Snapshot
from zlmdb_inspect.core.options import Thresholds
from zlmdb_inspect.health.findings import Finding, RuleInputs, Undecodable
from zlmdb_inspect.health.rules import REGISTRY, Context

__all__ = ["Finding", "RuleInputs", "Undecodable", "Thresholds", "RULES", "evaluate", "worst", "exit_code"]

# every rule id, with what its figure counts
RULES: dict[RuleId, str] = {r.id: r.unit for r in REGISTRY.values()}


def evaluate(snap: Snapshot, th: Thresholds | None = None, found: RuleInputs | None = None) -> list[Finding]:
    """All findings for a snapshot, worst first."""
    ctx = Context(snap, th or Thresholds(), found or RuleInputs())
    out = [f for r in REGISTRY.values() for f in r.check(ctx)]
    out = apply_rules(out, ctx.th.rules)
    for f in out:
        _fill_texts(f)
    out.sort(key=lambda f: (f.severity.rank, f.id))
    return out


def apply_rules(findings: list[Finding], rules: dict[RuleId, Level]) -> list[Finding]:
    """Drop rules switched off, re-grade the others (``--rule ID=LEVEL``, ``[rules]``)."""
    out = []
    for f in findings:
        level = rules.get(f.id)
        if level == Level.OFF:
            continue
        if level:
            f.severity = Severity(level.value)
        out.append(f)
    return out


def _words(v: Any, unit: str) -> str:
    if isinstance(v, bool) or v is None:
        return "" if v is None else str(v)
    if isinstance(v, (int, float)):
        if unit == "B":
            return fmt_bytes(v)
        if unit == "%":
            return f"{v:g}%"
        if unit == "s":
            return fmt_duration(v)
        if v == 1 and unit.endswith("s"):
            unit = unit[:-1]
        return f"{v:,} {unit}".strip() if isinstance(v, int) else f"{v:,.1f} {unit}".strip()
    if isinstance(v, dict):
        return ", ".join(f"{k} {_words(x, '')}" for k, x in v.items() if x is not None)
    return str(v)


def _fill_texts(f: Finding) -> None:
    """Figure and threshold in words for rules that give none: never None or a repr on screen."""
    unit = RULES.get(f.id, "")
    if f.figure_text is None:
        f.figure_text = _words(f.figure, unit) if f.figure is not None else "found"
    if f.threshold_text is None:
        f.threshold_text = _words(f.threshold, unit) if f.threshold is not None else "none (any occurrence)"


def worst(findings: list[Finding]) -> Status:
    return Status.of(f.severity for f in findings)


def exit_code(findings: list[Finding]) -> int:
    return worst(findings).exit_code
