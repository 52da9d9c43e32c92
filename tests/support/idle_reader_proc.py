"""A live process with an idle reader slot: ``idle_reader_proc.py PATH``.

py-lmdb (the ``lmdb`` package, LMDB 0.9) opens with MDB_NOTLS and, when a read transaction
ends, resets it and keeps it for the next one: the slot stays claimed by this pid with txnid
``-`` in LMDB's reader list. Such a process reads nothing now, so it pins no snapshot. Prints
one JSON line (its pid and the reader list it sees) when ready, then stays until stdin closes.
"""

import json
import os
import sys

import lmdb


def main(path: str) -> None:
    env = lmdb.open(path, readonly=True, lock=True, subdir=True)
    with env.begin() as txn:  # begin and end one read transaction: the slot stays, idle
        txn.get(b"\0\0")
    print(json.dumps({"pid": os.getpid(), "readers": env.readers()}), flush=True)
    sys.stdin.read()
    env.close()


if __name__ == "__main__":
    main(sys.argv[1])
