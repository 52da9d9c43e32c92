"""The capacity figures from hand-made inputs: which map limits writes, what is in use, available,
reusable and pinned, and which reader pins; the disk beside the map.

``Inspector._capacity`` and ``_disk`` read only their arguments, the processes mapping the file
(``procmaps``), the volume and lock.mdb's holder: those are stand-ins here, so every figure is
checked against a hand count (the tests on real databases check that the inputs are read right).
"""

from __future__ import annotations

import numpy as np
import pytest

from zlmdb_inspect.core.model import Capacity, Reader
from zlmdb_inspect.storage import lockfile
from zlmdb_inspect.storage.inspector import Inspector
from zlmdb_inspect.storage.pageformat import DbRecord, Meta
from zlmdb_inspect.storage.procmaps import ProcMap
from zlmdb_inspect.storage.walk import WalkResult

MIB = 1024 * 1024
PAGE = 4096
USED = 100 * PAGE  # last_pgno 99: the high-water mark
NO_WRITER_NOTE = ("no live process can write: the next writer's map size decides "
                  "(LMDB maps at least the meta page's size only when opened with map_size=0)")
SMALLEST_NOTE = "the smallest map among live processes that can write; the meta page keeps the largest ever set"


class _Walk(WalkResult):
    def __init__(self, records: list[tuple[int, int]], free_pages: int = 31, free_db_pages: int = 3):
        self.free_records = np.array(records, dtype=np.int64).reshape(-1, 2)
        self.free_pages, self.free_db_pages = free_pages, free_db_pages


# free-list records (txnid that freed them, pages); the last commit is txn 111
WALK = _Walk([(90, 1), (100, 2), (101, 4), (104, 8), (110, 16)])


class _ProcMaps:
    def __init__(self, maps: list[ProcMap]):
        self.maps = maps
        self.asked: set[int] | None = None

    def processes(self, known):
        self.asked = set(known)
        return self.maps


class _Volume:
    def __init__(self, fs: dict | None):
        self.fs = fs

    def figures(self) -> dict | None:
        return self.fs


def _inspector(maps: list[ProcMap] = (), locking: bool = False, fs: dict | None = None) -> Inspector:
    ins = Inspector.__new__(Inspector)  # no environment: _capacity and _disk read only what is set here
    ins._locking, ins.lock_path = locking, "/nonexistent/lock.mdb"
    ins.procmaps = _ProcMaps(list(maps))  # type: ignore[assignment]
    ins.volume = _Volume(fs)  # type: ignore[assignment]
    return ins


def _meta(map_size: int = 64 * MIB, txnid: int = 111, last_pgno: int = 99) -> Meta:
    rec = DbRecord(0, 0, 0, 0, 0, 0, 0)
    return Meta(index=0, txnid=txnid, map_size=map_size, last_pgno=last_pgno, page_size=PAGE, free=rec, main=rec)


@pytest.fixture(autouse=True)
def _names(monkeypatch):
    monkeypatch.setattr(lockfile, "process_name", lambda pid: f"proc{pid}")


# pids from 31: none is 0 or 1, which a wrong default (holder() or 0/1) would add
READERS = [Reader(31, "a", 101), Reader(32, "b", 100), Reader(33, "c", None), Reader(35, "e", 105)]
ALIVE = {31: True, 32: True, 35: False}


def _cap(ins: Inspector, meta: Meta | None = None, walk: WalkResult | None = WALK, readers=READERS,
         alive=ALIVE, info_map_size: int = 32 * MIB) -> Capacity:
    return ins._capacity(meta or _meta(), {"map_size": info_map_size}, PAGE, 5 * MIB, walk, readers, alive)


def test_no_live_writer_the_meta_page_is_the_limit_and_the_oldest_reader_pins():
    cap = _cap(_inspector())
    assert (cap.map_size, cap.map_source, cap.map_note, cap.map_size_meta) == (64 * MIB, "meta", NO_WRITER_NOTE,
                                                                                64 * MIB)
    assert (cap.file_size, cap.used_bytes, cap.headroom_bytes) == (5 * MIB, USED, 64 * MIB - USED)
    assert (cap.free_pages, cap.free_db_pages) == (31, 3)
    # the oldest snapshot read is 100: only what txn 90 freed is reusable (1 page)
    assert cap.reusable_pages == 1
    assert cap.in_use_bytes == USED - PAGE
    assert cap.available_bytes == 64 * MIB - USED + PAGE
    assert cap.headroom_pct == 99.39  # 100 * (64 MiB - 400 KiB) / 64 MiB, to 3 places
    assert cap.used_pct == 0.604  # 100 * (400 KiB - 4 KiB) / 64 MiB, to 3 places
    # reader 32 at 100 is the oldest: it keeps what 100..110 freed (2 + 4 + 8 + 16 pages) from reuse
    assert cap.pinned_pages == 30
    assert cap.pinned_by == {"pid": 32, "thread": "b", "txnid": 100, "lag": 11, "alive": True, "name": "proc32"}
    assert cap.last_commit_freed_pages == 16  # the newest free-list record's (txn 110)
    assert cap.maps == []


def test_a_dead_oldest_reader_pins_without_a_name():
    readers = [Reader(2, "b", 100), Reader(1, "a", 104)]
    cap = _cap(_inspector(), readers=readers, alive={2: False, 1: True})
    assert cap.pinned_pages == 2 + 4 + 8 + 16
    assert cap.pinned_by == {"pid": 2, "thread": "b", "txnid": 100, "lag": 11, "alive": False, "name": None}


def test_readers_at_the_last_commit_pin_nothing():
    cap = _cap(_inspector(), readers=[Reader(1, "a", 111), Reader(2, "b", None)], alive={1: True})
    # the oldest snapshot is the last commit's: everything freed before 111 is reusable
    assert cap.reusable_pages == 31
    assert (cap.pinned_pages, cap.pinned_by) == (0, None)
    assert cap.available_bytes == 64 * MIB - USED + 31 * PAGE
    assert cap.in_use_bytes == USED - 31 * PAGE


def test_a_reader_whose_snapshot_pins_no_freed_page_is_not_named():
    walk = _Walk([(90, 1)])  # nothing freed since the reader's snapshot 100
    cap = _cap(_inspector(), walk=walk, readers=[Reader(2, "b", 100)], alive={2: True})
    assert (cap.reusable_pages, cap.pinned_pages, cap.pinned_by) == (1, 0, None)
    assert cap.last_commit_freed_pages == 1


def test_without_a_page_walk_nothing_is_counted_as_reusable_or_pinned():
    cap = _cap(_inspector(), walk=None)
    assert (cap.free_pages, cap.reusable_pages, cap.free_db_pages) == (None, None, None)
    assert (cap.pinned_pages, cap.pinned_by, cap.last_commit_freed_pages) == (None, None, None)
    assert (cap.in_use_bytes, cap.available_bytes) == (USED, 64 * MIB - USED)


def test_an_empty_free_list_has_no_last_commit_figure():
    cap = _cap(_inspector(), walk=_Walk([], free_pages=0, free_db_pages=0))
    assert (cap.reusable_pages, cap.pinned_pages, cap.last_commit_freed_pages) == (0, 0, None)


def test_the_smallest_live_writer_map_is_the_limit():
    maps = [ProcMap(7, "ro", 32 * MIB, writable=False),  # read-only: never limits writes
            ProcMap(8, "big", 128 * MIB, writable=True),
            ProcMap(9, None, 48 * MIB, writable=None),  # could not tell: it may write
            ProcMap(10, "stale", USED - PAGE, writable=True),  # maps less than the data: adopts the meta's
            ProcMap(11, "gone", None, reason="no access")]
    ins = _inspector(maps)
    cap = _cap(ins)
    assert (cap.map_size, cap.map_source, cap.map_size_meta) == (48 * MIB, "writer", 64 * MIB)
    assert cap.map_note == (SMALLEST_NOTE + "; not measured here (see maps[].reason): pid 11; "
                            "their maps may be smaller")
    assert cap.headroom_bytes == 48 * MIB - USED
    assert cap.available_bytes == 48 * MIB - USED + PAGE
    assert (cap.headroom_pct, cap.used_pct) == (99.186, 0.806)
    assert [m["pid"] for m in cap.maps] == [7, 8, 9, 10, 11]
    assert cap.maps[0] == {"pid": 7, "name": "ro", "map_size": 32 * MIB, "writable": False, "reason": None}
    assert ins.procmaps.asked == {31, 32}  # the live readers' processes; the dead one's (35) is not asked


def test_a_writer_at_exactly_the_data_written_is_the_limit():
    cap = _cap(_inspector([ProcMap(10, "w", USED, writable=True)]))
    assert (cap.map_size, cap.map_source, cap.headroom_bytes, cap.headroom_pct) == (USED, "writer", 0, 0.0)
    assert cap.available_bytes == PAGE  # the reusable page only


def test_a_writer_mapping_the_meta_pages_size_has_no_note():
    cap = _cap(_inspector([ProcMap(8, "w", 64 * MIB, writable=True)]))
    assert (cap.map_size, cap.map_source, cap.map_note) == (64 * MIB, "writer", None)


def test_unmeasured_maps_alone_are_noted_after_no_writer():
    cap = _cap(_inspector([ProcMap(11, "a", None, reason="x"), ProcMap(12, "b", None, reason="y")]))
    assert cap.map_source == "meta"
    assert cap.map_note == NO_WRITER_NOTE + "; not measured here (see maps[].reason): pid 11, 12; " \
                                            "their maps may be smaller"


def test_the_meta_page_unset_falls_back_to_the_environments_map_size():
    cap = _cap(_inspector(), meta=_meta(map_size=0), info_map_size=32 * MIB)
    assert (cap.map_size, cap.map_size_meta) == (32 * MIB, 32 * MIB)


def test_the_limit_is_never_less_than_the_data_written():
    cap = _cap(_inspector(), meta=_meta(map_size=USED // 2))
    assert (cap.map_size, cap.map_size_meta, cap.headroom_bytes) == (USED, USED // 2, 0)
    assert cap.used_pct == round(100.0 * (USED - PAGE) / USED, 3) == 99.0


def test_the_lock_holder_is_asked_about_when_locking(monkeypatch):
    monkeypatch.setattr(lockfile, "holder", lambda path: 4242)
    ins = _inspector(locking=True)
    _cap(ins)
    assert ins.procmaps.asked == {31, 32, 4242}
    monkeypatch.setattr(lockfile, "holder", lambda path: None)  # none known (or unknown: 0) is not a pid
    _cap(ins)
    assert ins.procmaps.asked == {31, 32}
    ins = _inspector(locking=False)
    monkeypatch.setattr(lockfile, "holder", lambda path: 4242)
    _cap(ins)
    assert ins.procmaps.asked == {31, 32}  # without our own lock, holder() is not asked


# -- the disk beside the map ---------------------------------------------------------------------------

FS = {"mount": "/srv", "size_bytes": 100 * MIB, "free_bytes": 10 * MIB, "file_allocated_bytes": USED + 2 * PAGE}


def _disk(fs: dict | None, available: int, reusable: int | None = 3) -> Capacity:
    cap = Capacity(map_size=64 * MIB, file_size=USED, used_bytes=USED, headroom_bytes=64 * MIB - USED,
                   headroom_pct=0.0, free_pages=5, reusable_pages=reusable, free_db_pages=0, used_pct=0.0,
                   available_bytes=available)
    _inspector(fs=fs)._disk(cap, PAGE, {"largest_pages": 2})
    return cap


def test_the_disk_is_the_limit_when_it_allows_less():
    # free 10 MiB + 3 reusable pages + 2 pages allocated above the high-water mark
    disk = 10 * MIB + 3 * PAGE + 2 * PAGE
    cap = _disk(FS, available=disk + 1)
    assert (cap.limit, cap.available_bytes, cap.map_available_bytes) == ("disk", disk, disk + 1)
    assert (cap.disk_available_bytes, cap.filesystem, cap.free_runs) == (disk, FS, {"largest_pages": 2})


def test_the_map_stays_the_limit_when_the_disk_allows_as_much():
    disk = 10 * MIB + 5 * PAGE
    cap = _disk(FS, available=disk)
    assert (cap.limit, cap.available_bytes, cap.map_available_bytes, cap.disk_available_bytes) == (
        "map", disk, disk, disk)
    cap = _disk(FS, available=disk, reusable=None)  # no page walk: no reusable pages to add
    assert (cap.limit, cap.disk_available_bytes) == ("disk", disk - 3 * PAGE)


def test_no_volume_figures_leave_the_map_the_limit():
    cap = _disk(None, available=1)
    assert (cap.limit, cap.available_bytes, cap.map_available_bytes) == ("map", 1, 1)
    assert (cap.filesystem, cap.disk_available_bytes, cap.free_runs) == (None, None, {"largest_pages": 2})


def test_a_reader_of_the_empty_environments_snapshot_is_the_oldest():
    # txnid 0: a reader that began before the first commit; it keeps everything freed since from reuse
    readers = [Reader(42, "y", 1), Reader(41, "z", 0)]
    cap = _cap(_inspector(), readers=readers, alive={41: True, 42: True})
    assert (cap.reusable_pages, cap.pinned_pages) == (0, 31)
    assert cap.pinned_by == {"pid": 41, "thread": "z", "txnid": 0, "lag": 111, "alive": True, "name": "proc41"}


def test_unmeasured_maps_beside_a_writer_at_the_meta_pages_size_are_the_only_note():
    cap = _cap(_inspector([ProcMap(8, "w", 64 * MIB, writable=True), ProcMap(11, "a", None, reason="x")]))
    assert (cap.map_size, cap.map_source) == (64 * MIB, "writer")
    assert cap.map_note == "not measured here (see maps[].reason): pid 11; their maps may be smaller"
