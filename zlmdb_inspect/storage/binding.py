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
    """``zlmdb.lmdb``. Loaded alone (a placeholder ``zlmdb`` package stands in while it loads,
    as its ``from zlmdb._lmdb_vendor import ...`` lines make Python look up the top package) only in a
    process with one thread (counting those started outside ``threading`` once they run), where no other import can meet
    the placeholder; a later ``import zlmdb``
    (an application's module, ``--import``) runs zlmdb's package as usual and finds this same binding
    in ``sys.modules``: one binding, one set of error classes."""
    with _lock:
        alone_before = sys.modules.get("zlmdb._lmdb_vendor")
        if alone_before is not None and "zlmdb" not in sys.modules:  # loaded here before
            return alone_before
        if "zlmdb" in sys.modules or threading.active_count() > 1 or len(sys._current_frames()) > 1:
            from zlmdb import lmdb as full

            return full
        spec = importlib.util.find_spec("zlmdb")
        if spec is None or not spec.submodule_search_locations:
            from zlmdb import lmdb as full  # not a package on disk: zlmdb's own error, as before

            return full
        placeholder = types.ModuleType("zlmdb")
        placeholder.__path__ = list(spec.submodule_search_locations)
        sys.modules["zlmdb"] = placeholder
        try:
            import zlmdb._lmdb_vendor as alone
        except Exception:  # noqa: BLE001  another zlmdb layout: the whole package, as before
            for name in [n for n in sys.modules if n == "zlmdb" or n.startswith("zlmdb.")]:
                del sys.modules[name]
            from zlmdb import lmdb as full

            return full
        finally:
            if sys.modules.get("zlmdb") is placeholder:
                del sys.modules["zlmdb"]
        return alone
