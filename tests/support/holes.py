"""A free list of holes of known size: 600 values of 3 pages, some deleted, then small commits so
the deletes' free-list record is reusable (free runs as a real write meets them)."""

from __future__ import annotations

import os
import struct

from conftest import raw_env

PSIZE = 4096


def build_holes(path: str, fmt: str, deleted, big_value: bool = False) -> None:
    """``deleted(i)`` says which of the 600 values go; ``big_value``: slot 6 also holds one 13-page value."""
    os.makedirs(path, exist_ok=True)
    env = raw_env(path, fmt, map_size=256 << 20)
    with env.begin(write=True) as t:
        for i in range(600):
            t.put(struct.pack(">HI", 5, i), bytes([i % 256]) * (3 * PSIZE - 200))
        if big_value:
            t.put(struct.pack(">HI", 6, 0), b"B" * (12 * PSIZE))  # slot 6: a 13-page value
    with env.begin(write=True) as t:
        for i in range(600):
            if deleted(i):
                t.delete(struct.pack(">HI", 5, i))
    for _ in range(3):
        with env.begin(write=True) as t:
            t.put(struct.pack(">HI", 9, 0), b"x")
    env.close()
