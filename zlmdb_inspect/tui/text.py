"""The one way the TUI shows a string from outside the program: as literal Text.

Textual and Rich read ``[...]`` in plain strings as markup (styles, ``@click``
actions, links) and a string with a control character would drive the
terminal. Every value from the database, a path, /proc or an error message
goes through :func:`literal` (or :func:`join`) and is never interpolated into
a markup string.
"""

from __future__ import annotations

from rich.text import Text

from zlmdb_inspect.core.textsafe import ELLIPSIS, clip, prose, visible

DEFAULT_WIDTH = 200  # one cell or line never holds more than this many characters


def literal(s: object, width: int | None = DEFAULT_WIDTH, style: str = "", keep_end: bool = False) -> Text:
    """``s`` shown literally: escapes for control characters, cut with an ellipsis, no wrapping.

    ``keep_end`` cuts at the start instead (``…/the/end/of/a/path``): a path's end names it.
    """
    text = visible("" if s is None else s)
    if keep_end and width is not None and len(text) > width:
        text = ELLIPSIS + text[len(text) - width + 1:] if width > 0 else ""
    else:
        text = clip(text, width)
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


def prose_text(s: object, width: int | None = DEFAULT_WIDTH, style: str = "", first_paragraph: bool = False) -> Text:
    """A description or creator as literal prose: layout whitespace is one space (``textsafe.prose``)."""
    return Text(clip(prose("" if s is None else s, first_paragraph), width), style=style, no_wrap=True,
                overflow="ellipsis")


def join(*parts: object, width: int | None = DEFAULT_WIDTH) -> Text:
    """Concatenate program text and data: ``(text, style)`` tuples, ``Text`` objects, or plain strings.

    Plain strings and the text of tuples are data (made literal); ``Text`` objects pass unchanged.
    """
    out = Text(no_wrap=True, overflow="ellipsis")
    for p in parts:
        if isinstance(p, Text):
            out.append_text(p)
        elif isinstance(p, tuple):
            out.append_text(literal(p[0], width, p[1]))
        else:
            out.append_text(literal(p, width))
    return out


