"""The records list's cells: times compact, values bounded, field names in order of appearance."""

from __future__ import annotations

from zlmdb_inspect.tui.screens.records import _fit
from zlmdb_inspect.tui.widgets.fields import (
    cell_text,
    compact_iso,
    dumps_bounded,
    field_names,
    key_cells,
    key_width_wanted,
    with_times,
)

NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z


def test_cells_and_times():
    v = {"created": NS, "size": 1390, "email": "a@b.c", "modified_at": NS // 10**9 + 1}
    assert with_times(v) == {"created": "2026-01-01T00:00:00Z", "size": 1390, "email": "a@b.c",
                             "modified_at": "2026-01-01T00:00:01Z"}
    assert with_times([NS]) == [NS]
    assert cell_text(NS + 1_500_000, "timestamp") == "2026-01-01T00:00:00.0015Z"
    assert cell_text(1390, "size") == "1390"
    assert cell_text({"a": 1}) == '{"a": 1}' and cell_text(None) == "" and cell_text("s") == "s"
    assert compact_iso("2026-01-01T00:00:00.120000000Z") == "2026-01-01T00:00:00.12Z"
    assert compact_iso("datetime64(5ns)") == "datetime64(5ns)"
    assert field_names([{"a": 1, "b": 2}, "x", {"c": 3, "a": 4}]) == ["a", "b", "c"]


def test_json_is_encoded_only_as_far_as_shown():
    doc = {"args": [{"i": i, "s": "x" * 40} for i in range(100_000)]}
    short = dumps_bounded(doc, 100, None)
    assert short.startswith('{"args": [{"i": 0, "s": "xxx') and len(short) < 200 and short.endswith("…")
    pretty = dumps_bounded({"a": 1}, 100)
    assert pretty == '{\n  "a": 1\n}'


def test_columns_fit_the_width():
    assert _fit([36, 120, 7], 200, value_column=True) == [36, 120, 7]
    w = _fit([36, 120, 7], 80, value_column=True)  # Value gives way, Size stays in view
    assert sum(x + 2 for x in w) <= 80 and w[0] == 36 and w[2] == 7
    w = _fit([36, 20, 30, 7, 7], 70, value_column=False)  # fields: the key first, then the widest
    assert sum(x + 2 for x in w) <= 70 and w[0] == 16 and w[-1] == 7 and min(w[1:-1]) >= 7


def test_value_cells_cut_long_strings_before_encoding():
    v = {"blob": "hex:" + "ab" * 1_000_000, "created": NS}
    short = with_times(v, clip=50)
    assert short == {"blob": "hex:" + "ab" * 23, "created": "2026-01-01T00:00:00Z"}
    assert with_times("x" * 5000, clip=10) == "x" * 10


def test_composite_keys_show_the_part_that_differs():
    oid = 941842907845124  # cfxdb's Events: an OID that repeats, then a time
    keys = [[oid, f"2024-03-01T00:00:0{i}.123456789Z"] for i in range(3)] + [[oid + 1, "2024-03-01T00:00:09Z"],
                                                                         [oid + 1, "2024-03-01T00:00:10Z"],
                                                                         [oid + 2, "2024-03-01T00:00:11.123456789Z"]]
    need = key_width_wanted(keys)
    assert need == len(f"{oid} 2024-03-01T00:00:00.123456789Z")  # the first row whole; repeats as "…"
    cells = [c.plain for c in key_cells(keys, 32)]
    assert cells == ["… 2024-03-01T00:00:00.123456789Z",  # the OID gives way, the time stays whole
                     "… 2024-03-01T00:00:01.123456789Z",
                     "… 2024-03-01T00:00:02.123456789Z",
                     "9418429078… 2024-03-01T00:00:09Z",  # a new OID: as much of it as fits
                     "… 2024-03-01T00:00:10Z",
                     "941842907845126 2024-03-01T00:0…"]  # an OID shown once: cut at the end
    assert [c.plain for c in key_cells(keys, 60)][:2] == [f"{oid} 2024-03-01T00:00:00.123456789Z",
                                                        "… 2024-03-01T00:00:01.123456789Z"]
    assert [c.plain for c in key_cells(["a\x1bb", 7], 10)] == ["a\\x1bb", "7"]  # plain keys as key_text
    times = [["2026-01-01T00:00:00Z", "b78599cb-7e00-45f4"], ["2026-01-01T00:00:01Z", "0dad945b-b2d9-45c0"]]
    assert [c.plain for c in key_cells(times, 30)] == ["2026-01-01T00:00:00Z b78599cb…",  # no part repeats:
                                                      "2026-01-01T00:00:01Z 0dad945b…"]  # the leading one stays
    assert key_width_wanted(["a", 7]) == 0
    row = key_cells([[1, "a"], [1, "b"]], 30)[1]
    assert [(row.plain[s.start:s.end], str(s.style)) for s in row.spans] == [("… ", "dim")]  # only the mark is dim
    assert str(row.style) == ""
