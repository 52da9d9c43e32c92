"""Free runs against LMDB itself: probe writes on copies of the database, in both formats.

A value of ``largest_pages`` pages must fit without extending the file, one page more must not
(issue 29 item 2), and the runs' totals add up to ``reusable_pages``.
"""

from __future__ import annotations

import os
import shutil
import struct

import numpy as np
import pytest
from conftest import FORMATS, raw_env, sha
from holes import build_holes
from hypothesis import given, settings
from hypothesis import strategies as st

from zlmdb_inspect.core.model import Capacity
from zlmdb_inspect.storage.freeruns import Merged, histogram, largest_fit
from zlmdb_inspect.storage.inspector import Inspector

PSIZE = 4096
HDR = {"0.9": 16, "1.0": 24}

PATTERNS = {
    "alternate": lambda i: i % 2 == 0,  # 3-page holes between live values: runs of 3 (and a few longer)
    "pairs": lambda i: i % 4 < 2,  # 6-page holes
    "block": lambda i: i < 300,  # one long run at the low end (the write's touches take its first pages)
}


def build(path: str, fmt: str, deleted) -> None:
    """600 values of 3 pages, some deleted, then small commits so the deletes' record is reusable."""
    build_holes(path, fmt, deleted)


def grows(path: str, fmt: str, pages: int, tmp: str) -> bool:
    """Write one value of exactly ``pages`` overflow pages on a copy: does the file's high-water mark move?"""
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    shutil.copy(os.path.join(path, "data.mdb"), tmp)
    env = raw_env(tmp, fmt, map_size=256 << 20)
    try:
        before = env.info()["last_pgno"]
        with env.begin(write=True) as t:
            t.put(struct.pack(">HI", 5, 1_000_000), b"v" * (pages * PSIZE - HDR[fmt]))
        return env.info()["last_pgno"] > before
    finally:
        env.close()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_largest_run_is_what_a_real_write_finds(tmp_path, fmt, pattern):
    path = str(tmp_path / "db")
    build(path, fmt, PATTERNS[pattern])
    before = sha(path)
    with Inspector(path) as ins:
        cap: Capacity = ins.snapshot(remember=False).capacity
    assert sha(path) == before
    runs = cap.free_runs
    assert runs is not None
    largest = runs["largest_pages"]
    assert largest >= 3
    # the runs cover exactly the reusable pages, each bucket a power-of-two range
    assert sum(b["total_pages"] for b in runs["runs"]) == cap.reusable_pages
    for b in runs["runs"]:
        lo, hi = b["pages"]
        assert lo & (lo - 1) == 0 and hi == 2 * lo - 1 and b["runs"] * lo <= b["total_pages"] <= b["runs"] * hi
    assert not grows(path, fmt, largest, str(tmp_path / "fits")), f"{largest} pages should fit"
    assert grows(path, fmt, largest + 1, str(tmp_path / "grows")), f"{largest + 1} pages should extend the file"
    assert sha(path) == before


def test_touches_take_the_lowest_pages_first():
    # one record holding pages 10..19: a write's path (2 touches) takes 10 and 11 first
    import numpy as np

    lists = [np.arange(10, 20, dtype=np.int64)]
    assert largest_fit(lists, 0) == 10
    assert largest_fit(lists, 2) == 8


def test_search_gives_up_after_sixty_records_per_page():
    # 200 records of single scattered pages, then a record with a run of 3: a 3-page search merges
    # at most 3 * 60 records after the first it can search, so it never reaches the run
    import numpy as np

    lists = [np.array([1000 + 2 * i], dtype=np.int64) for i in range(200)] + [np.arange(10, 13, dtype=np.int64)]
    assert largest_fit(lists, 1) == 1
    # with the run within reach, it is found
    assert largest_fit(lists[:100] + lists[200:], 1) == 3


@given(st.lists(st.lists(st.integers(2, 5000), max_size=300), max_size=6))
def test_histogram_counts_each_page_once_in_its_run(lists):
    """Runs over the pages of every list, a page in two lists (or twice in one) counted once."""
    arrays = [np.array(x, dtype=np.int64) for x in lists]
    pages = sorted(set().union(*map(set, lists))) if lists else []
    runs: list[int] = []
    for i, p in enumerate(pages):
        if i and p == pages[i - 1] + 1:
            runs[-1] += 1
        else:
            runs.append(1)
    want = {}
    for r in runs:
        b = r.bit_length() - 1
        n, total = want.get(b, (0, 0))
        want[b] = (n + 1, total + r)
    got = {d["pages"][0].bit_length() - 1: (d["runs"], d["total_pages"]) for d in histogram(arrays)}
    assert got == want


def _reference(lists: list[list[int]], touches: int) -> tuple[int, list[dict]]:
    """The free runs by plain Python over every listing, one at a time: what the sorted-once numpy
    version (``Merged``, the runs reused for the search over every record) must equal."""
    listings = [(p, r) for r, lst in enumerate(lists) for p in lst]  # in the order the lists hold them

    def runs(pages: set[int]) -> list[int]:
        out, prev = [], None
        for p in sorted(pages):
            if prev is not None and p == prev + 1:
                out[-1] += 1
            else:
                out.append(1)
            prev = p
        return out

    hist: dict[int, list[int]] = {}
    for n in runs({p for p, _ in listings}):
        b = n.bit_length() - 1
        hist.setdefault(b, [0, 0])
        hist[b][0] += 1
        hist[b][1] += n
    buckets = [{"pages": [1 << b, (2 << b) - 1], "runs": c, "total_pages": t} for b, (c, t) in sorted(hist.items())]
    taken: set[int] = set()
    loaded = 0
    for _ in range(touches):
        while True:
            cand = [(p, i) for i, (p, r) in enumerate(listings) if r < loaded and i not in taken]
            if cand or loaded >= len(lists):
                break
            loaded += 1
        if not cand:
            return 0, buckets
        taken.add(min(cand)[1])

    def longest(n: int) -> int:
        return max(runs({p for i, (p, r) in enumerate(listings) if r < n and i not in taken}), default=0)

    cum, total = [], 0
    for lst in lists:
        total += len(lst)
        cum.append(total - len(taken))

    def reach(k: int) -> int:
        first = max(loaded, 1)
        enough = [j for j, c in enumerate(cum[first - 1:]) if c >= k]
        return len(lists) if not enough else min(len(lists), first + enough[0] + 60 * k)

    k = longest(len(lists))
    while k > 0:
        got = longest(reach(k))
        if got >= k:
            return k, buckets
        k = got
    return 0, buckets


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(st.sets(st.integers(2, 120), max_size=40), min_size=1, max_size=6),
                 st.lists(st.sets(st.integers(2, 400), max_size=3), min_size=55, max_size=70)),
       st.integers(0, 5))
def test_largest_fit_and_histogram_equal_a_plain_reference(sets, touches):
    """Sorted once and the runs reused (the touches cut out of them) against the plain version,
    on random lists: runs split by a touch, pages listed by two records, empty records, and more
    records than a search for one page reaches (61 after the first it can search)."""
    import numpy as np

    lists = [sorted(s, reverse=True) for s in sets]  # LMDB keeps each record's pages sorted, descending
    arrays = [np.array(lst, dtype=np.int64) for lst in lists]
    want_fit, want_hist = _reference(lists, touches)
    assert largest_fit(arrays, touches) == want_fit
    assert histogram(arrays) == want_hist
    merged = Merged(arrays)
    assert largest_fit(arrays, touches, merged) == want_fit and histogram(arrays, merged) == want_hist


def test_a_run_one_record_beyond_the_search_is_not_found():
    """At the boundary of the shortcut for a search that reaches every record: 122 records of single
    scattered pages, then a record with a run of 2. A 2-page search starts once the list holds 2
    pages (2 records) and merges 2 * 60 more: 122 records, one short of the run."""
    import numpy as np

    singles = [np.array([1000 + 2 * i], dtype=np.int64) for i in range(122)]
    run = [np.array([11, 10], dtype=np.int64)]
    assert largest_fit(singles + run, 0) == 1
    assert largest_fit(singles[:-1] + run, 0) == 2  # one record fewer before it: within reach


def test_histogram_of_runs_longer_than_the_counted_lengths():
    """Runs of 2**16 pages and more are bucketed by their exponent, not counted length by length."""
    import numpy as np

    lists = [np.arange(100_000, 30, -1, dtype=np.int64), np.array([200_000, 200_002], dtype=np.int64)]
    assert histogram(lists) == [{"pages": [1, 1], "runs": 2, "total_pages": 2},
                                {"pages": [65536, 131071], "runs": 1, "total_pages": 100_000 - 30}]
    assert histogram(lists[1:]) == [{"pages": [1, 1], "runs": 2, "total_pages": 2}]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(2, 3000), max_size=60), max_size=8), st.integers(0, 4))
def test_bitmap_and_sort_place_the_pages_alike(lists, touches):
    """Pages placed by a bitmap (files with few pages per listed page) and by a sort (sparse
    lists in huge files) give the same pages, runs and figures, repeated listings included."""
    arrays = [np.array(sorted(x, reverse=True), dtype=np.int32) for x in lists]
    keep = Merged.bitmap_per_page
    try:
        Merged.bitmap_per_page = 10**9  # always the bitmap (it falls back to the sort only for a page listed twice)
        by_bitmap = Merged(arrays)
        Merged.bitmap_per_page = 0  # never
        by_sort = Merged(arrays)
    finally:
        Merged.bitmap_per_page = keep
    assert by_bitmap.pages.tolist() == by_sort.pages.tolist() == sorted(p for x in lists for p in x)
    assert by_bitmap.repeated == by_sort.repeated == (len({p for x in lists for p in x}) < sum(map(len, lists)))
    assert by_bitmap.rec.tolist() == by_sort.rec.tolist()
    assert largest_fit(arrays, touches, by_bitmap) == largest_fit(arrays, touches, by_sort)
    assert histogram(arrays, by_bitmap) == histogram(arrays, by_sort)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sets(st.integers(2, 400), max_size=4), min_size=55, max_size=80), st.integers(0, 5))
def test_a_search_that_stops_early_finds_the_same_with_either_method(sets, touches):
    """The pages of the records a search merges, sorted on their own (``PREFIX_SHARE``), and every
    page masked by its record give the plain reference's figure; the records outnumber what a search
    for one page reaches, so the search stops early."""
    from zlmdb_inspect.storage import freeruns

    lists = [sorted(s, reverse=True) for s in sets]
    arrays = [np.array(lst, dtype=np.int32) for lst in lists]
    want, _ = _reference(lists, touches)
    keep = freeruns.PREFIX_SHARE
    try:
        got = []
        for share in (2.0, -1.0):  # always the prefix (short of every record), never
            freeruns.PREFIX_SHARE = share
            got.append(largest_fit(arrays, touches))
    finally:
        freeruns.PREFIX_SHARE = keep
    assert got == [want, want]


def _free_records_node_by_node(pf, meta) -> list[tuple[int, list[int]]]:
    """Every free-list record (txnid, its page numbers) read one node at a time, in key order."""
    out: list[tuple[int, list[int]]] = []

    def visit(pgno: int) -> None:
        flags, lower, upper, _ = pf.header(pgno, meta.last_pgno, "the free database")
        for i in range(pf.numkeys(pgno, lower, upper)):
            off = pf.node(pgno, i)
            if flags & 0x01:  # branch
                visit(pf.child_pgno(off))
                continue
            value = pf.read_value(pgno, off, meta.last_pgno)
            count = int.from_bytes(value[:8], "little")
            out.append((int.from_bytes(pf.node_key(pgno, off), "little"),
                        np.frombuffer(value, dtype="<u8", count=count, offset=8).tolist()))

    visit(meta.free.root)
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_free_lists_in_one_gather_equal_reading_each_record(tmp_path, fmt):
    """The free lists the walk reads at once equal the records read one node at a time (in txnid
    order, each in LMDB's descending order); the reusable ones are those freed before the oldest
    snapshot, oldest first."""
    from zlmdb_inspect.storage.freeruns import reusable_lists

    path = str(tmp_path / "db")
    build(path, fmt, PATTERNS["alternate"])
    with Inspector(path) as ins:
        snap = ins.snapshot(remember=False)

        def both(txn, pf, meta):
            return ins._last.walk, _free_records_node_by_node(pf, meta), meta

        walk, want, meta = ins.read(both)
    assert len(want) >= 2 and [t for t, _ in want] == walk.free_records[:, 0].tolist()
    assert [len(lst) for _, lst in want] == walk.free_records[:, 1].tolist()
    assert walk.free_lists.tolist() == [p for _, lst in want for p in lst]
    got = reusable_lists(walk, meta.txnid, meta.last_pgno)
    reusable = [lst for t, lst in want if t < meta.txnid]
    assert len(got) == len(reusable) and int(got.counts.sum()) == snap.capacity.reusable_pages
    for i, rec in enumerate(reusable):
        assert got.record(i).tolist() == rec and (np.diff(rec) < 0).all()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_damaged_list_costs_the_free_runs_only_where_it_is_reusable(tmp_path, fmt):
    """A record claiming more pages than its value holds: the walk's figures stand (its count is
    what it says), the free runs are computed while that record is not reusable, and refused
    (PageError, one line) once it is."""
    from zlmdb_inspect.storage.freeruns import free_runs
    from zlmdb_inspect.storage.pageformat import PageError, PageFile
    from zlmdb_inspect.storage.walk import TreeWalker

    path = str(tmp_path / "db")
    build(path, fmt, PATTERNS["alternate"])
    data = os.path.join(path, "data.mdb")

    def walk():
        pf = PageFile(data)
        try:
            meta = pf.current_meta()
            return TreeWalker().walk(pf, meta), meta
        finally:
            pf.close()

    clean, meta = walk()
    pf = PageFile(data)
    try:  # the newest record (freed by the last commit: not reusable) and its inline list's count
        newest = None
        stack = [meta.free.root]
        while stack:
            pgno = stack.pop()
            flags, lower, upper, _ = pf.header(pgno, meta.last_pgno, "the free database")
            for i in range(pf.numkeys(pgno, lower, upper)):
                off = pf.node(pgno, i)
                if flags & 0x01:
                    stack.append(pf.child_pgno(off))
                    continue
                txnid = int.from_bytes(pf.node_key(pgno, off), "little")
                if newest is None or txnid > newest[0]:
                    newest = (txnid, off)
        assert newest is not None
        txnid, off = newest
        dsize, nflags = struct.unpack_from("<HH", pf.buf, off)[0], struct.unpack_from("<H", pf.buf, off + 4)[0]
    finally:
        pf.close()
    assert not nflags & 0x01 and txnid == meta.txnid  # inline; freed by the last commit
    with open(data, "r+b") as f:
        f.seek(off + 16)
        f.write(struct.pack("<Q", dsize // 8))  # one page number more than the value holds
    got, meta = walk()
    assert got.free_pages == clean.free_pages + dsize // 8 - (dsize - 8) // 8
    assert list(got.free_lists_bad) == [txnid]
    assert free_runs(got, meta.txnid, meta.last_pgno, meta.main.depth) == \
        free_runs(clean, meta.txnid, meta.last_pgno, meta.main.depth)
    with pytest.raises(PageError, match=f"record {txnid} lists more pages"):
        free_runs(got, meta.txnid + 1, meta.last_pgno, meta.main.depth)
