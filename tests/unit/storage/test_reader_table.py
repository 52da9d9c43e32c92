"""The reader table, as LMDB's reader list prints it, and what each reader pins; the capacity line's words.

Pure functions on hand-made input (LMDB's text, a free list of (txnid, pages) records): each
figure is checked against a hand count.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zlmdb_inspect.core.model import Capacity, Reader
from zlmdb_inspect.storage.inspector import parse_readers, reader_space
from zlmdb_inspect.storage.walk import WalkResult

LIST = """    pid     thread     txnid
   4242 7f00aa000640 105
   4243 7f00aa000700 -
 junk line here
   12x4 7f00aa000800 9
   4244 7f00aa000900 99
   4245 7f00aa000a00 98 extra
"""


def test_parse_readers_reads_pid_thread_and_txnid_and_an_idle_slot_has_none():
    assert parse_readers(LIST) == [Reader(pid=4242, thread="7f00aa000640", txnid=105),
                                   Reader(pid=4243, thread="7f00aa000700", txnid=None),
                                   Reader(pid=4244, thread="7f00aa000900", txnid=99)]


def test_parse_readers_skips_only_the_header():
    assert parse_readers("   1 t 5\n   2 t 6\n") == [Reader(pid=2, thread="t", txnid=6)]
    assert parse_readers("(no active readers)\n") == []


class _Walk(WalkResult):
    def __init__(self, records: list[tuple[int, int]]):  # only the free list matters here
        self.free_records = np.array(records, dtype=np.int64).reshape(-1, 2)


# free-list records (txnid that freed them, pages): freed by txn 90, 100, 101, 104 and 110 (the last commit)
WALK = _Walk([(90, 1), (100, 2), (101, 4), (104, 8), (110, 16)])


def test_reader_space_pins_what_was_freed_since_its_snapshot_and_the_oldest_alone_releases():
    readers = [Reader(1, "a", 101), Reader(2, "b", 100), Reader(3, "c", None), Reader(4, "d", 110),
               Reader(5, "e", 104), Reader(6, "f", 104)]
    reader_space(readers, WALK, txnid=110, psize=10)
    got = [(r.pid, r.pins_bytes, r.releases_bytes) for r in readers]
    assert got == [
        (1, (4 + 8) * 10, 0),  # 101 <= t < 110; ending it releases nothing: the older reader at 100 keeps them
        (2, (2 + 4 + 8) * 10, 2 * 10),  # the oldest: pins 100..109, releases 100 only (101 is read)
        (3, 0, 0),  # idle slot: no snapshot, pins nothing
        (4, 0, 0),  # at the last commit: nothing freed since
        (5, 8 * 10, 0),  # another slot reads 104 too: ending one releases nothing
        (6, 8 * 10, 0),
    ]


def test_reader_space_a_reader_ahead_of_the_commit_pins_nothing():
    r = Reader(1, "a", 111)
    reader_space([r], WALK, txnid=110, psize=10)
    assert (r.pins_bytes, r.releases_bytes) == (0, 0)


def _plain_reader_space(readers: list[Reader], records: list[tuple[int, int]], txnid: int, psize: int) -> list:
    """Reader by reader, summing the records each time: what the sorted-once version must equal."""
    def between(first: int, end: int) -> int:
        return sum(n for t, n in records if first <= t < end)

    out = []
    for i, r in enumerate(readers):
        if r.txnid is None or r.txnid >= txnid:
            out.append((0, 0))
            continue
        nxt = min([txnid] + [o.txnid for j, o in enumerate(readers) if j != i and o.txnid is not None])
        out.append((between(r.txnid, txnid) * psize, between(r.txnid, nxt) * psize if nxt > r.txnid else 0))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(0, 9)), max_size=30),
       st.lists(st.one_of(st.none(), st.integers(1, 45)), max_size=8), st.integers(1, 42))
def test_reader_space_equals_a_plain_count(records, snaps, txnid):
    """Random free lists (repeated txnids too) and reader tables (several slots at the oldest
    snapshot, idle slots, slots at or past the last commit) against a plain count."""
    readers = [Reader(100 + i, "t", s) for i, s in enumerate(snaps)]
    reader_space(readers, _Walk(records), txnid=txnid, psize=4096)
    assert [(r.pins_bytes, r.releases_bytes) for r in readers] == _plain_reader_space(readers, records, txnid, 4096)


MIB = 1024 * 1024


def _cap(**kw) -> Capacity:
    fields = dict(map_size=64 * MIB, file_size=MIB, used_bytes=MIB, headroom_bytes=63 * MIB, headroom_pct=98.4,
                  free_pages=0, reusable_pages=0, free_db_pages=0, used_pct=1.6, map_size_meta=64 * MIB)
    fields.update(kw)
    return Capacity(**fields)


MAPS = [{"pid": 7, "name": "ro", "map_size": 32 * MIB, "writable": False},
        {"pid": 8, "name": "big", "map_size": 128 * MIB, "writable": True},
        {"pid": 9, "name": None, "map_size": 32 * MIB, "writable": None},
        {"pid": 10, "name": "w", "map_size": 32 * MIB, "writable": True}]


@pytest.mark.parametrize("kw, text", [
    (dict(map_source="writer", map_size=32 * MIB, maps=MAPS), "writer ? (pid 9)"),
    (dict(map_source="writer", map_size=32 * MIB, maps=MAPS[3:]), "writer w (pid 10)"),
    (dict(map_source="writer", map_size=16 * MIB, maps=MAPS), "a live writer"),
    (dict(map_source="meta", maps=MAPS), "the meta page; no live writer"),
])
def test_limit_text_names_the_writer_that_maps_the_limit(kw, text):
    assert _cap(**kw).limit_text() == text


def test_mismatch_text_only_for_a_writer_limit_that_differs():
    cap = _cap(map_source="writer", map_size=32 * MIB, maps=MAPS[3:])
    assert cap.mismatch_text() == "writer w (pid 10) maps 32.0 MiB; the file's meta page says 64.0 MiB"
    assert _cap(map_source="writer", maps=MAPS).mismatch_text() is None  # same as the meta page
    assert _cap(map_source="meta", map_size=32 * MIB).mismatch_text() is None


def test_disk_text_only_where_the_disk_is_the_limit():
    fs = {"mount": "/srv", "free_bytes": 10 * MIB, "size_bytes": 100 * MIB}
    assert _cap(limit="disk", filesystem=fs).disk_text() == "the disk — 10.0 MiB free on /srv"
    assert _cap(limit="map", filesystem=fs).disk_text() is None
    assert _cap(limit="disk", filesystem=None).disk_text() is None
