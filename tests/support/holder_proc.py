"""A process that keeps an environment open for the capacity tests.

``holder_proc.py PATH MODE MAP_SIZE [N]``: MODE is ``write`` (opens writable and writes N
records), ``writemap`` (the same with MDB_WRITEMAP), ``read`` (read-only, map_size=0) or
``pin`` (read-only, holding one read transaction: its snapshot pins what writers free later).
Prints one JSON line when ready, then stays until its stdin closes.
"""

import json
import struct
import sys

from zlmdb import lmdb


def main(path: str, mode: str, map_size: int, n: int) -> None:
    if mode in ("read", "pin"):
        env = lmdb.open(path, readonly=True, map_size=0)
    else:
        env = lmdb.open(path, map_size=map_size, writemap=mode == "writemap")
        with env.begin(write=True) as txn:
            for i in range(n):
                txn.put(struct.pack(">HQ", 1, i), b"w" * 200)
    pinned = env.begin() if mode == "pin" else None
    print(json.dumps({"map_size": env.info()["map_size"], "txnid": pinned.id() if pinned else None}), flush=True)
    sys.stdin.read()
    if pinned:
        pinned.abort()
    env.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 0)
