"""Per-table list columns and the theme, remembered in the TOML config file (``[columns]``, ``[tui]``).

The file is written only when the user asks to remember a choice, and only at one place: the
``--config`` file when one was given, else ``$XDG_CONFIG_HOME/zlmdb-inspect/config.toml``
(``~/.config/...`` without XDG_CONFIG_HOME). Only the ``[columns]`` section is rewritten; the
rest of the file (thresholds, keymap, comments) stays byte for byte. No Textual here.
The theme is written when the user picks one (the palette's Theme), and read when the app starts.
"""

from __future__ import annotations

import json
import os
import tomllib

from zlmdb_inspect.core.options import COLUMNS_SECTION as SECTION
from zlmdb_inspect.core.options import config_path, read_columns

__all__ = ["config_path", "load_columns", "load_theme", "save_columns", "save_theme"]

TUI_SECTION = "tui"


def load_columns(path: str, table: str) -> list[str] | None:
    """The remembered columns of ``table``, or None (no file, no entry, unreadable file)."""
    try:
        with open(path, "rb") as f:
            return read_columns(tomllib.load(f)).get(table)
    except (OSError, tomllib.TOMLDecodeError):
        return None


def _section_text(entries: dict[str, list[str]]) -> str:
    # JSON strings are valid TOML basic strings (ensure_ascii: only \\uXXXX escapes)
    lines = [f"[{SECTION}]"]
    for name, cols in sorted(entries.items()):
        lines.append(f"{json.dumps(name)} = [{', '.join(json.dumps(c) for c in cols)}]")
    return "\n".join(lines) + "\n"


def save_columns(path: str, table: str, columns: list[str]) -> None:
    """Remember ``columns`` for ``table`` in ``path`` (created with its directory if missing).

    Raises OSError or ValueError with a message fit for the status line.
    """
    text, entries = _read_section(path, SECTION)
    entries = {k: v for k, v in entries.items() if isinstance(v, list)}
    if columns:
        entries[table] = list(columns)
    else:
        entries.pop(table, None)
    _write_section(path, text, SECTION, _section_text(entries) if entries else "")


def load_theme(path: str) -> str | None:
    """The theme remembered in ``[tui]`` (None: none, or the file is missing or unreadable)."""
    try:
        with open(path, "rb") as f:
            theme = tomllib.load(f).get(TUI_SECTION, {}).get("theme")
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        return None
    return theme if isinstance(theme, str) else None


def save_theme(path: str, theme: str) -> None:
    """Remember ``theme`` in ``path``'s ``[tui]`` table (its other keys kept). Raises OSError or
    ValueError with a message fit for the status line."""
    text, section = _read_section(path, TUI_SECTION)
    section["theme"] = theme
    body = "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in section.items())
    _write_section(path, text, TUI_SECTION, f"[{TUI_SECTION}]\n{body}")


def _read_section(path: str, section: str) -> tuple[str, dict]:
    """The config file's text ("" when missing) and its ``section`` table, to be rewritten; ValueError with
    a message fit for the status line when the file is not TOML (it is then left as it is)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    try:
        table = tomllib.loads(text).get(section, {}) if text else {}
        return text, dict(table)
    except (tomllib.TOMLDecodeError, TypeError, ValueError) as e:
        raise ValueError(f"{path} is not valid TOML ({e}); not changed") from None


def _toml_value(v: object) -> str:
    """A value read from ``[tui]`` written back as it was (strings, numbers, booleans, lists of them)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(v) if isinstance(v, str | int | float) else json.dumps(str(v))


def _write_section(path: str, text: str, name: str, section: str) -> None:
    """``text`` with its ``[name]`` table replaced by ``section`` (appended if missing, dropped if
    empty), written to ``path`` through a temporary file; a result that would not load is never written."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.strip() == f"[{name}]"), None)
    if start is None:
        sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        new = text + (sep + section if section else "")
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
        tail = "".join(lines[end:])
        new = "".join(lines[:start]) + section + ("\n" + tail if tail and section else tail)
    tomllib.loads(new)  # never write a file that would not load
    real = os.path.realpath(path)  # a symlinked config stays a symlink
    os.makedirs(os.path.dirname(real), exist_ok=True)
    tmp = f"{real}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(new)
    os.replace(tmp, real)
