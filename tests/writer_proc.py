"""A live writer for the tests: many small commits, doubling its map when full.

Prints one JSON line at the end: what it did and what it saw of other readers.
"""

import json
import os
import struct
import sys
import time

from zlmdb import lmdb


def main(path: str, seconds: float, fmt: str, watch_pid: int, map_size: int, ntxns: int) -> None:
    env = lmdb.open(path, map_size=map_size, lib_version=0 if fmt == "0.9" else 1)
    seen: dict[tuple[int, int], list[float]] = {}
    end = time.monotonic() + seconds
    txns = grown = 0
    i = 0
    while (ntxns and txns < ntxns) or (not ntxns and time.monotonic() < end):
        try:
            with env.begin(write=True) as txn:
                for _ in range(10):
                    txn.put(struct.pack(">HQ", 1 + (i % 3), i), b"x" * 180)
                    i += 1
            txns += 1
        except lmdb.MapFullError:
            map_size *= 2
            env.set_mapsize(map_size)
            grown += 1
            continue
        if watch_pid and txns % 5 == 0:
            now = time.monotonic()
            for line in env.readers().splitlines()[1:]:
                parts = line.split()
                if len(parts) == 3 and parts[0] == str(watch_pid) and parts[2].isdigit():
                    span = seen.setdefault((watch_pid, int(parts[2])), [now, now])
                    span[1] = now
        if not ntxns:
            time.sleep(0.002)
    held = max((b - a for a, b in seen.values()), default=0.0)
    print(json.dumps({"txns": txns, "map_size": env.info()["map_size"], "grown": grown,
                      "last_txnid": env.info()["last_txnid"], "max_held_s": held,
                      "file_size": os.path.getsize(os.path.join(path, "data.mdb"))}), flush=True)
    env.close()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
