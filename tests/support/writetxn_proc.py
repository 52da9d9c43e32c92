"""A writer for the write-lock tests.

``writetxn_proc.py PATH FORMAT hold SECONDS``: opens a write transaction in a worker thread,
puts one record, prints ``{"pid", "tid", "last_txnid"}``, holds it for SECONDS (0: until a line
on stdin), commits, prints ``{"committed": txnid}`` and stays until stdin closes.

``writetxn_proc.py PATH FORMAT busy SECONDS``: back-to-back write transactions of 50 ms each
(one record), so the same thread holds the lock nearly all the time while txnids move.

``writetxn_proc.py PATH FORMAT rate RECORDS_PER_TXN TXNS_PER_S SECONDS``: commits at that pace
into table slot 1 (zlmdb key layout), then prints ``{"txns", "records"}``.

Every mode prints ``{"pid", "tid", ...}`` first and opens with ``sync=False`` so the pace does
not depend on the test machine's disk.
"""

import json
import os
import struct
import sys
import threading
import time

import cbor2
from zlmdb import lmdb


def say(**kw) -> None:
    print(json.dumps(kw), flush=True)


def main(path: str, fmt: str, mode: str, args: list[str]) -> None:
    env = lmdb.open(path, map_size=256 * 1024 * 1024, lib_version=0 if fmt == "0.9" else 1, sync=False)
    with env.begin(write=True) as txn:  # slot 0: zlmdb's metadata record naming slot 1's table
        txn.put(struct.pack(">HH", 0, 1), cbor2.dumps({"oid": "5e1f0000-0000-4000-8000-0000000000aa", "slot": 1,
                                                      "name": "Orders", "description": None, "creator": "test"}))
    if mode == "hold":
        seconds = float(args[0])
        done = threading.Event()

        def hold() -> None:
            txn = env.begin(write=True)
            txn.put(struct.pack(">HQ", 1, 0), b"held")
            say(pid=os.getpid(), tid=threading.get_native_id(), last_txnid=env.info()["last_txnid"])
            if seconds:
                time.sleep(seconds)
            else:
                sys.stdin.readline()
            txn.commit()
            say(committed=env.info()["last_txnid"])
            done.set()

        threading.Thread(target=hold).start()
        done.wait()
    elif mode == "busy":
        end = time.monotonic() + float(args[0])
        say(pid=os.getpid(), tid=threading.get_native_id())
        i = 0
        while time.monotonic() < end:
            with env.begin(write=True) as txn:
                txn.put(struct.pack(">HQ", 1, i), b"busy")
                time.sleep(0.05)
            i += 1
        say(txns=i)
    elif mode == "rate":
        per_txn, per_s, seconds = int(args[0]), float(args[1]), float(args[2])
        say(pid=os.getpid(), tid=threading.get_native_id())
        start = time.monotonic()
        i = txns = 0
        while (now := time.monotonic()) < start + seconds:
            due = start + txns / per_s
            if now < due:
                time.sleep(due - now)
            with env.begin(write=True) as txn:
                for _ in range(per_txn):
                    txn.put(struct.pack(">HQ", 1, i), b"r" * 100)
                    i += 1
            txns += 1
        say(txns=txns, records=i, seconds=time.monotonic() - start)
    sys.stdin.read()
    env.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
