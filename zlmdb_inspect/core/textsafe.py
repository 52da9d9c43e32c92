"""Make strings from outside the program (database, paths, /proc) safe to print.

Used by the report modes and, through ``tui/text.py``, by the TUI: control
characters and bidi overrides are shown as escapes, never sent to a terminal.
No Textual or Rich here (report modes must start fast).
"""

from __future__ import annotations

import re

# C0 (tab and newline too: they break columns and lines), DEL, C1, and the Unicode bidi
# controls that reorder what follows them on screen (Trojan Source).
_BEYOND_C0 = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff"
_UNSAFE = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
ELLIPSIS = "…"


def _escape(m: re.Match[str]) -> str:
    c = m.group(0)
    o = ord(c)
    return f"\\x{o:02x}" if o <= 0xFF else f"\\u{o:04x}"


def visible(s: object) -> str:
    """``s`` as text with every control character and bidi override written as an escape."""
    text = s if isinstance(s, str) else str(s)
    return _UNSAFE.sub(_escape, text)


def clip(s: str, width: int | None) -> str:
    """Cut ``s`` to at most ``width`` characters, the last one an ellipsis when cut."""
    if width is None or len(s) <= width:
        return s
    if width <= 0:
        return ""
    return s[: width - 1] + ELLIPSIS


def safe(s: object, width: int | None = None) -> str:
    """:func:`visible`, then :func:`clip`: one call for a line of plain text output."""
    return clip(visible(s), width)


_UNSAFE_IN_JSON = re.compile(f"[\x00-\x09\x0b-\x1f{_BEYOND_C0}]")  # all but the newline


def json_visible(text: str) -> str:
    """JSON text (from ``json.dumps``) with DEL, C1 and bidi controls written as ``\\uXXXX`` escapes.

    ``json.dumps(..., ensure_ascii=False)`` escapes C0 inside strings but passes the rest through;
    a raw newline in its output is layout (indent), so it stays.
    """
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


_WHITESPACE = re.compile(r"[ \t\n\r\f\v]+")
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n")


def prose(s: object, first_paragraph: bool = False) -> str:
    """Prose (a table's description or creator, often a docstring) as one line of text.

    Layout whitespace (newlines, tabs, runs of spaces, a docstring's indentation) is one space,
    so ``"Persisted publications.\\n\\n    Map ..."`` reads as a sentence; any other control
    character is still escaped as :func:`visible` does. ``first_paragraph`` keeps the text before
    the first blank line (a list's cell). Keys and values never go through this: their bytes count.
    """
    text = s if isinstance(s, str) else str(s)
    if first_paragraph:
        text = _PARAGRAPH.split(text.strip("\n\r\t\f\v "), maxsplit=1)[0]
    return visible(_WHITESPACE.sub(" ", text).strip(" "))


def has_unsafe(s: str) -> bool:
    return _UNSAFE.search(s) is not None
