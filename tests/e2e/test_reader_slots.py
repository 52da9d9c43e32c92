"""Reader slots against LMDB's own truth: an idle slot (a live process between read transactions)
is not a reader, and the reusable pages are a hand count of the free list below the oldest reader."""

from __future__ import annotations

import copy
import os
import struct

import pytest
from conftest import cli_json, raw_env, sha
from support.procs import Holder, Proc
from zlmdb import lmdb


def _churn(path: str, fmt: str, commits: int) -> None:
    env = raw_env(path, fmt)
    for _ in range(commits):
        with env.begin(write=True) as txn:
            for k in range(300):
                txn.put(struct.pack(">HI", 1, k), os.urandom(120))
    env.close()


def _delete(path: str, fmt: str, lo: int, hi: int) -> None:
    """One commit that frees more pages than it takes: the free list keeps records of several txnids."""
    env = raw_env(path, fmt)
    with env.begin(write=True) as txn:
        for k in range(lo, hi):
            txn.delete(struct.pack(">HI", 1, k))
    env.close()


def _build(path: str, fmt: str) -> None:
    _churn(path, fmt, 10)
    _delete(path, fmt, 0, 100)
    _delete(path, fmt, 100, 200)


def free_list(path: str, fmt: str) -> tuple[int, dict[int, int]]:
    """(last txnid, {txnid: pages}) read through LMDB itself: a cursor on the free DB (dbi 0, keyed
    by the txnid that freed the pages; the value is an ID list whose first word is its length)."""
    env = lmdb.open(path, readonly=True, map_size=0, lib_version=0 if fmt == "0.9" else 1)
    try:
        free = copy.copy(env.open_db())  # the binding opens named DBs only: the main DB's handle, as dbi 0
        free._dbi = 0
        out = {}
        with env.begin() as txn:
            for k, v in txn.cursor(db=free):
                (t,) = struct.unpack("=Q", k)
                (n,) = struct.unpack_from("=Q", v)
                assert len(v) == 8 * (n + 1), (t, len(v), n)  # an ID list, not a guess
                out[t] = n
            return txn.id(), out
    finally:
        env.close()


def test_reusable_pages_equal_a_hand_count_of_the_free_list(tmp_path, fmt):
    """No other reader: pages freed by transactions before the last one are reusable. A reader
    pinning txnid R: only those freed before R; those from R on are pinned. Each case has records
    at and below its bound, so `<=` for `<` (or no bound) gives another figure."""
    path = str(tmp_path / "free")
    _build(path, fmt)
    last, fl = free_list(path, fmt)
    assert last in fl and any(t < last for t in fl), fl
    cap = cli_json(path)["capacity"]
    assert cap["free_pages"] == sum(fl.values())
    assert cap["reusable_pages"] == sum(n for t, n in fl.items() if t < last), (fl, cap)
    assert cap["pinned_pages"] == 0
    with Holder(path, "pin") as h:
        pin = h.info["txnid"]
        _delete(path, fmt, 200, 250)
        _delete(path, fmt, 250, 280)
        last, fl = free_list(path, fmt)
        assert last == pin + 2 and pin in fl and any(t < pin for t in fl), (pin, fl)
        doc = cli_json(path)
        cap = doc["capacity"]
        assert cap["reusable_pages"] == sum(n for t, n in fl.items() if t < pin), (pin, fl, cap)
        assert cap["pinned_pages"] == sum(n for t, n in fl.items() if pin <= t < last), (pin, fl, cap)
        assert cap["pinned_by"]["pid"] == h.pid and cap["pinned_by"]["txnid"] == pin
        assert cap["pinned_by"]["lag"] == last - pin
        (reader,) = [r for r in doc["readers"] if r["pid"] == h.pid]
        assert reader["txnid"] == pin and reader["lag"] == last - pin


def test_an_idle_slot_is_listed_but_is_not_a_reader(tmp_path):
    """py-lmdb keeps its slot between read transactions (txnid `-` in LMDB's list). Read as txnid 0,
    it would lag by the last txnid (a long-reader over the threshold below), pin every page freed
    and leave nothing reusable: none of that may happen. py-lmdb ships LMDB 0.9: the 0.9 format."""
    pytest.importorskip("lmdb", reason="py-lmdb (the lmdb package, a test dependency) is not installed")
    path = str(tmp_path / "idle")
    _build(path, "0.9")
    last, fl = free_list(path, "0.9")
    assert last > 5 and any(t < last for t in fl)  # a txnid-0 reading: lag > 5, nothing reusable
    before = sha(path)
    idle = Proc(path, script="idle_reader_proc.py")
    try:
        assert f"{idle.first['pid']} " in idle.first["readers"]
        assert idle.first["readers"].split()[-1] == "-"  # LMDB lists it idle: the premise of this test
        doc = cli_json(path, "--threshold", "reader_lag_warning_txns=5")
    finally:
        idle.close()
    (slot,) = [r for r in doc["readers"] if r["pid"] == idle.first["pid"]]
    assert slot["txnid"] is None and slot["lag"] is None and slot["alive"] is True and slot["own"] is False
    assert not [w for w in doc["warnings"] if w["id"] == "long-reader"], doc["warnings"]
    cap = doc["capacity"]
    assert cap["pinned_pages"] == 0 and cap["pinned_by"] is None
    assert cap["reusable_pages"] == sum(n for t, n in fl.items() if t < last) > 0, (fl, cap)
    assert sha(path) == before
