"""Count records per slot through LMDB's cursor, as zlmdb's own count does.

Run as ``python -m zlmdb_inspect.storage.cursor_count DIR LOCK`` by the inspector when
the page walk cannot be used: a damaged tree can crash LMDB, and in a child
process that crash is a finding rather than the end of the inspector.
"""

from __future__ import annotations

import json
import sys


def cursor_counts(txn) -> dict[int, int]:
    counts: dict[int, int] = {}
    for key in txn.cursor().iternext(values=False):
        slot = (key[0] << 8 | key[1]) if len(key) >= 2 else -1
        counts[slot] = counts.get(slot, 0) + 1
    return counts


def main(argv: list[str]) -> int:
    from zlmdb_inspect.storage import binding

    lmdb = binding.lmdb()
    path, lock = argv[0], argv[1] == "1"
    env = lmdb.open(path, readonly=True, map_size=0, create=False, lock=lock)
    with env.begin() as txn:
        counts = cursor_counts(txn)
    env.close()
    json.dump({str(k): v for k, v in counts.items()}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
