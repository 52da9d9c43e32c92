"""The small vocabularies shared across layers, as types instead of strings.

They are ``StrEnum``s: a member equals, formats and serialises as its value, so JSON,
checks and metrics read exactly as before, while code and mypy see the type.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple


class Severity(StrEnum):
    """How bad a finding is; ``worst`` of them decides ``--check``'s exit code."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for the worst: findings sort worst first."""
        return _RANK[self]


_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


class Level(StrEnum):
    """What ``--rule ID=LEVEL`` or ``[rules]`` makes of a rule: off, or a severity."""

    OFF = "off"
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Status(StrEnum):
    """The overall state of a refresh, as ``--check`` and ``--json`` ``status`` give it."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """0 for the worst. A database that cannot be read (UNKNOWN) is less urgent than one that is
        filling up, and more than one that is fine."""
        return _STATUS_RANK[self]

    @property
    def exit_code(self) -> int:
        """Nagios' plugin exit code."""
        return _EXIT_CODE[self]

    @classmethod
    def of(cls, severities: Iterable[Severity | str]) -> Status:
        """The status that findings of these severities give (INFO alone is OK)."""
        sev = set(severities)
        return cls.CRITICAL if Severity.CRITICAL in sev else cls.WARNING if Severity.WARNING in sev else cls.OK

    @classmethod
    def worst(cls, statuses: Iterable[Status | str]) -> Status:
        """The worst of ``statuses`` (OK when there are none)."""
        return min((cls(s) for s in statuses), key=lambda s: s.rank, default=cls.OK)


_STATUS_RANK = {Status.CRITICAL: 0, Status.WARNING: 1, Status.UNKNOWN: 2, Status.OK: 3}
_EXIT_CODE = {Status.OK: 0, Status.WARNING: 1, Status.CRITICAL: 2, Status.UNKNOWN: 3}


class Direction(StrEnum):
    """Where a window of records starts, relative to an anchor key (or none)."""

    FIRST = "first"  # the table's first records
    LAST = "last"  # its last records
    FROM = "from"  # keys >= anchor
    AFTER = "after"  # keys > anchor
    BEFORE = "before"  # the records before anchor, in key order

    @property
    def backwards(self) -> bool:
        return self in (Direction.LAST, Direction.BEFORE)

    def flipped(self) -> Direction:
        """``after`` <-> ``before`` (browsing newest first)."""
        return Direction.BEFORE if self is Direction.AFTER else Direction.AFTER


class ProblemKind(StrEnum):
    """Something odd the snapshot found in the database's content (never fatal)."""

    DAMAGED = "damaged"
    BAD_METADATA = "bad-metadata"
    COUNT_FALLBACK = "count-fallback"
    SHORT_KEYS = "short-keys"


class RuleId(StrEnum):
    """Every health rule's fixed id (``--rule ID=LEVEL``, ``[rules]``, ``warnings[].id``)."""

    DAMAGED = "damaged"
    MAP_HEADROOM = "map-headroom"
    MAP_MISMATCH = "map-mismatch"
    MAP_ETA = "map-eta"
    GROWTH_ETA = "growth-eta"  # issue 23: time to full at the records' own growth
    WRITES_STALLED = "writes-stalled"
    FREE_PAGES = "free-pages"
    LONG_READER = "long-reader"
    STALE_READER = "stale-reader"
    READER_SLOTS = "reader-slots"
    LARGE_VALUES = "large-values"
    ORPHAN_SLOT = "orphan-slot"
    BAD_METADATA = "bad-metadata"
    UNDECODABLE = "undecodable"
    INDEX_DRIFT = "index-drift"
    JSON_TABLE = "json-table"
    PICKLE_TABLE = "pickle-table"
    FORMAT_09 = "format-09"
    LONG_WRITE_TXN = "long-write-txn"
    UNBATCHED_WRITES = "unbatched-writes"
    DISK_HEADROOM = "disk-headroom"  # issue 29: the volume allows less than the map
    FREE_RUNS = "free-runs"  # issue 29: reusable space in runs too short for a table's values


class ErrorKind(StrEnum):
    """Whose decoder failed on a record."""

    CODEC = "codec"  # the table's codec does not read the bytes (damage, a record unlike the rest)
    APP = "app"  # only the application's decoder (``--import``) raised; built-in decoding read them


class Decoders(NamedTuple):
    """The key and the value decoder of one record (``--dump`` writes them as ``key|value``)."""

    key: str
    value: str

    def __str__(self) -> str:
        return f"{self.key}|{self.value}"
