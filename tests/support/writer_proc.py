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
    seen: dict[tuple, list[float]] = {}
    open_spans: dict[tuple, list[float]] = {}
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
            # how long one snapshot of the watched pid stays in the reader table, continuously:
            # a span ends at the first sample that no longer shows it
            now = time.monotonic()
            present = set()
            for line in env.readers().splitlines()[1:]:
                parts = line.split()
                if len(parts) == 3 and parts[0] == str(watch_pid) and parts[2].isdigit():
                    present.add((watch_pid, parts[1], int(parts[2])))
            for key in present:
                span = open_spans.setdefault(key, [now, now])
                span[1] = now
            for key in list(open_spans):
                if key not in present:
                    a, b = open_spans.pop(key)
                    seen[(key, a)] = [a, b]
        if not ntxns:
            time.sleep(0.002)
    held = max((b - a for a, b in list(seen.values()) + list(open_spans.values())), default=0.0)
    print(json.dumps({"txns": txns, "map_size": env.info()["map_size"], "grown": grown,
                      "last_txnid": env.info()["last_txnid"], "max_held_s": held,
                      "file_size": os.path.getsize(os.path.join(path, "data.mdb"))}), flush=True)
    env.close()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
