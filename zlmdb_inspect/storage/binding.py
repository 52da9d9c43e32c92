"""zlmdb's vendored LMDB binding (``zlmdb.lmdb``), loaded without the rest of zlmdb where that is safe.

``import zlmdb`` runs its package, which imports its FlatBuffers, PyYAML, txaio and the ORM: ~27 ms of a
one-shot run's CPU (~10 % of a repeat ``--json`` process) that a run reading pages and LMDB's cursor
never uses. The binding itself, ``zlmdb._lmdb_vendor``, imports nothing of zlmdb but its own modules.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from typing import Any

_lock = threading.Lock()


def lmdb() -> Any:
    """``zlmdb.lmdb``: loaded alone in a process with one thread, else (or where it cannot be) with
    zlmdb's package. A later ``import zlmdb`` (an application's module, ``--import``) runs the package
    as usual and finds this same binding in ``sys.modules``: one binding, one set of error classes."""
    with _lock:
        mod = sys.modules.get("zlmdb._lmdb_vendor")
        if mod is not None and "zlmdb" not in sys.modules:  # loaded alone before
            return mod
        # every thread running Python code, those started outside ``threading`` too: no other thread may
        # meet the placeholder package while the binding loads
        if "zlmdb" not in sys.modules and len(sys._current_frames()) == 1:
            mod = _alone()
            if mod is not None:
                return mod
        from zlmdb import lmdb as whole

        return whole


def _alone() -> Any:
    """The binding, imported while a placeholder ``zlmdb`` package stands in (its ``from
    zlmdb._lmdb_vendor import ...`` lines make Python look up the top package); None where it cannot
    be (another layout of zlmdb), with nothing of it left in ``sys.modules``."""
    spec = importlib.util.find_spec("zlmdb")
    if spec is None or not spec.submodule_search_locations:
        return None
    placeholder = types.ModuleType("zlmdb")
    placeholder.__path__ = list(spec.submodule_search_locations)
    sys.modules["zlmdb"] = placeholder
    try:
        import zlmdb._lmdb_vendor as alone
    except Exception:  # noqa: BLE001
        for name in [n for n in sys.modules if n == "zlmdb" or n.startswith("zlmdb.")]:
            del sys.modules[name]
        return None
    finally:
        if sys.modules.get("zlmdb") is placeholder:
            del sys.modules["zlmdb"]
    return alone
