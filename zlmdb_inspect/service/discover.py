"""Which environments a command line names: a directory without data.mdb stands for those below it.

A Crossbar node keeps several zlmdb databases under one directory (the node's own, one per
management realm, realm stores, cookie stores), so ``zlmdb-inspect /srv/node/.crossbar`` means
all of them. Discovery only lists directories: it never opens or creates anything.
"""

from __future__ import annotations

import os
import stat as stat_mod
from collections.abc import Iterable

from zlmdb_inspect.core.errors import InspectError

MAX_DEPTH = 4  # data.mdb at most this many directories below a PATH


def _is_env(directory: str) -> bool:
    try:
        return stat_mod.S_ISREG(os.stat(os.path.join(directory, "data.mdb")).st_mode)
    except OSError:
        return False


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def environments_below(path: str, max_depth: int = MAX_DEPTH) -> list[str]:
    """Directories under ``path`` (1 to ``max_depth`` levels down) that hold a data.mdb, sorted.

    Symbolic links to directories are followed only when they stay inside ``path``; a directory
    reached twice (through a link) is listed once, under its first path in sorted order.
    Unreadable subdirectories are skipped: they hold nothing we could inspect.
    """
    root = os.path.realpath(path)
    found: list[str] = []
    seen: set[str] = {root}

    def walk(directory: str, depth: int) -> None:
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        for e in entries:
            try:
                if not e.is_dir(follow_symlinks=True):
                    continue
            except OSError:
                continue
            real = os.path.realpath(e.path)
            if e.is_symlink() and not _inside(real, root):
                continue  # never leave the tree the user named
            if real in seen:
                continue
            seen.add(real)
            if _is_env(e.path):
                found.append(e.path)
            if depth < max_depth:
                walk(e.path, depth + 1)

    walk(path, 1)
    return sorted(found)


def expand_paths(paths: Iterable[str], max_depth: int = MAX_DEPTH) -> list[str]:
    """The environments ``paths`` stand for, in the order given (each expansion sorted), once each.

    A PATH that holds data.mdb, or is not a directory at all, is kept as given: opening it gives
    the usual one-line error if it cannot be inspected. A directory with no data.mdb and none
    below it raises :class:`InspectError`.
    """
    out: list[str] = []
    for p in paths:
        if (_is_env(p) or not os.path.isdir(p) or os.path.lexists(os.path.join(p, "data.mdb"))
                or not os.access(p, os.R_OK | os.X_OK)):
            out.append(p)
            continue
        below = environments_below(p, max_depth)
        if not below:
            raise InspectError(f"{p}: no data.mdb in this directory or up to {max_depth} levels below it, "
                               "so no LMDB database here")
        out.extend(below)
    unique: list[str] = []
    seen: set[str] = set()
    for p in out:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique
