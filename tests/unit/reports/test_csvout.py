"""--format csv: top-level fields as columns, nothing lost, nothing a spreadsheet would run."""

import csv
import io
import json

from zlmdb_inspect.reports import csvout


def test_top_level_fields_become_columns():
    objs = [{"key": "a", "value": {"name": "x", "n": 1, "tags": ["t"], "sub": {"k": 1}}},
            {"key": "b", "value": {"name": "=HYPERLINK(\"evil\")", "n": -2.5, "late": True}},
            {"key": "c\x1b]0;t\x07", "value": "plain"}]
    out = io.StringIO()
    assert csvout.write(objs, out) == 3
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["key", "value", "name", "n", "tags", "sub", "late", "_more"]
    assert rows[1] == ["a", "", "x", "1", '["t"]', '{"k": 1}', "", ""]
    assert rows[2][2] == "'=HYPERLINK(\"evil\")" and rows[2][3] == "-2.5" and rows[2][6] == "true"
    assert rows[3][0] == "c\\x1b]0;t\\x07" and rows[3][1] == "plain"


def test_fields_seen_after_the_first_records_are_kept():
    objs = [{"key": i, "value": {"a": i}} for i in range(3)] + [{"key": 9, "value": {"a": 9, "new": "z"}}]
    rows = list(csvout.rows(objs, settle=3))
    assert rows[0] == ["key", "a", "_more"]
    assert rows[-1] == ["9", "9", json.dumps({"new": "z"})]
