"""prefetch.read_missing: a walk from saved summaries on a cold file reads a batch's pages in
merged requests first (issue 24: a cold repeat run took 1.1-1.5 s of CPU faulting them one by one,
0.7 s with them read first)."""

from __future__ import annotations

import os
import struct
import time

import numpy as np
import pytest
from conftest import drop_cache, raw_env

from zlmdb_inspect.storage.pageformat import PageFile
from zlmdb_inspect.storage.prefetch import read_missing, resident


def _cold_file(tmp_path) -> str:
    path = str(tmp_path / "db")
    env = raw_env(path, "1.0", map_size=64 * 1024 * 1024)
    with env.begin(write=True) as txn:
        for i in range(20000):
            txn.put(struct.pack(">HQ", 1, i), b"v" * 100)
    env.sync(True)
    env.close()
    return os.path.join(path, "data.mdb")


def test_the_pages_not_in_memory_are_read_and_only_once(tmp_path):
    data = _cold_file(tmp_path)
    pf = PageFile(data)  # reads the meta pages, and the kernel reads ahead around them
    try:
        drop_cache(data)
        wanted = np.arange(64, pf.pages_in_file, 7, dtype=np.int64)  # past the meta pages mapped
        before = resident(pf, wanted)
        if before is None or before.any():
            pytest.skip("this file system keeps the file in memory (tmpfs?) or has no mincore")
        assert read_missing(pf, wanted[::-1]) == len(wanted)  # any order: sorted and merged inside
        deadline = time.monotonic() + 10
        while not (have := resident(pf, wanted)).all() and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.01)
        assert have is not None and have.all()
        assert read_missing(pf, wanted) == 0  # all in memory now: nothing read again
    finally:
        pf.close()
