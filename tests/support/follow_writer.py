"""A writer for follow tests: random inserts, updates and deletes in several small transactions.

    python follow_writer.py PATH FORMAT SEED TXNS
"""

import random
import struct
import sys

import cbor2
from zlmdb import lmdb


def main(path: str, fmt: str, seed: int, txns: int) -> None:
    rng = random.Random(seed)
    env = lmdb.open(path, map_size=64 * 1024 * 1024, lib_version=0 if fmt == "0.9" else 1)
    for _ in range(txns):
        with env.begin(write=True) as txn:
            keys = [k for k, _ in txn.cursor().iternext() if k[:2] == b"\x00\x01"]
            for _ in range(rng.randint(1, 12)):
                op = rng.random()
                if op < 0.4 or not keys:
                    k = struct.pack(">HQ", 1, rng.getrandbits(40))
                    txn.put(k, cbor2.dumps({"n": rng.random(), "pad": "p" * rng.randint(0, 300)}))
                    keys.append(k)
                elif op < 0.75:
                    k = rng.choice(keys)
                    txn.put(k, cbor2.dumps({"n": rng.random(), "updated": True}))
                else:
                    k = rng.choice(keys)
                    txn.delete(k)
                    keys.remove(k)
            # a neighbouring table changes too: its records are not the followed table's
            txn.put(struct.pack(">HQ", 2, rng.getrandbits(40)), b"\xa1an\x01")
    env.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
