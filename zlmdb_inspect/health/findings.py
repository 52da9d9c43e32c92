"""What the health rules produce (:class:`Finding`) and what they read besides the snapshot
(:class:`RuleInputs`: sampling, live history, the verifier)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from zlmdb_inspect.core.kinds import RuleId, Severity
from zlmdb_inspect.health.timetofull import TimeToFull
from zlmdb_inspect.health.writer_watch import Batching, WriterState


@dataclass
class Finding:
    """One rule's finding, as the Warnings tab, ``--check`` and ``--json`` ``warnings[]`` show it."""

    id: RuleId
    severity: Severity
    message: str
    practice: str
    figure: Any = None
    threshold: Any = None
    subject: str | None = None  # the table, pid or slot it is about
    figure_text: str | None = None  # the figure in words with its unit ("85.0% of the map", "lag 213 txns")
    threshold_text: str | None = None  # the threshold likewise; None: the rule has no threshold

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Undecodable:
    """One table's records that fail to decode, split by whose decoder fails."""

    sampled: int = 0  # records in the last sample
    codec_sampled: int = 0  # of those, records the table's codec (no decoder) reads
    codec_seen: int = 0  # such records seen so far (sampling, browsing, dumping)
    app_sampled: int = 0  # sampled records only the application's own decoder raises on
    app_seen: int = 0
    codec_example: str | None = None
    app_example: str | None = None


@dataclass
class RuleInputs:
    """What other parts learned that rules turn into warnings (sampling, live history)."""

    # time to full over the live history; a single run: the snapshot's levels only ("measuring" or "full")
    time_to_full: TimeToFull | None = None
    history: bool = False  # live: time_to_full comes from a history of refreshes
    growth_pinned: bool = False  # most of the growth in that window is pages a reader pins
    # slot -> ([(key, value bytes)], whether the scan was cut short)
    largest: dict[int, tuple[list[tuple[str, int]], bool]] = field(default_factory=dict)
    undecodable: dict[str, Undecodable] = field(default_factory=dict)  # by table
    pickle_tables: list[str] = field(default_factory=list)
    json_tables: dict[str, int] = field(default_factory=dict)  # table -> bytes
    index_drift: list[tuple[str, str]] = field(default_factory=list)  # (index, why)
    damage: list[str] = field(default_factory=list)
    writer: WriterState | None = None  # the write lock's holder (held_s observed across refreshes when live)
    batching: Batching | None = None  # commits and record changes over the rates window (live only)
    writers_seen: list[tuple[int, str | None]] = field(default_factory=list)  # (pid, name) in that window
