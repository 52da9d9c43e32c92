"""What a compaction returns (issue 29 item 4), against a real compacting copy and a real rewrite in
key order, in both formats."""

from __future__ import annotations

import os
import random
import struct

from conftest import cli_json, raw_env, sha

MiB = 1024 * 1024


def _build(path: str, fmt: str) -> None:
    env = raw_env(path, fmt, map_size=256 * MiB)
    rnd = random.Random(7)
    keys = [struct.pack(">H", 1) + rnd.randbytes(16) for _ in range(20_000)]
    with env.begin(write=True) as txn:
        for k in keys:
            txn.put(k, rnd.randbytes(rnd.randint(40, 300)))
        for i in range(8):
            txn.put(struct.pack(">HI", 2, i), rnd.randbytes(9000))  # overflow pages
    with env.begin(write=True) as txn:
        for k in keys[::3]:  # a third deleted, at random places in key order
            txn.delete(k)
    env.close()


def test_compaction_estimates_match_a_real_copy_and_rewrite(tmp_path, fmt):
    path = str(tmp_path / "db")
    _build(path, fmt)
    before = sha(path)
    est = cli_json(path, "--no-state")["capacity"]["compact"]
    assert sha(path) == before
    env = raw_env(path, fmt, map_size=256 * MiB)
    copy = str(tmp_path / "copy")
    os.makedirs(copy)
    env.copy(copy, compact=True)
    rewrite = raw_env(str(tmp_path / "rewrite"), fmt, map_size=256 * MiB)
    with env.begin() as txn, rewrite.begin(write=True) as out:
        for k, v in txn.cursor():
            out.put(k, v, append=True)
    rewrite.close()
    env.close()
    real_copy = os.path.getsize(os.path.join(copy, "data.mdb"))
    real_rewrite = os.path.getsize(str(tmp_path / "rewrite" / "data.mdb"))
    assert abs(est["copy_bytes"] - real_copy) <= 0.01 * real_copy, (est, real_copy)
    assert abs(est["rewrite_bytes"] - real_rewrite) <= 0.10 * real_rewrite, (est, real_rewrite)
    assert real_rewrite < 0.8 * real_copy  # the case where the rewrite pays: the estimate must tell them apart


def test_free_pages_rule_names_the_compaction_that_pays(tmp_path):
    path = str(tmp_path / "db")
    _build(path, "0.9")
    doc = cli_json(path, "--no-state", "--threshold", "free_pages_warning_bytes=0",
                   "--threshold", "free_pages_warning_pct=1")
    (w,) = [w for w in doc["warnings"] if w["id"] == "free-pages"]
    assert f"copy --compact -e {path} {path}.compact" in w["message"]
    assert "the rewrite pays" in w["message"]
