"""Per-table list columns, remembered in the TOML config file (a ``[columns]`` table).

The file is written only when the user asks to remember a choice, and only at one place: the
``--config`` file when one was given, else ``$XDG_CONFIG_HOME/zlmdb-inspect/config.toml``
(``~/.config/...`` without XDG_CONFIG_HOME). Only the ``[columns]`` section is rewritten; the
rest of the file (thresholds, keymap, comments) stays byte for byte. No Textual here.
"""

from __future__ import annotations

import json
import os
import tomllib

from zlmdb_inspect.core.options import COLUMNS_SECTION as SECTION
from zlmdb_inspect.core.options import config_path, read_columns

__all__ = ["config_path", "load_columns", "save_columns"]


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
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    try:
        entries = dict(tomllib.loads(text).get(SECTION, {})) if text else {}
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path} is not valid TOML ({e}); not changed") from None
    entries = {k: v for k, v in entries.items() if isinstance(v, list)}
    if columns:
        entries[table] = list(columns)
    else:
        entries.pop(table, None)
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.strip() == f"[{SECTION}]"), None)
    section = _section_text(entries) if entries else ""
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
