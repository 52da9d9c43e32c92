"""Where a search matched a record: the field and its text, the matched part highlighted.

The scan (service) says only which records match; showing why is the client's job and needs no
read: the record's decoded key and value are at hand. A text query matches case-insensitively and
a regex as ``re.search`` does, on a field's text, as the scan compares them; a match that spans
fields (a query over the JSON's punctuation) shows the whole value's text; jq selects records, not
text: nothing to highlight.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from rich.text import Text

from zlmdb_inspect.service import Query
from zlmdb_inspect.tui.text import literal

HIGHLIGHT = "bold reverse"


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(field path, text) of every scalar in a decoded value, depth first (``a.b[0]``)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{path}[{i}]")
    else:
        yield path, value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def where_matched(q: Query, key: Any, value: Any) -> tuple[str, str, int, int] | None:
    """(field, its text, start, end of the match) for a text or regex query; None for jq or no match."""
    if q.kind == "text":
        needle = q.expr.lower()

        def find(s: str) -> tuple[int, int] | None:
            i = s.lower().find(needle)
            return (i, i + len(needle)) if i >= 0 and needle else None
    elif q.kind == "regex":
        try:
            rx = re.compile(q.expr)
        except re.error:
            return None

        def find(s: str) -> tuple[int, int] | None:
            m = rx.search(s)
            return m.span() if m else None
    else:
        return None
    candidates = [("key", s) for _, s in leaves(key)] + [(f"value.{p}" if p else "value", s) for p, s in leaves(value)]
    candidates.append(("value", json.dumps(value, default=str, ensure_ascii=False)))
    for field, s in candidates:
        span = find(s)
        if span is not None:
            return field, s, span[0], span[1]
    return None


def match_cell(q: Query, key: Any, value: Any, width: int = 60) -> Text:
    """``field: …text…`` with the matched part highlighted, the match kept in view within ``width``
    (each piece literal: control characters escaped, never markup)."""
    found = where_matched(q, key, value)
    if found is None:
        return Text("")
    field, s, start, end = found
    room = max(12, width - len(field) - 2)
    lo = max(0, start - room // 3)
    hi = max(end, min(len(s), lo + room))
    out = literal(f"{field}: ", None, "bold")
    if lo:
        out.append("…")
    out.append_text(literal(s[lo:start], None))
    out.append_text(literal(s[start:end], None, HIGHLIGHT))
    out.append_text(literal(s[end:hi], None))
    if hi < len(s):
        out.append("…")
    return out
