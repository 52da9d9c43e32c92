"""health/ — what a snapshot means: the rules and their findings, evaluation and exit codes, the live
history (rates, time to full) and the writer watch."""

from zlmdb_inspect.health.evaluate import RULES, evaluate, exit_code, worst
from zlmdb_inspect.health.findings import Finding, RuleInputs, Undecodable

__all__ = ["RULES", "Finding", "RuleInputs", "Undecodable", "evaluate", "exit_code", "worst"]
