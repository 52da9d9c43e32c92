"""``--format csv``: records as spreadsheet rows, the value's top-level fields as columns.

Columns are settled from the first ``settle`` records (a spreadsheet needs them before the
first row): ``key``, then each top-level field of the values in order of appearance (a value
that is not an object is one column, ``value``). A field first seen later goes into the
``_more`` column as JSON, so no data is lost. Nested objects and lists are JSON text.
Control characters are escaped as everywhere, and text cells that a spreadsheet would run as
a formula (starting with ``=``, ``+``, ``-``, ``@``) get a leading ``'``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from zlmdb_inspect.core.textsafe import visible

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if isinstance(v, float) else str(v)
    text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
    if text.startswith(_FORMULA):
        text = "'" + text
    return visible(text)


def rows(objs: Iterable[dict[str, Any]], settle: int = 1000) -> Iterator[list[str]]:
    """The header, then one row per ``{"key", "value", …}`` object."""
    it = iter(objs)
    head: list[dict[str, Any]] = []
    for obj in it:
        head.append(obj)
        if len(head) >= settle:
            break
    fields: dict[str, None] = {}
    scalar = False
    for obj in head:
        v = obj.get("value")
        if isinstance(v, dict):
            for k in v:
                fields.setdefault(str(k), None)
        else:
            scalar = True
    columns = list(fields)
    header = ["key"] + (["value"] if scalar or not columns else []) + columns + ["_more"]
    yield header

    def row(obj: dict[str, Any]) -> list[str]:
        v = obj.get("value")
        out = [cell(obj.get("key"))]
        if scalar or not columns:
            out.append("" if isinstance(v, dict) and columns else cell(v))
        extra = {}
        if isinstance(v, dict):
            out += [cell(v.get(c)) for c in columns]
            extra = {k: x for k, x in v.items() if str(k) not in fields}
        else:
            out += [""] * len(columns)
        out.append(cell(extra) if extra else "")
        return out

    for obj in head:
        yield row(obj)
    for obj in it:
        yield row(obj)


def write(objs: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write CSV to ``out``; the number of records written."""
    w = csv.writer(out, lineterminator="\n")
    n = -1
    for r in rows(objs):
        w.writerow(r)
        n += 1
    return max(n, 0)
