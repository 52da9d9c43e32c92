"""A writer like Crossbar at the map limit: grows, bursts, pauses, then fills its map and keeps
retrying commits after MapFullError (catching it), alive, until killed."""

import struct
import sys
import time

from zlmdb import lmdb


def main(path: str, fmt: str, map_size: int) -> None:
    env = lmdb.open(path, map_size=map_size, lib_version=0 if fmt == "0.9" else 1, sync=False)
    i = 0

    def commit(n: int, size: int) -> bool:
        nonlocal i
        try:
            with env.begin(write=True) as txn:
                for _ in range(n):
                    txn.put(struct.pack(">HI", 1, i), b"p" * size)
                    i += 1
            return True
        except lmdb.MapFullError:
            return False

    t0 = time.monotonic()
    while time.monotonic() - t0 < 8:  # steady growth, then a burst
        commit(4, 2000)
        time.sleep(0.1)
    print("pause", flush=True)
    time.sleep(12)  # stopped: idle
    print("fill", flush=True)
    while commit(20, 2000):
        time.sleep(0.05)
    print("mapfull", time.time(), flush=True)
    while True:  # like Crossbar: goes on, every commit fails
        commit(20, 2000)
        time.sleep(0.2)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
