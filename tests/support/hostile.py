"""A database whose every string is hostile: markup, actions, links, escape sequences, bidi, huge.

Built with raw ``zlmdb.lmdb`` puts in zlmdb's layout (slot 0 metadata as CBOR, keys prefixed by
their slot), so names, descriptions, creators, keys and values can be anything a real writer
could store. ``python tests/hostile.py DIR`` builds one for a look in tmux.
"""

from __future__ import annotations

import os
import struct
import sys
import uuid

import cbor2
from zlmdb import lmdb

# one string of each kind; every one must be shown literally and never drive the screen
MARKUP = "[/i]"
UNBALANCED = "[/]Evil[bold"
ACTION = "[@click=app.quit]Quit[/]"
LINK = "[link=https://evil.example/]click[/link]"
OSC = "\x1b]0;TITLE\x07osc"
CSI = "\x1b[31mred\x1b[0m"
NUL_DEL = "nul\x00del\x7fc1\x85"
BIDI = "abc\u202eevil\u202c"
LONG = "L" * 4999 + "E"
HOSTILE = [MARKUP, UNBALANCED, ACTION, LINK, OSC, CSI, NUL_DEL, BIDI, LONG]

# a directory path a shell user could create (no NUL; its slashes make parent directories)
DIR_NAME = "db [/i][/]Evil[bold [@click=app.quit]\x1b]0;T\x07\u202e"

TABLE_NAMES = [UNBALANCED, ACTION, LINK, OSC + CSI, NUL_DEL + BIDI, MARKUP + LONG]
# keys of the first table, in key order (all begin with a distinct character class)
KEYS = ["[/]-0", "[/i]-1", "[@click=app.quit]-2", "\x1b]0;TITLE\x07-3", "nul\x00del\x7f-4",
        "\u202e-5", "k" * 499 + "6"]  # LMDB keys hold at most 511 bytes
MAX_KEY = 500


def value_for(i: int, s: str) -> dict:
    return {"name": s, "note": HOSTILE[i % len(HOSTILE)], "list": [MARKUP, OSC], "n": i}


def build_hostile_db(path: str, fmt: str = "1.0") -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    env = lmdb.open(path, map_size=16 * 1024 * 1024, lib_version=0 if fmt == "0.9" else 1)
    with env.begin(write=True) as txn:
        for i, name in enumerate(TABLE_NAMES):
            slot = i + 1
            meta = {"oid": str(uuid.UUID(int=0x5E1F_0000_0000_4000_8000_0000_0000_0B00 + slot)),
                    "slot": slot, "name": name, "description": HOSTILE[(i + 1) % len(HOSTILE)] + " " + LONG,
                    "creator": HOSTILE[(i + 2) % len(HOSTILE)]}
            txn.put(b"\0\0" + struct.pack(">H", slot), cbor2.dumps(meta))
            keys = KEYS if slot == 1 else [f"{h[:MAX_KEY]}-{j}" for j, h in enumerate(HOSTILE)]
            for j, k in enumerate(keys):
                txn.put(struct.pack(">H", slot) + k.encode(), cbor2.dumps(value_for(j, k)))
        # a UUID-keyed table and an index on it (hostile string keys -> UUIDs): follow with i
        target, index = len(TABLE_NAMES) + 1, len(TABLE_NAMES) + 2
        for slot, name in ((target, "by uuid " + MARKUP), (index, "idx " + UNBALANCED)):
            meta = {"oid": str(uuid.UUID(int=0x5E1F_0000_0000_4000_8000_0000_0000_0B00 + slot)), "slot": slot,
                    "name": name, "description": ACTION, "creator": OSC}
            txn.put(b"\0\0" + struct.pack(">H", slot), cbor2.dumps(meta))
        for j, h in enumerate(HOSTILE):
            oid = uuid.UUID(int=j + 1).bytes
            txn.put(struct.pack(">H", target) + oid, cbor2.dumps(value_for(j, h)))
            txn.put(struct.pack(">H", index) + f"{h[:MAX_KEY]}-{j}".encode(), oid)
    env.close()


if __name__ == "__main__":
    build_hostile_db(sys.argv[1], *(sys.argv[2:3]))
