"""What a user types as a key (``j``, search ``from:``/``to:``, ``--from``/``--to``), read by the
table's key layout, so that a prefix pasted from a log lands where it says.

One parser for every door: a UUID part takes hex digits with or without its dashes (a prefix),
a number part a number, a time part any ISO 8601 prefix (``2026``, ``2026-01``,
``2026-01-01T00:10``: the period it names), a composite key its parts in turn ("OID TIME" or
"OID,TIME"); ``hex:`` and ``text:`` force a reading. Input that cannot be a key of the layout is
an error naming the layout with an example, never a silent reading as text bytes.
"""

from __future__ import annotations

import calendar
import re
import struct
import uuid
from dataclasses import dataclass

from zlmdb_inspect.tables.decode import PART_SIZES, VARIABLE_PARTS, key_parts


@dataclass(frozen=True)
class TypedKey:
    """A typed key as a span of key bytes (after the 2-byte slot prefix).

    ``start`` is the first key the input can mean; ``end`` the first key after everything it
    covers (None: no key is after it). ``period`` is set when the input's last part is a prefix
    or a period (a UUID's first digits, ``2026-01``): ``to`` then ends after it, while a key
    typed in full ends the range before itself (from included, to excluded).
    """

    text: str
    start: bytes
    end: bytes | None
    period: bool
    reading: str  # how it was read, for messages: "a uuid prefix", "oid, then a time"

    @property
    def stop(self) -> bytes | None:
        """The exclusive upper bound when the input is used as ``to``."""
        return self.end if self.period else self.start

    def covers(self, key: bytes) -> bool:
        """``key`` (after the slot prefix) is one the input names: equal, or within its prefix/period."""
        return key >= self.start and (self.end is None or key < self.end)


@dataclass(frozen=True)
class KeySeek:
    """Where a typed key lands in a table: ``found`` is the first key at or after its start (None:
    none), ``exact`` whether that key is one the input names (equal, or within its prefix or period).
    A view shows ``message`` when it is not, instead of a next key that looks like the answer."""

    typed: TypedKey
    found: bytes | None
    exact: bool

    @property
    def key(self) -> bytes:
        return self.typed.start

    @property
    def message(self) -> str | None:
        if self.exact:
            return None
        if self.found is None:
            return f"no key {self.typed.text}, and none after it"
        return f"no key {self.typed.text}; showing the next one"


EXAMPLES = {"uuid": "807c1771-f627-4b0f-9a3e-7a5e33d1c3b2, or its first digits: 807c17",
            "oid": "a number: 42", "uint64": "a number: 42", "uint16": "a number: 7", "uint8": "a number: 7",
            "timestamp": "an ISO time or its start: 2026-01-01T00:10, 2026-01, 2026",
            "timestamp-le": "an ISO time: 2026-01-01T00:10:00Z",
            "string": "text: alice", "bytes": "hex digits: 0a1b2c",
            "bytes16": "hex digits: 0a1b2c", "bytes20": "hex digits: 0a1b2c", "bytes32": "hex digits: 0a1b2c"}

_UUID_SHAPE = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
_SEP = re.compile(r"[\s,]+")
_ISO = re.compile(r"(\d{4})(?:-(\d\d)(?:-(\d\d)(?:[T ](\d\d)(?::(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?)?)?)?)?Z?")
_NUMBER = re.compile(r"\d[\d_]*")
_HEX_WORD = re.compile(r"[0-9A-Fa-f-]+")
_ISO_TIME = re.compile(r"\d{4}-\d\d(-\d\d([T ][0-9:.]+)?Z?)?")


def key_parts_of(layout: str | None) -> list[str] | None:
    """The parts of a key layout (None: not known or not a fixed layout)."""
    return key_parts(layout) if layout else None


def describe_layout(parts: list[str]) -> str:
    """The layout in words with an example of each part, for errors."""
    if len(parts) == 1:
        return f"{parts[0]} ({EXAMPLES.get(parts[0], parts[0])})"
    each = "; ".join(f"{p}: {EXAMPLES.get(p, p)}" for p in parts)
    return f"{' + '.join(parts)}, typed part by part as \"{' '.join(p.upper() for p in parts)}\" ({each})"


def after_prefix(prefix: bytes) -> bytes | None:
    """The first byte string after every string starting with ``prefix`` (None: there is none)."""
    p = prefix.rstrip(b"\xff")
    if not p:
        return None
    return p[:-1] + bytes([p[-1] + 1])


def time_period(text: str) -> tuple[int, int] | None:
    """[start, end) in ns since the epoch (UTC) of an ISO 8601 prefix, or None when ``text`` is not one."""
    m = _ISO.fullmatch(text)
    if m is None:
        return None
    y, mo, d, h, mi, s, frac = m.groups()
    year, month, day = int(y), int(mo or 1), int(d or 1)
    try:
        if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
            return None
    except ValueError:
        return None
    hour, minute, sec = int(h or 0), int(mi or 0), int(s or 0)
    if hour > 23 or minute > 59 or sec > 60:
        return None
    days = calendar.timegm((year, month, day, 0, 0, 0)) // 86400
    start = ((days * 24 + hour) * 60 + minute) * 60 + sec
    start_ns = start * 10**9 + (int(frac.ljust(9, "0")) if frac else 0)
    if frac:
        width = 10 ** (9 - len(frac))
    elif s is not None:
        width = 10**9
    elif mi is not None:
        width = 60 * 10**9
    elif h is not None:
        width = 3600 * 10**9
    elif d is not None:
        width = 86400 * 10**9
    elif mo is not None:
        nxt = (year + month // 12, month % 12 + 1)
        width = (calendar.timegm((*nxt, 1, 0, 0, 0)) - calendar.timegm((year, month, 1, 0, 0, 0))) * 10**9
    else:
        width = (calendar.timegm((year + 1, 1, 1, 0, 0, 0)) - calendar.timegm((year, 1, 1, 0, 0, 0))) * 10**9
    return start_ns, start_ns + width


class _NotThis(ValueError):
    """This word is not a value of this part."""


def _uuid_part(word: str) -> tuple[bytes, int]:
    """(bytes, significant hex digits) of a UUID or its first hex digits, dashes where a UUID has them."""
    if "-" in word:
        if len(word) > len(_UUID_SHAPE) or any((c == "-") != (s == "-") for c, s in zip(word, _UUID_SHAPE)):
            try:
                return uuid.UUID(word).bytes, 32
            except ValueError:
                raise _NotThis(word) from None
    digits = word.replace("-", "")
    if not digits or len(digits) > 32 or not re.fullmatch(r"[0-9A-Fa-f]+", digits):
        try:
            return uuid.UUID(word).bytes, 32
        except ValueError:
            raise _NotThis(word) from None
    return bytes.fromhex(digits.ljust(len(digits) + len(digits) % 2, "0")), len(digits)


def _check_time_input(parts: list[str], label: str, text: str) -> None:
    """A time typed as a start or end key of a table whose keys are not ordered by time first (cfxdb's
    Events: an OID, then a little-endian time) would be compared with the first part: an empty or
    wrong answer that looks like a right one. Say what the key is and how to filter by its time."""
    if not _ISO_TIME.fullmatch(text) or parts[0] == "timestamp":  # keys in time order: a time is a key prefix
        return
    layout = ", ".join(parts)
    times = [i for i, p in enumerate(parts) if p.startswith("timestamp")]
    how = (f"; to filter by its time use --where '.key[{times[0]}] >= \"{text}\"' (or search jq:.key[{times[0]}] "
           f">= \"{text}\")" if times and len(parts) > 1 else
           "; to filter by a time field use --where on the value" if not times else
           " (a little-endian time, not in key order)")
    raise ValueError(f"{text!r} is a time, but the keys of {label} are ({layout}), ordered by their "
                     f"{parts[0]} first, so a time cannot start or end a range of them{how}")


def parse_typed(text: str, layout: str | None, label: str = "this table") -> TypedKey:
    """``text`` as a key of ``layout`` (a key codec name such as ``uuid``, ``oid+timestamp-le``;
    None: not known, read by the input's own shape). ValueError names the layout with an example."""
    text = text.strip()
    if text.startswith("hex:"):
        try:
            raw = bytes.fromhex(text[4:])
        except ValueError:
            raise ValueError(f"{text!r}: hex: takes pairs of hex digits (hex:0a1b)") from None
        return TypedKey(text, raw, after_prefix(raw), False, "hex bytes")
    if text.startswith("text:"):
        raw = text[5:].encode("utf-8")
        return TypedKey(text, raw, after_prefix(raw), False, "text")
    if not text:
        raise ValueError("an empty key")
    parts = key_parts(layout) if layout else None
    if parts is None:
        return _by_shape(text)
    _check_time_input(parts, label, text)
    try:
        return _by_layout(text, parts)
    except _NotThis:
        raise ValueError(f"{text!r} cannot be a key of {label}: its keys are {describe_layout(parts)}; "
                         f"hex: or text: forces a reading") from None


def _by_shape(text: str) -> TypedKey:
    """A key of a table whose layout is not known (mixed or empty): what the input looks like."""
    for layout in ("uuid", "oid", "timestamp"):
        try:
            k = _by_layout(text, [layout])
        except _NotThis:
            continue
        if layout != "uuid" or k.reading == "uuid":  # hex digits alone are not taken as a UUID here
            return k
    raw = text.encode("utf-8")
    return TypedKey(text, raw, after_prefix(raw), False, "text")


def _by_layout(text: str, parts: list[str]) -> TypedKey:
    rest = text
    key = b""
    period_end: bytes | None = None
    period = False
    readings: list[str] = []
    for part in parts:
        if not rest:
            break
        if part in VARIABLE_PARTS:  # the rest of the input (a variable part cannot be delimited)
            word, rest = rest, ""
            if part == "string":
                raw = word.encode("utf-8")
                key += raw
                readings.append("text")
            else:
                try:
                    key += bytes.fromhex(word)
                except ValueError:
                    raise _NotThis(word) from None
                readings.append("hex bytes")
            continue
        if part in ("timestamp", "timestamp-le"):
            m = _ISO.match(rest)
            word = m.group(0) if m else ""
            span = time_period(word) if word else None
            if span is None:
                raise _NotThis(rest)
            rest = rest[len(word):]
            if rest and not _SEP.match(rest):
                raise _NotThis(text)
            rest = _SEP.sub("", rest, count=1) if rest else rest
            fmt = ">q" if part == "timestamp" else "<q"
            if part == "timestamp" and not rest:  # the period it names: a range of keys
                period_end, period = key + struct.pack(fmt, span[1]), True
                readings.append("a time")
            else:  # followed by more parts, or little-endian (not in key order): one instant
                readings.append("a time" if part == "timestamp" else "a time (one instant: little-endian)")
            key += struct.pack(fmt, span[0])
            continue
        word, _, rest = _split(rest)
        size = PART_SIZES[part]
        if part in ("uuid", "bytes16", "bytes20", "bytes32"):
            if part == "uuid":
                raw, digits = _uuid_part(word)
            else:
                if not _HEX_WORD.fullmatch(word) or "-" in word or len(word) > 2 * size:
                    raise _NotThis(word)
                raw, digits = bytes.fromhex(word.ljust(len(word) + len(word) % 2, "0")), len(word)
            if digits < 2 * size:
                if rest:  # a prefix must be the last thing typed
                    raise _NotThis(text)
                start = key + raw
                if digits % 2:  # an odd digit: the span of that nibble
                    hi = raw[:-1] + bytes([raw[-1] + 0x10]) if raw[-1] < 0xF0 else None
                    period_end = key + hi if hi is not None else after_prefix(key + raw[:-1])
                else:
                    period_end = after_prefix(start)
                key, period = start, True
                readings.append(f"a {part} prefix")
                break
            key += raw
            readings.append(part)
            continue
        if not _NUMBER.fullmatch(word):
            raise _NotThis(word)
        n = int(word.replace("_", ""))
        if n >= 256 ** size:
            raise _NotThis(word)
        key += n.to_bytes(size, "big")
        readings.append("a number")
    if rest:
        raise _NotThis(text)
    reading = ", then ".join(readings)
    if period:
        return TypedKey(text, key, period_end, True, reading)
    return TypedKey(text, key, after_prefix(key), False, reading)


def _split(rest: str) -> tuple[str, str, str]:
    m = _SEP.search(rest)
    if m is None:
        return rest, "", ""
    return rest[:m.start()], m.group(0), rest[m.end():]
