"""What a run is asked to do: the command line's options and the ``--config`` file.

The CLI fills :class:`Options`; :func:`load_settings` reads the TOML file once into
:class:`Settings` (thresholds, rules, keymap, remembered columns), which the service
hands to every client. Nothing here imports another layer: every module may read it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from zlmdb_inspect.core.errors import InspectError
from zlmdb_inspect.core.kinds import Level, RuleId

COLUMNS_SECTION = "columns"


@dataclass
class Options:
    """Everything the run needs from the command line (also built by tests and benchmarks)."""

    path: str
    interval: float = 2.0
    imports: list[str] = field(default_factory=list)
    fbs: list[str] = field(default_factory=list)
    fbs_types: dict[str, str] = field(default_factory=dict)
    allow_pickle: bool = False
    thresholds: list[str] = field(default_factory=list)  # NAME=VALUE
    rules: list[str] = field(default_factory=list)  # ID=off|info|warning|critical
    config: str | None = None
    verify: bool = False
    sample: int = 200  # records decoded per table for the health rules
    # State between runs (service.state): the CLI keeps it unless --no-state; built elsewhere
    # (tests, benchmarks, the fleet's own services) nothing is kept unless asked for.
    state: bool = False
    state_dir: str | None = None  # None: $XDG_STATE_HOME/zlmdb-inspect


@dataclass
class Thresholds:
    """Every threshold a rule uses; set by flag (``--threshold NAME=VALUE``) or TOML."""

    map_used_warning_pct: float = 80.0
    map_used_critical_pct: float = 95.0
    map_eta_warning_s: float = 24 * 3600.0
    map_eta_critical_s: float = 3600.0
    free_pages_warning_pct: float = 30.0  # of the used pages (the file's high-water mark) ...
    free_pages_warning_bytes: int = 64 * 1024 * 1024  # ... and at least this much
    reader_lag_warning_txns: int = 1000
    reader_held_warning_s: float = 60.0
    long_reader_bytes: int = 0  # a reader pinning this many freed bytes is long; 0: min(1 GiB, 25 % of the map)
    reader_slots_warning_pct: float = 80.0
    json_table_warning_bytes: int = 1024 * 1024
    large_value_warning_bytes: int = 64 * 1024
    large_values_overflow_pct: float = 50.0  # info: a table whose bytes are mostly overflow pages
    eta_min_window_s: float = 30.0  # no time-to-full warning from less history than this
    writes_stalled_s: float = 30.0  # a live writer that was committing has committed nothing this long (map full)
    write_txn_warning_s: float = 10.0  # the same thread has held LMDB's write lock this long (observed)
    write_txn_critical_s: float = 60.0
    unbatched_min_txns_per_s: float = 20.0  # more commits a second than this ...
    unbatched_max_records_per_txn: float = 2.0  # ... each changing fewer records than this
    # -- issue 29: the disk beside the map, free runs --
    disk_used_warning_pct: float = 80.0  # the volume's use (as df), where it allows less than the map
    disk_used_critical_pct: float = 95.0
    free_runs_min_reusable_bytes: int = 1024 * 1024  # free-runs speaks only with this much reusable
    # issue 23: time to full at the growth the records' own time shows over 7 days (growth-eta)
    growth_eta_warning_s: float = 14 * 86400.0
    growth_eta_critical_s: float = 2 * 86400.0
    rules: dict[RuleId, Level] = field(default_factory=dict)  # rule id -> off|info|warning|critical

    def set(self, name: str, value: str) -> None:
        names = {f.name: f for f in fields(self) if f.name != "rules"}
        key = name.replace("-", "_")
        if key not in names:
            raise ValueError(f"unknown threshold {name!r} (known: {', '.join(sorted(names))})")
        current = getattr(self, key)
        typ = int if isinstance(current, int) and not isinstance(current, bool) else float
        setattr(self, key, typ(value))

    def set_rule(self, rule: str, level: str) -> None:
        rule, level = rule.strip(), level.strip().lower()
        if rule not in set(RuleId):
            raise ValueError(f"unknown rule {rule!r} (known: {', '.join(sorted(RuleId))})")
        if level not in set(Level):
            raise ValueError(f"rule {rule}: level {level!r} is not one of {', '.join(Level)}")
        self.rules[RuleId(rule)] = Level(level)

    @classmethod
    def load(cls, config: dict[str, Any], overrides: Sequence[str], rules: Sequence[str] = ()) -> Thresholds:
        """From the parsed config file's ``[thresholds]`` and ``[rules]``, then the flags (which win)."""
        t = cls()
        section = config.get("thresholds", {k: v for k, v in config.items() if not isinstance(v, dict)})
        for k, v in section.items():
            t.set(k, str(v))
        table = config.get("rules", {})
        if not isinstance(table, dict):
            raise ValueError("[rules] must be a table of rule = \"off|info|warning|critical\"")
        for k, v in table.items():
            t.set_rule(k, str(v))
        for item in overrides:
            if "=" not in item:
                raise ValueError(f"--threshold takes NAME=VALUE, not {item!r}")
            k, v = item.split("=", 1)
            t.set(k.strip(), v.strip())
        for item in rules:
            if "=" not in item:
                raise ValueError(f"--rule takes ID=off|info|warning|critical, not {item!r}")
            k, v = item.split("=", 1)
            t.set_rule(k, v)
        return t


@dataclass
class Settings:
    """The configuration in force: options, thresholds and rules, key remapping, remembered columns."""

    options: Options
    thresholds: Thresholds = field(default_factory=Thresholds)
    keymap: dict[str, str] = field(default_factory=dict)  # binding id -> comma-separated keys
    columns: dict[str, list[str]] = field(default_factory=dict)  # table name -> value fields shown
    columns_path: str = ""  # where remembered columns are read from and written to


def config_path(explicit: str | None) -> str:
    """Where preferences are read from and written to: ``--config``, else the XDG config file."""
    if explicit:
        return explicit
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "zlmdb-inspect", "config.toml")


def read_columns(data: dict[str, Any]) -> dict[str, list[str]]:
    """The ``[columns]`` table of a parsed config file, without entries that are not lists of names."""
    section = data.get(COLUMNS_SECTION, {})
    if not isinstance(section, dict):
        return {}
    return {str(k): v for k, v in section.items()
            if isinstance(v, list) and all(isinstance(c, str) for c in v)}


def _read_toml(path: str) -> dict[str, Any]:
    with open(path, "rb") as f:
        import tomllib  # only when there is a file (~9 ms of a report's start otherwise)

        return tomllib.load(f)


def load_settings(opts: Options) -> Settings:
    """Read the config file once. Errors name the file or the flag (``InspectError``)."""
    where = f"--config {opts.config}" if opts.config else "--threshold/--rule"
    try:
        data = _read_toml(opts.config) if opts.config else {}
        thresholds = Thresholds.load(data, opts.thresholds, opts.rules)
    except OSError as e:
        raise InspectError(f"--config {opts.config}: {e.strerror or e}") from None
    except ValueError as e:  # tomllib's errors are ValueErrors too
        raise InspectError(f"{where}: {e}") from None
    keymap = {str(k): str(v) for k, v in data.get("keymap", {}).items()}
    path = config_path(opts.config)
    if not opts.config:  # remembered columns live in the default config file too; never fatal
        try:
            data = _read_toml(path)
        except (OSError, ValueError):  # TOMLDecodeError is a ValueError
            data = {}
    return Settings(opts, thresholds, keymap, read_columns(data), path)
