"""The seams of the architecture step: rules registry, types instead of strings, help from bindings."""

from __future__ import annotations

import json

from zlmdb_inspect.core.kinds import Decoders, Direction, RuleId, Severity
from zlmdb_inspect.core.options import Options, load_settings
from zlmdb_inspect.health.rules import REGISTRY


def test_every_rule_id_has_one_registered_rule():
    from zlmdb_inspect.health.rules import SUMMARY

    assert set(REGISTRY) == set(RuleId)
    assert all(r.id is k for k, r in REGISTRY.items())
    assert set(SUMMARY) == set(RuleId)  # --list-rules and --help name every rule


def test_enums_read_as_their_strings():
    assert json.dumps({"s": Severity.WARNING, "d": Direction.AFTER}) == '{"s": "warning", "d": "after"}'
    assert f"{Severity.CRITICAL}".upper() == "CRITICAL" and Direction.BEFORE.backwards
    assert Direction.AFTER.flipped() is Direction.BEFORE and Direction.BEFORE.flipped() is Direction.AFTER
    d = Decoders("uuid", "cbor")
    assert str(d) == "uuid|cbor" and d.value == "cbor"


def test_config_is_read_once_into_settings(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[thresholds]\nmap_used_warning_pct = 70\n[rules]\n"format-09" = "off"\n'
                   '[keymap]\n"overview.refresh" = "f5"\n[columns]\n"app.Users" = ["email"]\n')
    s = load_settings(Options(path="/nowhere", config=str(cfg), rules=["format-09=warning"]))
    assert s.thresholds.map_used_warning_pct == 70 and s.thresholds.rules[RuleId.FORMAT_09] == "warning"
    assert s.keymap == {"overview.refresh": "f5"} and s.columns == {"app.Users": ["email"]}
    assert s.columns_path == str(cfg)


def test_help_lists_the_keys_in_force():
    from zlmdb_inspect.tui.app import help_text

    plain = help_text({}).plain
    assert "\n  r            refresh now" in plain
    remapped = help_text({"overview.refresh": "f5,ctrl+r"}).plain
    assert "\n  f5, ctrl+r   refresh now" in remapped and "\n  r            refresh now" not in remapped


def test_help_lists_every_screens_bindings():
    """Each list of bindings in tui/bindings.py (one per screen) is a section of the help, every key in it."""
    from textual.binding import Binding

    from zlmdb_inspect.tui import bindings
    from zlmdb_inspect.tui.app import help_text

    lists = {name: v for name, v in vars(bindings).items()
             if name.isupper() and isinstance(v, list) and v and all(isinstance(b, Binding) for b in v)}
    assert {"APP", "DATABASES", "OVERVIEW", "TABLE", "SEARCH", "SHAPE"} <= set(lists), lists.keys()
    in_help = {id(b) for _, bs in bindings.SECTIONS for b in bs}
    assert all(id(b) in in_help for bs in lists.values() for b in bs), [n for n, bs in lists.items()
                                                                        if any(id(b) not in in_help for b in bs)]
    plain = help_text({}).plain
    for b in bindings.SEARCH + bindings.SHAPE:
        assert (b.tooltip or b.description) in plain


def test_workers_share_one_service(demo_db):
    """Thread workers call one service at once (refreshes, windows, positions): each gets whole
    results, and what the codecs learn stays consistent."""
    import threading

    from conftest import sha

    from zlmdb_inspect.service import Service

    before = sha(demo_db)
    svc = Service(Options(path=demo_db))
    errors: list[BaseException] = []
    try:
        table = svc.resolve_table(svc.snapshot(), "Events")

        def browse() -> None:
            try:
                for _ in range(5):
                    w = svc.read_window(table, None, Direction.FIRST, 50)
                    assert len(w.records) == 50 and w.at_start
                    last = svc.read_window(table, None, Direction.LAST, 50)
                    assert svc.locate(table, last.records[0].raw_key) == (table.records - 50, table.records)
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                errors.append(e)

        def refresh() -> None:
            try:
                for _ in range(3):
                    assert svc.refresh(live=True).snapshot.table_by_slot(table.slot) is not None
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=f) for f in (browse, browse, refresh, refresh)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert svc.sampling_notes(table)  # learnt once, by whichever worker came first
    finally:
        svc.close()
    assert sha(demo_db) == before


def test_no_merge_conflict_markers_in_tracked_files():
    """A merge resolved in code but not in the README once landed with its markers: git's own
    list of tracked text files, each line checked."""
    import os
    import subprocess

    import pytest
    from conftest import ROOT

    if not os.path.exists(os.path.join(ROOT, ".git")):
        pytest.skip("not a git checkout: no list of tracked files")
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    found = []
    for name in filter(None, files.decode().split("\0")):
        path = os.path.join(ROOT, name)
        if not name.endswith((".py", ".md", ".toml", ".tcss", ".yml", ".yaml", ".json", ".txt", ".cfg", ".sh")) \
                or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                if line.startswith(("<<<<<<< ", ">>>>>>> ")) or line.rstrip("\n") == "=======":
                    found.append(f"{name}:{n}")
    assert not found, found
