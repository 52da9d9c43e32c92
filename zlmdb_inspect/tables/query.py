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

A scan walks the table by key in short read transactions (a time budget each,
resumed by key), never one long transaction, reports progress and can be
cancelled between chunks.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from zlmdb_inspect.core.errors import InspectError
from zlmdb_inspect.core.slots import slot_end, slot_prefix
from zlmdb_inspect.storage.leaves import LeafBatch, LeafWalk
from zlmdb_inspect.storage.pageformat import PageError

if TYPE_CHECKING:
    from zlmdb_inspect.core.model import Table
    from zlmdb_inspect.storage.inspector import Inspector
    from zlmdb_inspect.tables.records import Codec, Record, TableCodecs


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


# -- which tables the raw prefilter is sound for ---------------------------------------

#: Value codecs whose strings are the stored UTF-8 (``cbor``, ``string``) or whose JSON text
#: holds no stored text at all (fixed-size keys as values: UUIDs, OIDs, times, hex).
_VERBATIM_VALUES = {"cbor", "string", "bytes", "empty"}
#: First bytes of values the inspection fallback may decode into text that is not stored as
#: such: zlib (0x78), JSON with escapes ({ [ "), numpy arrays of unicode (0x93).
_FALLBACK_FIRST = frozenset(b"x{[\"\x93")
_FALLBACK_FIRST_LIST = sorted(_FALLBACK_FIRST)
#: CBOR text in chunks: 0x7f, then text chunks (0x60-0x7b) or the break (0xff) right away.
_INDEFINITE_TEXT = re.compile(b"\x7f[\x60-\x7b\xff]")


def raw_prefilter(codec: Codec) -> Callable[[bytes], bool] | None:
    """For tables where it is sound, ``forced(value)``: whether a value must be decoded even
    without the literal (it may decode into text not stored as such). None: decode every record.

    Sound only without the application's decoder (``--import``: ``marshal()`` may build any
    text), without unpickling, and for value codecs that keep strings verbatim. Keys are
    always verbatim or derived: key codecs read strings as UTF-8 and everything else as
    numbers, UUIDs, times or hex, and so does the inspection fallback for keys.
    """
    from zlmdb_inspect.tables import decode

    if codec.klass is not None or codec.allow_pickle or codec.profile is None:
        return None
    vc = codec.profile.value_codec
    if vc is None or not (vc in _VERBATIM_VALUES or decode.key_parts(vc) is not None):
        return None
    indefinite = vc == "cbor"  # CBOR text in chunks (0x7f) is not contiguous in the bytes

    def forced(v: bytes) -> bool:
        return bool(v) and (v[0] in _FALLBACK_FIRST or (indefinite and _INDEFINITE_TEXT.search(v) is not None))

    return forced


# -- scanning --------------------------------------------------------------------------

@dataclass
class Progress:
    scanned: int = 0  # records looked at
    decoded: int = 0  # of those, decoded (candidates of the prefilter)
    matches: int = 0
    elapsed: float = 0.0
    total: int | None = None  # the table's record count, for the ETA
    done: bool = False
    cancelled: bool = False
    last_key: bytes | None = None  # where the scan is (full key)
    chunks: int = 0  # read transactions so far
    longest_txn_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.scanned / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if self.done or not self.total or not self.rate:
            return None
        return max(0.0, (self.total - self.scanned) / self.rate)


@dataclass
class Scan:
    """One query over one table, from ``start`` to ``stop`` (bytes after the slot prefix)."""

    ins: Inspector
    catalog: TableCodecs
    table: Table
    compiled: Compiled
    start: bytes | None = None
    stop: bytes | None = None
    chunk_s: float = 0.03  # a read transaction's time budget
    chunk_max: int = 50_000  # and its most records
    prefilter: bool = True
    pages: bool = True  # read leaf pages (False: LMDB's cursor)
    progress: Progress = field(default_factory=Progress)
    _cancel: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        """Stop at the end of the current chunk (callable from any thread)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def records(self, limit: int | None = None,
                on_progress: Callable[[Progress], None] | None = None) -> Iterator[Record]:
        """Matching records in key order, each chunk's after its transaction ended."""

        codec = self.catalog.profiled(self.ins, self.table)
        prefix = slot_prefix(self.table.slot)
        end = prefix + self.stop if self.stop is not None else (
            slot_end(self.table.slot))
        lit = self.compiled.literal if self.prefilter else None
        forced = raw_prefilter(codec) if lit is not None else None
        if forced is None:
            lit = None
        prog = self.progress
        prog.total = self.table.records
        t0 = time.perf_counter()
        resume = prefix + (self.start or b"")
        first = True
        while not self._cancel.is_set():
            chunk, resume, finished, txn_s = self._chunk(resume, first, end, prefix, lit, forced)
            first = False
            prog.chunks += 1
            prog.longest_txn_s = max(prog.longest_txn_s, txn_s)
            for k, v in chunk:
                prog.decoded += 1
                rec = codec.decode(k, v, None)
                if self.compiled.match({"key": rec.key, "value": rec.value}):
                    prog.matches += 1
                    yield rec
                    if limit is not None and prog.matches >= limit:
                        finished = True
                        break
            prog.last_key = resume
            prog.elapsed = time.perf_counter() - t0
            prog.done = finished
            if on_progress is not None:
                on_progress(prog)
            if finished:
                return
        prog.cancelled = True
        prog.elapsed = time.perf_counter() - t0
        if on_progress is not None:
            on_progress(prog)

    def _chunk(self, resume: bytes, first: bool, end: bytes | None, prefix: bytes, lit: bytes | None,
               forced: Callable[[bytes], bool] | None) -> tuple[list[tuple[bytes, bytes]], bytes, bool, float]:
        """Candidates from one short read transaction: (candidates, last key, finished, seconds)."""
        prog = self.progress
        budget, most = self.chunk_s, self.chunk_max

        def by_cursor(txn) -> tuple[list[tuple[bytes, bytes]], bytes, bool, float]:
            t = time.perf_counter()
            cur = txn.cursor()
            out: list[tuple[bytes, bytes]] = []
            last, n, finished = resume, 0, True
            if cur.set_range(resume):
                for k, v in cur.iternext():
                    if (end is not None and k >= end) or k[:2] != prefix:
                        break
                    if k == resume and not first:
                        continue  # where the previous chunk stopped
                    n += 1
                    last = k
                    if lit is None or lit in k.lower() or lit in v.lower() or forced(v):  # type: ignore[misc]
                        out.append((k, v))
                    if n & 255 == 0 and (n >= most or time.perf_counter() - t > budget):
                        finished = False
                        break
            prog.scanned += n
            return out, last, finished, time.perf_counter() - t

        check_7f = forced is not None and forced(b"\x7f\xff")  # CBOR: values with text in chunks are decoded

        def by_pages(pf, meta) -> tuple[list[tuple[bytes, bytes]], bytes, bool, float]:
            """The same from the leaf pages, many at once: the literal is searched in each page as
            a whole; only the records it hits (and values the prefilter forces) are read."""
            t = time.perf_counter()
            walk = LeafWalk(pf, meta)
            leaves = walk.leaves(resume)
            out: list[tuple[bytes, bytes]] = []
            last, n, finished = resume, 0, True
            at_start = True
            while finished:
                group = []
                for leaf in leaves:
                    if leaf.n:
                        group.append(leaf)
                    if len(group) >= 64:
                        break
                if not group:
                    break
                lb = LeafBatch(walk, group)
                chosen = np.zeros(len(lb.off), dtype=bool)
                if lit is not None:
                    chosen |= lb.big
                    chosen |= np.isin(lb.first_byte, _FALLBACK_FIRST_LIST)
                    if check_7f:
                        pos = lb.byte_positions(0x7F)
                        nxt = pf.np[np.minimum(pos + 1, len(pf.np) - 1)]
                        chosen[lb.nodes_at(pos[((nxt >= 0x60) & (nxt <= 0x7B)) | (nxt == 0xFF)])] = True
                    hits = []
                    for lf in group:
                        base = lf.pgno * pf.page_size
                        low = bytes(pf.buf[base:base + pf.page_size]).lower()
                        p = low.find(lit)
                        while p >= 0:
                            hits.append(base + p)
                            p = low.find(lit, p + 1)
                    chosen[lb.nodes_at(hits)] = True
                else:
                    chosen[:] = True
                for j, lf in enumerate(group):
                    a0 = int(lb.first[j])
                    hi_key = lb.key(a0 + lf.n - 1)
                    if not at_start and (end is None or hi_key < end):  # the whole page is in range
                        n += lf.n
                        last = hi_key
                        for i in np.flatnonzero(chosen[a0:a0 + lf.n]).tolist():
                            k, v = lb.key(a0 + i), lb.value(walk, j, a0 + i)
                            if lit is None or lit in k.lower() or lit in v.lower() or forced(v):  # type: ignore[misc]
                                out.append((k, v))
                    else:
                        for i in range(a0, a0 + lf.n):
                            k = lb.key(i)
                            if k < resume or (k == resume and not first):
                                continue
                            if (end is not None and k >= end) or k[:2] != prefix:
                                prog.scanned += n
                                return out, last, True, time.perf_counter() - t
                            n += 1
                            last = k
                            if chosen[i]:
                                v = lb.value(walk, j, i)
                                if lit is None or lit in k.lower() or lit in v.lower() or forced(v):  # type: ignore[misc]
                                    out.append((k, v))
                    at_start = False
                    if n >= most or time.perf_counter() - t > budget:
                        # the rest of the group is read again by the next chunk
                        finished = False
                        break
            prog.scanned += n
            return out, last, finished, time.perf_counter() - t

        def body(txn, pf, meta):
            if self.pages:
                try:
                    return by_pages(pf, meta)
                except PageError:
                    pass  # damage or an unusual tree: LMDB's cursor reads it (nothing was counted)
            return by_cursor(txn)

        return self.ins.read(body)


def key_range(catalog: TableCodecs, table: Table, q: Query) -> tuple[bytes | None, bytes | None]:
    """``q``'s from/to as key bytes after the slot prefix (the syntax of ``--from``)."""
    try:
        start = catalog.parse_key(table, q.start) if q.start else None
        stop = catalog.parse_key(table, q.stop) if q.stop else None
    except ValueError as e:
        raise QueryError(f"bad key in the range: {e}") from None
    return start, stop


def scan(ins: Inspector, catalog: TableCodecs, table: Table, q: Query, **kw: Any) -> Scan:
    """A :class:`Scan` for ``q`` (compiled, its range parsed)."""
    start, stop = key_range(catalog, table, q)
    return Scan(ins, catalog, table, compile_query(q), start, stop, **kw)
