"""storage.leaves.LeafWalk.runs: the leaves a bottom branch page at a time are the leaves one at a time."""

from __future__ import annotations

import random
import struct

import numpy as np
import pytest
from conftest import FORMATS, raw_env

from zlmdb_inspect.storage.inspector import Inspector
from zlmdb_inspect.storage.leaves import LeafWalk


@pytest.mark.parametrize("fmt", FORMATS)
def test_runs_yield_the_leaves_from_any_key(tmp_path, fmt):
    """A three-level tree of random keys (several bottom branch pages): from the first key, keys
    inside, before the first and after the last, the runs concatenated are the leaves in order."""
    rng = random.Random(5)
    keys = sorted({struct.pack(">H", 1 + i % 3) + rng.randbytes(16) for i in range(60_000)})
    env = raw_env(str(tmp_path / "db"), fmt, map_size=256 << 20)
    with env.begin(write=True) as txn:
        for k in rng.sample(keys, len(keys)):
            txn.put(k, rng.randbytes(rng.randint(20, 120)))
    env.close()
    starts = [b"", b"\0", keys[0], keys[1], keys[-1], b"\xff" * 18] + rng.sample(keys, 20)

    def check(txn, pf, meta) -> int:
        assert meta.main.depth >= 3
        walk = LeafWalk(pf, meta)
        bottoms = 0
        for start in starts:
            want = [(lf.pgno, lf.n) for lf in walk.leaves(start)]
            runs = list(walk.runs(start))
            got = [(int(p), int(n)) for pg, ns in runs for p, n in zip(pg, ns)]
            assert got == want, start
            assert all(pg.dtype == np.int64 for pg, _ in runs)
            bottoms = max(bottoms, len(runs))
        return bottoms

    with Inspector(str(tmp_path / "db")) as ins:
        assert ins.read(check) > 10  # many bottom branch pages, each a run
