"""Whole-table queries: text, regular expressions and jq over the JSON ``--dump`` prints.

A query matches a record's JSON object ``{"key": …, "value": …}`` exactly as
``--dump`` prints it (``Record.to_json()``). Plain text and ``re:`` match the JSON
text of the key or of the value (``json.dumps(…, ensure_ascii=False)``); text is
compared case-insensitively for ASCII letters only (A–Z, so that the same folding
applies to raw bytes); ``jq:`` runs the real jq on the object and matches when it
yields ``true``.

Speed comes from not decoding: for text, regexes with required literal text, and
jq tests ``PATH == "string"``, a record whose raw key and value bytes lack the
literal is skipped undecoded. That is only sound where the JSON text's strings
are the stored bytes. :func:`verbatim_literal` says when a piece of JSON text can
only come from a stored string, :func:`raw_prefilter` when a table's codec keeps
strings verbatim. Everything else is decoded and matched exactly.

The scan over a table's pages is :mod:`zlmdb_inspect.tables.scanner`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zlmdb_inspect.core.errors import InspectError


class QueryError(InspectError):
    """A query that does not parse or compile (a bad regex or jq expression)."""


KINDS = ("all", "text", "regex", "jq")


@dataclass(frozen=True)
class Query:
    kind: str  # one of KINDS
    expr: str = ""
    start: str | None = None  # key text, included (the syntax of --from)
    stop: str | None = None  # key text, excluded

    def describe(self) -> str:
        what = {"all": "all records", "text": f"text {self.expr!r}", "regex": f"re:{self.expr}",
                "jq": f"jq:{self.expr}"}[self.kind]
        if self.start or self.stop:
            what += f" in [{self.start or 'first'}, {self.stop or 'end'})"
        return what


def parse(text: str) -> Query:
    """The TUI's query syntax: ``[from:KEY] [to:KEY] (re:REGEX | jq:EXPR | TEXT)``.

    ``from:``/``to:`` take one word each (``hex:…`` for keys with spaces); an empty
    rest scans the range for every record.
    """
    rest = text.strip()
    start = stop = None
    while True:
        m = re.match(r"(from|to):(\S+)\s*", rest)
        if not m:
            break
        if m.group(1) == "from":
            start = m.group(2)
        else:
            stop = m.group(2)
        rest = rest[m.end():]
    if rest.startswith("re:"):
        return Query("regex", rest[3:], start, stop)
    if rest.startswith("jq:"):
        return Query("jq", rest[3:].strip(), start, stop)
    return Query("text" if rest else "all", rest, start, stop)


# -- when JSON text certainly comes from stored bytes ------------------------------------

#: Characters of JSON outside strings and of derived strings (numbers, hex, UUIDs, ISO times,
#: IP addresses, the punctuation of repr()s). Lower case: text queries fold ASCII case.
_BASE = set("0123456789abcdef{}[],: +-.etz/()=<>|%x…")
#: Whole words that appear in JSON text without being stored as text: JSON literals, and what
#: ``decode.jsonable`` makes of cbor2's non-JSON types (repr()s of tags, simple values, …).
_WORDS = ["true", "false", "null", "NaN", "Infinity", "nan", "inf", "hex:", "datetime64(", "ns)",
          "Decimal(", "Fraction(", "re.compile(", "re.IGNORECASE", "re.LOCALE", "re.MULTILINE",
          "re.DOTALL", "re.UNICODE", "re.VERBOSE", "re.DEBUG", "re.ASCII", "re.TEMPLATE",
          "re.NOFLAG", "<email.message.Message object at 0x", "IPv4Address(", "IPv6Address(",
          "IPv4Network(", "IPv6Network(", "IPv4Interface(", "IPv6Interface(",
          "CBORSimpleValue(value=", "undefined", "cbor_tag", "value", "…(nested too deep)",
          "pickle (not loaded)", "FrozenDict(", "True", "False", "None", "field", "datetime.date(",
          "datetime.datetime(", "datetime.timezone", "tzinfo=", "UUID(", "Tag(", "break_marker"]
_WORDS_LOWER = sorted({w.lower() for w in _WORDS})
#: What may follow a backslash in JSON and repr() escapes (``\n``, ``\u00e9``, ``\x01``, ``\U0001f600``).
_ESCAPE_TAIL = re.compile(r"(?:[nrtbf/'\"]|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}"
                          r"|[xuU][0-9a-fA-F]*$)")
_SPLIT = re.compile(r"['\"\\\x00-\x1f\x7f-\x9f]")


def _derivable(s: str) -> bool:
    """Whether ``s`` (lower case, no quotes or backslashes) can occur in JSON text other than
    inside a stored string: a suffix of a word, then whole words and base characters, then
    a prefix of a word (or a piece of one word)."""
    n = len(s)
    if any(s in w for w in _WORDS_LOWER):
        return True
    # reach[i]: s[:i] can be the start of a derived run
    reach = [False] * (n + 1)
    reach[0] = True
    for i in range(1, n + 1):
        if any(w.endswith(s[:i]) for w in _WORDS_LOWER):
            reach[i] = True
    for i in range(n + 1):
        if not reach[i]:
            continue
        if i == n:
            return True
        if s[i] in _BASE:
            reach[i + 1] = True
        for w in _WORDS_LOWER:
            if s.startswith(w, i):
                reach[i + len(w)] = True
            elif w.startswith(s[i:]):  # the run ends inside a word
                return True
    return reach[n]


def verbatim_literal(text: str) -> bytes | None:
    """The longest bytes that every raw record must contain for its JSON text to contain ``text``,
    lower-cased for ASCII, or None when no part of ``text`` is certainly stored as it reads.

    A piece of ``text`` without quotes, backslashes or control characters lies inside one
    string or outside all strings. If it cannot be spelled from JSON's own characters and
    the words derived strings are made of (:func:`_derivable`), it lies inside a stored
    string, whose bytes hold it after any escape that may precede it (``\\n``, ``\\u00e9``).
    """
    best: bytes | None = None
    for piece in _SPLIT.split(text.lower()):
        if not piece or _derivable(piece):
            continue
        m = _ESCAPE_TAIL.match(piece)
        tail = m.end() if m else 0
        # an escape's possible tail is cut (u00e9…): what remains is stored either way
        rest = piece[tail:]
        if rest and (best is None or len(rest.encode()) > len(best)):
            best = rest.encode("utf-8")
    return best


def regex_literals(pattern: str) -> list[str]:
    """Literal texts every match of ``pattern`` contains (top-level runs of plain characters);
    none for case-insensitive or verbose patterns."""
    import importlib

    sre_parse: Any = importlib.import_module("re._parser")  # the stdlib's own parser (Python >= 3.11)
    LITERAL = importlib.import_module("re._constants").LITERAL

    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return []
    if parsed.state.flags & (re.IGNORECASE | re.VERBOSE):
        return []
    out, run = [], []
    for op, arg in parsed:
        if op is LITERAL:
            run.append(chr(arg))
        else:
            if run:
                out.append("".join(run))
            run = []
    if run:
        out.append("".join(run))
    return out


_JQ_STRING = r'"(?:[^"\\]|\\.)*"'
_JQ_PATH = r"\.(?:key|value)(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_JQ_TEST = re.compile(rf"\s*(?:({_JQ_PATH})\s*==\s*({_JQ_STRING})|({_JQ_STRING})\s*==\s*({_JQ_PATH}))\s*")


def jq_literals(expr: str) -> list[str]:
    """Strings that must be stored for ``expr`` to yield true: the expression is a conjunction
    (``and``) of parts, at least one of them ``.PATH == "string"``; anything else gives none."""
    masked = re.sub(_JQ_STRING, lambda m: '"' + "_" * (len(m.group(0)) - 2) + '"', expr)
    depth = 0
    cuts = []
    for i, c in enumerate(masked):
        depth += c in "([{"
        depth -= c in ")]}"
        if depth == 0 and masked.startswith(" and ", i):
            cuts.append(i)
    if re.search(r"\||,|//|\bor\b|\bdef\b|\bas\b|\breduce\b|\bforeach\b|\blabel\b|;|\?|\$", masked):
        return []
    parts: list[str] = []
    last = 0
    for cut in cuts:
        parts.append(expr[last:cut])
        last = cut + 5
    parts.append(expr[last:])
    out = []
    for part in parts:
        m = _JQ_TEST.fullmatch(part)
        if m:
            out.append(json.loads(m.group(2) or m.group(3)))
    return out


# -- compiled queries ------------------------------------------------------------------

def _text(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, default=str)


@dataclass
class Compiled:
    query: Query
    match: Callable[[dict[str, Any]], bool]  # on {"key", "value"}
    literal: bytes | None  # raw bytes a candidate must contain (ASCII lower case)
    errors: int = 0  # records jq raised on (counted as not matching)


def compile_query(q: Query) -> Compiled:
    """A matcher for ``q``; :class:`QueryError` with jq's or re's own message when it does not compile."""
    if q.kind == "all":
        return Compiled(q, lambda obj: True, None)
    if q.kind == "text":
        needle = q.expr.encode("utf-8").lower()

        def match_text(obj: dict[str, Any]) -> bool:
            return needle in _text(obj["key"]).encode("utf-8").lower() or \
                needle in _text(obj["value"]).encode("utf-8").lower()

        return Compiled(q, match_text, verbatim_literal(q.expr))
    if q.kind == "regex":
        try:
            rx = re.compile(q.expr)
        except re.error as e:
            raise QueryError(f"bad regular expression {q.expr!r}: {e}") from None

        def match_regex(obj: dict[str, Any]) -> bool:
            return rx.search(_text(obj["key"])) is not None or rx.search(_text(obj["value"])) is not None

        return Compiled(q, match_regex, _longest(verbatim_literal(t) for t in regex_literals(q.expr)))
    if q.kind == "jq":
        import jq  # type: ignore[import-not-found]

        try:
            prog = jq.compile(q.expr)
        except ValueError as e:
            raise QueryError(f"bad jq expression {q.expr!r}: {_one_line(e)}") from None
        comp = Compiled(q, lambda obj: False, None)

        def match_jq(obj: dict[str, Any]) -> bool:
            try:
                return any(out is True for out in prog.input_text(_text(obj)).all())
            except ValueError:  # a runtime error on this record (e.g. indexing a string)
                comp.errors += 1
                return False

        comp.match = match_jq
        # a tested string equals a stored one: its pieces outside quotes are in the raw bytes
        comp.literal = _longest(verbatim_literal(s) for s in jq_literals(q.expr))
        return comp
    raise QueryError(f"unknown query kind {q.kind!r}")


def _longest(lits) -> bytes | None:
    best = None
    for lit in lits:
        if lit and (best is None or len(lit) > len(best)):
            best = lit
    return best


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())
