"""health/ — what a snapshot means: the rules and their findings, evaluation and exit codes, the live
history (rates, time to full) and the writer watch."""

from zlmdb_inspect.health.evaluate import RULES, evaluate, exit_code, worst
from zlmdb_inspect.health.findings import Finding, Findings, Undecodable

__all__ = ["RULES", "Finding", "Findings", "Undecodable", "evaluate", "exit_code", "worst"]
