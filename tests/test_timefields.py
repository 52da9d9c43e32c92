"""Integer fields read as epoch times: by name and unit, or by range for the large units."""

from __future__ import annotations

from zlmdb_inspect.timefields import time_fields, time_hint
from zlmdb_inspect.tui.fields import cell_text, compact_iso, field_names, with_times

NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z


def test_units_by_range_and_name():
    assert time_hint("timestamp", NS) == "2026-01-01T00:00:00.000000000Z"
    assert time_hint("x", NS + 5) == "2026-01-01T00:00:00.000000005Z"  # ns by range alone
    assert time_hint("x", NS // 1000) == "2026-01-01T00:00:00.000000Z"  # µs
    assert time_hint("x", NS // 10**6) == "2026-01-01T00:00:00.000Z"  # ms
    assert time_hint("x", NS // 10**9) is None  # seconds look like any 10-digit number
    assert time_hint("created_at", NS // 10**9) == "2026-01-01T00:00:00Z"
    assert time_hint("last_seen", NS // 10**9) == "2026-01-01T00:00:00Z"
    for not_a_time in (True, 0, -NS, 42, 7_000_000, "1767225600", 1.7e18, 10**30):
        assert time_hint("timestamp", not_a_time) is None


def test_fields_cells_and_lists():
    v = {"created": NS, "size": 1390, "email": "a@b.c", "modified_at": NS // 10**9 + 1}
    assert [(n, u) for n, _, u, _ in time_fields(v)] == [("created", "ns"), ("modified_at", "s")]
    assert time_fields([NS]) == [] and time_fields(NS) == []
    assert with_times(v) == {"created": "2026-01-01T00:00:00Z", "size": 1390, "email": "a@b.c",
                             "modified_at": "2026-01-01T00:00:01Z"}
    assert cell_text(NS + 1_500_000, name="timestamp") == "2026-01-01T00:00:00.0015Z"
    assert cell_text({"a": 1}) == '{"a": 1}' and cell_text(None) == "" and cell_text("s") == "s"
    assert compact_iso("datetime64(5ns)") == "datetime64(5ns)"
    assert field_names([{"a": 1, "b": 2}, "x", {"c": 3, "a": 4}]) == ["a", "b", "c"]
