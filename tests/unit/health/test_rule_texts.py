"""What each rule says, word for word: the message, figure, threshold and subject an operator reads.

In process (mutmut maps a rule to the tests that call it in its own process), on snapshots built
from the model's dataclasses and evaluated as every client's are. The expected texts are written
out from the rules' contract (the README's Warnings), not captured from a run.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from zlmdb_inspect.core.kinds import RuleId, Severity
from zlmdb_inspect.core.model import Capacity, LmdbFigures, Reader, Snapshot, Table
from zlmdb_inspect.core.options import Thresholds
from zlmdb_inspect.health import Finding, RuleInputs, evaluate
from zlmdb_inspect.health.rules import PRACTICE
from zlmdb_inspect.health.timetofull import FULL, GROWING, TimeToFull, clock

TH = Thresholds()
MIB = 1024 * 1024
PAGE = 4096


def _snap(*, fmt: str = "1.0", used_pages: int = 1600, map_size: int = 64 * MIB, tables: list[Table] | None = None,
          readers: list[Reader] | None = None, path: str = "/srv/db", **cap_kw) -> Snapshot:
    """A quiet database (10 % of a 64 MiB map in use) with the figures given."""
    used = used_pages * PAGE
    lm = LmdbFigures(format=fmt, library=fmt, page_size=PAGE, depth=2, branch_pages=1, leaf_pages=10,
                     overflow_pages=0, entries=100, last_pgno=used_pages - 1, last_txnid=5000,
                     max_readers=126, num_readers=len(readers or []), locking=True)
    fields = dict(map_size=map_size, file_size=used, used_bytes=used, headroom_bytes=map_size - used,
                  headroom_pct=round(100.0 * (map_size - used) / map_size, 3), free_pages=0, reusable_pages=0,
                  free_db_pages=0, used_pct=round(100.0 * used / map_size, 3), map_size_meta=map_size,
                  in_use_bytes=used, available_bytes=map_size - used)
    fields.update(cap_kw)
    return Snapshot(path=path, taken_at=0.0, txn_ms=1.0, lmdb=lm, capacity=Capacity(**fields),
                    tables=list(tables or []), databases=[], readers=list(readers or []))


def _found(rule: RuleId, snap: Snapshot, found: RuleInputs | None = None, th: Thresholds = TH) -> list[Finding]:
    return [f for f in evaluate(snap, th, found) if f.id == rule]


# -- map-mismatch: live writers mapping different sizes, or less than the meta page ---------------------

W1 = {"pid": 11, "name": "crossbar", "map_size": 32 * MIB, "writable": True}
W2 = {"pid": 12, "name": None, "map_size": 48 * MIB, "writable": None}
RO = {"pid": 13, "name": "backup", "map_size": 16 * MIB, "writable": False}
SMALL = {"pid": 14, "name": "old", "map_size": 4 * MIB, "writable": True}  # below the data: adopts the meta's


def test_map_mismatch_one_writer_below_the_meta_page():
    snap = _snap(map_size=32 * MIB, map_size_meta=64 * MIB, map_source="writer", maps=[W1, RO, SMALL])
    assert _found(RuleId.MAP_MISMATCH, snap) == [Finding(
        RuleId.MAP_MISMATCH, Severity.WARNING,
        "writer crossbar (pid 11) maps 32.0 MiB; the file's meta page says 64.0 MiB. Writes fail with MapFullError "
        "at 32.0 MiB, not at the meta page's size. Open the environment with the same map_size (maxsize) in "
        "every process that writes, or raise it in the one that maps less (set_mapsize).", PRACTICE["sizing"],
        figure=32 * MIB, threshold=64 * MIB, figure_text="smallest writer map 32.0 MiB",
        threshold_text="meta page 64.0 MiB; every writer the same")]


def test_map_mismatch_two_writers_name_each():
    snap = _snap(map_size=32 * MIB, map_size_meta=64 * MIB, map_source="writer", maps=[W1, W2])
    [f] = _found(RuleId.MAP_MISMATCH, snap)
    assert f.message.startswith(
        "writer crossbar (pid 11) maps 32.0 MiB; the file's meta page says 64.0 MiB. Writers: pid 11 (crossbar) "
        "maps 32.0 MiB; pid 12 (?) maps 48.0 MiB. Writes fail with MapFullError at 32.0 MiB,")


def test_map_mismatch_writers_differ_though_the_smallest_is_the_meta_pages():
    w = dict(W2, map_size=64 * MIB)
    snap = _snap(map_size=32 * MIB, map_size_meta=32 * MIB, map_source="writer", maps=[dict(W1), w])
    [f] = _found(RuleId.MAP_MISMATCH, snap)
    assert f.message.startswith("live writers map different sizes (pid 11 (crossbar) maps 32.0 MiB; pid 12 (?) "
                                "maps 64.0 MiB). Writers: pid 11")


@pytest.mark.parametrize("maps", [[dict(W1, map_size=64 * MIB)], [RO], [SMALL], [dict(W1, map_size=None)], []],
                         ids=["same-as-meta", "read-only", "below-the-data", "unmeasured", "none"])
def test_map_mismatch_silent(maps):
    snap = _snap(map_size=64 * MIB, map_size_meta=64 * MIB, map_source="writer" if maps else "meta", maps=maps)
    assert _found(RuleId.MAP_MISMATCH, snap) == []


def test_map_mismatch_a_writer_at_exactly_the_data_written_counts():
    w = dict(W1, map_size=1600 * PAGE)  # maps exactly the high-water mark: it can write (nothing more)
    snap = _snap(map_size=1600 * PAGE, map_size_meta=64 * MIB, map_source="writer", maps=[w])
    assert [f.figure for f in _found(RuleId.MAP_MISMATCH, snap)] == [1600 * PAGE]


# -- large-values: warning at large_value_warning_bytes, info for a table mostly on overflow pages -------


def _table(**kw) -> Table:
    t = dict(slot=7, oid="u", name="Blobs", description=None, creator=None, records=10, metadata=True)
    t.update(kw)
    return Table(**t)


def test_large_values_warning_at_the_threshold_names_the_largest():
    t = _table(overflow_pages=40, overflow_bytes=150_000, bytes=40 * PAGE * 2, max_value=64 * 1024)
    found = RuleInputs(largest={7: ([("k1", 65536), ("k2", 4096)], True)})
    assert _found(RuleId.LARGE_VALUES, _snap(tables=[t]), found) == [Finding(
        RuleId.LARGE_VALUES, Severity.WARNING,
        "Table Blobs stores values up to 64.0 KiB on 40 overflow pages (146.5 KiB of values, 50% of the table); "
        "the largest: k1 (64.0 KiB), k2 (4.0 KiB) (among the records scanned within its time limit). Every update "
        "copies the whole value and needs that many free pages in a row, so the file grows; store large blobs "
        "outside the database and keep a pointer.", PRACTICE["blobs"], figure=65536, threshold=65536,
        subject="Blobs", figure_text="largest value 64.0 KiB", threshold_text="values of 64.0 KiB or more")]


def test_large_values_info_for_a_table_mostly_on_overflow_pages():
    t = _table(name=None, overflow_pages=1000, overflow_bytes=3_000_000, bytes=2000 * PAGE, max_value=65535)
    assert _found(RuleId.LARGE_VALUES, _snap(tables=[t])) == [Finding(
        RuleId.LARGE_VALUES, Severity.INFO,
        "Table slot 7 keeps 50% of its bytes on overflow pages (values up to 64.0 KiB; each value over about half "
        "a page takes whole pages of its own). Normal for records of a few KiB; consider it when the table grows "
        "large.", PRACTICE["blobs"], figure=50.0, threshold=50.0, subject="slot 7",
        figure_text="50% of the table on overflow pages, largest value 64.0 KiB",
        threshold_text="50% of the table's bytes")]


def test_large_values_info_names_the_largest_without_the_time_limit_note():
    t = _table(overflow_pages=1000, overflow_bytes=3_000_000, bytes=1000 * PAGE, max_value=9000)
    [f] = _found(RuleId.LARGE_VALUES, _snap(tables=[t]), RuleInputs(largest={7: ([("k", 9000)], False)}))
    assert "(values up to 8.8 KiB; each value over about half a page takes whole pages of its own); the " \
           "largest: k (8.8 KiB). Normal" in f.message and f.figure == 100.0


@pytest.mark.parametrize("kw", [
    dict(overflow_pages=0, bytes=PAGE, max_value=1 << 20),  # no overflow pages: nothing to say
    dict(overflow_pages=999, bytes=2000 * PAGE, max_value=65535),  # 49.95 %: below the info share
    dict(overflow_pages=5, bytes=0, max_value=65535),  # no bytes counted: no share
], ids=["no-overflow", "below-share", "no-bytes"])
def test_large_values_silent(kw):
    assert _found(RuleId.LARGE_VALUES, _snap(tables=[_table(**kw)])) == []


# -- the pinner: the reader whose snapshot keeps freed pages from reuse, in map-headroom and free-pages --


PINNED = dict(pinned_pages=1000, pinned_by={"pid": 77, "name": "exporter", "txnid": 4000, "lag": 1000,
                                            "alive": True})


def test_map_headroom_names_the_pinner_when_it_holds_a_quarter_of_the_use():
    snap = _snap(used_pages=13500, used_pct=82.4, in_use_bytes=4000 * PAGE, **PINNED)
    [f] = _found(RuleId.MAP_HEADROOM, snap)
    assert f.message.endswith(
        "reusable free pages). reader pid 77 (exporter) pins 3.9 MiB of freed pages (its snapshot lags 1,000 "
        "transactions). End that read transaction (or restart that process) first; raising map_size only "
        "postpones MapFullError.")
    assert f.severity == Severity.WARNING and f.threshold == 80.0


def test_map_headroom_a_small_pinner_is_not_the_fix():
    snap = _snap(used_pages=13500, used_pct=82.4, in_use_bytes=4001 * 4 * PAGE, **PINNED)  # 1000 < 4001 / 4
    [f] = _found(RuleId.MAP_HEADROOM, snap)
    assert f.message.endswith("reusable free pages). Open the writer with a larger map_size (maxsize) before "
                              "writes fail with MapFullError.")


def test_map_headroom_a_dead_pinner_is_cleared_not_ended():
    pinned = dict(PINNED, pinned_by=dict(PINNED["pinned_by"], name=None, alive=False))
    snap = _snap(used_pages=13500, used_pct=82.4, in_use_bytes=4000 * PAGE, path="/srv/my db", **pinned)
    [f] = _found(RuleId.MAP_HEADROOM, snap)
    assert f.message.endswith(
        "reusable free pages). reader pid 77, a dead process's stale slot pins 3.9 MiB of freed pages (its "
        "snapshot lags 1,000 transactions). Clear that stale slot (`python -m zlmdb._lmdb_vendor readers -e "
        "'/srv/my db' -c`, see stale-reader) first; raising map_size only postpones MapFullError.")


def test_map_headroom_message_figures():
    snap = _snap(used_pages=13500, used_pct=82.4, in_use_bytes=13000 * PAGE, reusable_pages=500,
                 available_bytes=64 * MIB - 13000 * PAGE, map_source="writer",
                 maps=[{"pid": 5, "name": "w", "map_size": 64 * MIB, "writable": True}])
    assert _found(RuleId.MAP_HEADROOM, snap) == [Finding(
        RuleId.MAP_HEADROOM, Severity.WARNING,
        "82.4% of the map is in use (50.8 MiB of 64.0 MiB: writer w (pid 5)); 13.2 MiB available (11.3 MiB above "
        "the high-water mark + 2.0 MiB of reusable free pages). Raise map_size (maxsize) in the writer before "
        "writes fail with MapFullError.", PRACTICE["sizing"], figure=82.4, threshold=80.0,
        figure_text="82.4% of 64.0 MiB in use (13.2 MiB available)", threshold_text="80% in use")]


def test_free_pages_names_the_pinner_of_most_of_them():
    free = 20000
    snap = _snap(used_pages=40000, map_size=1024 * MIB, free_pages=free, reusable_pages=3,
                 pinned_pages=free // 2, pinned_by=dict(PINNED["pinned_by"]))
    assert _found(RuleId.FREE_PAGES, snap) == [Finding(
        RuleId.FREE_PAGES, Severity.WARNING,
        "20,000 pages (50% of the 40,000 used, 78.1 MiB; 3 reusable now) are free but keep the file large. Most "
        "of them cannot be reused: reader pid 77 (exporter) pins 39.1 MiB of freed pages (its snapshot lags 1,000 "
        "transactions). End that read transaction (or restart that process) so the writer reuses them.",
        PRACTICE["backup"], figure=50.0, threshold=30.0, subject="77",
        figure_text="50.0% of used pages free (78.1 MiB)", threshold_text="30% and at least 64.0 MiB")]


def test_free_pages_without_a_pinner_proposes_the_compaction():
    snap = _snap(used_pages=40000, map_size=1024 * MIB, free_pages=20000, reusable_pages=None,
                 pinned_pages=20000 // 2 - 1, pinned_by=dict(PINNED["pinned_by"]), fmt="0.9")
    [f] = _found(RuleId.FREE_PAGES, snap)
    assert f.subject is None
    assert f.message.endswith(
        "(50% of the 40,000 used, 78.1 MiB; ? reusable now) are free but keep the file large. A compacting copy "
        "(`python -m zlmdb._lmdb_vendor copy --compact -e /srv/db /srv/db.compact` (or `mdb_copy -c /srv/db "
        "/srv/db.compact`)) makes a smaller file. The writer reuses the reusable ones.")


@pytest.mark.parametrize("free, pages", [(119999, 400000), (16383, 40000)], ids=["below-pct", "below-bytes"])
def test_free_pages_fire_at_both_thresholds_not_below(free, pages):
    # 119999 of 400000 pages is 29.99975 % (< 30 %); 16383 pages are one page short of 64 MiB
    snap = _snap(used_pages=pages, map_size=4096 * MIB, free_pages=free)
    assert _found(RuleId.FREE_PAGES, snap) == []
    assert _found(RuleId.FREE_PAGES, replace(snap, capacity=replace(snap.capacity, free_pages=free + 1)))


# -- map-headroom when the map is full: less available than one commit needs, whatever the percentage ---


def _full(commit_bytes: int = 0, failing: bool = False, last_commit_at: float | None = None) -> RuleInputs:
    return RuleInputs(time_to_full=TimeToFull(state=FULL, seconds=0.0, commit_bytes=commit_bytes,
                                              writes_failing=failing, last_commit_at=last_commit_at))


FULL_HEAD = "The map is full: less is available than one commit needs (about {}, from the largest commit seen, " \
            "the tree's depth and the largest value). "
OPEN_LARGER = "Open the writer with a larger map_size (maxsize) before writes fail with MapFullError."


@pytest.mark.parametrize("commit_bytes, need", [(3 * MIB, "3.0 MiB"), (0, "1.0 MiB")],
                         ids=["largest-commit", "snapshot-need"])  # 64 MiB map: 1 MiB at least
def test_map_headroom_full_is_critical_at_any_percentage(commit_bytes, need):
    [f] = _found(RuleId.MAP_HEADROOM, _snap(), _full(commit_bytes))  # 1600 of 16384 pages in use
    assert (f.severity, f.figure, f.threshold) == (Severity.CRITICAL, 9.766, TH.map_used_critical_pct)
    assert f.threshold_text == "95% in use"
    assert f.message.endswith("reusable free pages). " + FULL_HEAD.format(need) + OPEN_LARGER)


@pytest.mark.parametrize("at, since", [(1_700_000_000.0, clock(1_700_000_000.0)), (None, "?")])
def test_map_headroom_full_with_failing_writes_says_since_when(at, since):
    [f] = _found(RuleId.MAP_HEADROOM, _snap(), _full(MIB, failing=True, last_commit_at=at))
    assert f.message.endswith(
        FULL_HEAD.format("1.0 MiB") + f"No commit since {since} while the writer lives: its commits most likely "
        "fail with MapFullError since then, and the application may be dropping data. " + OPEN_LARGER)


def test_map_headroom_a_full_disk_is_not_the_maps():
    snap = _snap(limit="disk")
    assert _found(RuleId.MAP_HEADROOM, snap, _full(MIB)) == []  # disk-headroom's
    [f] = _found(RuleId.MAP_HEADROOM, _snap(used_pages=15000, used_pct=91.6, limit="disk"), _full(MIB))
    # graded by its percentage alone: a warning (a full map would be critical)
    assert f.severity == Severity.WARNING and "The map is full" not in f.message


def test_map_headroom_says_what_the_map_alone_allows():
    # the disk allows less (available_bytes); the message and figure say the map's own headroom
    snap = _snap(used_pages=13500, used_pct=82.4, in_use_bytes=13500 * PAGE, available_bytes=MIB, limit="disk",
                 map_available_bytes=64 * MIB - 13500 * PAGE, headroom_bytes=-PAGE)
    [f] = _found(RuleId.MAP_HEADROOM, snap)
    assert f.figure_text == "82.4% of 64.0 MiB in use (11.3 MiB available)"
    assert "); 11.3 MiB available (0 B above the high-water mark + 0 B of reusable free pages)." in f.message


# -- what the pinning reader's own finding says it pins (stale-reader, long-reader) ---------------------


def _pinner(pid: int, pages: int = 1000) -> dict:
    return dict(pinned_pages=pages, pinned_by={"pid": pid, "name": None, "txnid": 4000, "lag": 1000, "alive": True})


STALE_NOTE = " (3.9 MiB of freed pages so far)"  # 1000 pages of 4 KiB
LONG_NOTE = (" (it pins 1,000 freed pages, 3.9 MiB, that the writer cannot reuse while it reads, so the file grows "
             "although records are deleted)")


@pytest.mark.parametrize("pinner, noted", [(_pinner(77), True), (_pinner(78), False), (_pinner(77, 0), False),
                                           ({}, False)], ids=["it", "another", "no-pages", "none"])
def test_a_stale_slot_says_what_it_pins_only_when_it_is_the_pinner(pinner, noted):
    dead = Reader(77, "t", 4000, lag=1000, alive=False)
    [f] = _found(RuleId.STALE_READER, _snap(readers=[dead], **pinner))
    assert f.message.startswith(f"Reader slot of pid 77 holds snapshot 4000, but that process is dead: it holds no "
                                f"liveness lock on lock.mdb. The slot keeps pages freed since then from reuse"
                                f"{STALE_NOTE if noted else ''}, so the file grows.")


@pytest.mark.parametrize("pinner, noted", [(_pinner(77), True), (_pinner(78), False), (_pinner(77, 0), False)],
                         ids=["it", "another", "no-pages"])
def test_a_long_reader_says_what_it_pins_only_when_it_is_the_pinner(pinner, noted):
    r = Reader(77, "t", 4000, lag=TH.reader_lag_warning_txns + 1, alive=True)
    [f] = _found(RuleId.LONG_READER, _snap(readers=[r], **pinner))
    assert f.message == (f"Reader pid 77 lags 1,001 transactions behind. A long read transaction stops LMDB from "
                         f"reusing pages{LONG_NOTE if noted else ', so the file grows'}; keep read transactions short.")


# -- reader-slots: only where the reader table is read (locking) -------------------------------------------


def _slots(n: int, max_readers: int = 100, locking: bool = True) -> Snapshot:
    snap = _snap(readers=[Reader(1000 + i, "t", None) for i in range(n)])
    return replace(snap, lmdb=replace(snap.lmdb, max_readers=max_readers, locking=locking))


def test_reader_slots_message():
    assert _found(RuleId.READER_SLOTS, _slots(90)) == [Finding(
        RuleId.READER_SLOTS, Severity.WARNING, "90 of 100 reader slots are in use; beyond that, new readers fail "
        "with ReadersFullError.", PRACTICE["multiprocess"], figure=90.0, threshold=80.0,
        figure_text="90 of 100 slots (90%)", threshold_text="80% of slots")]


def test_reader_slots_silent_without_the_reader_table():
    assert _found(RuleId.READER_SLOTS, _slots(100, locking=False)) == []  # no lock taken: the table is not ours
    assert _found(RuleId.READER_SLOTS, _slots(100, max_readers=0)) == []  # unknown size: no share to grade


# -- map-eta: growth that a reader's pinned pages make, not new data ------------------------------------


def _growing(pinned: bool) -> RuleInputs:
    return RuleInputs(time_to_full=TimeToFull(state=GROWING, seconds=600.0, window_s=60.0, bytes_per_s=1000.0),
                      history=True, growth_pinned=pinned)


def test_map_eta_growth_a_reader_pins_names_the_reader():
    [f] = _found(RuleId.MAP_ETA, _snap(**PINNED), _growing(True))
    assert f.message.startswith("The map (64.0 MiB, the meta page; no live writer) is full in 10 min")
    assert f.message.endswith(
        ". The growth is pages that a reader keeps from reuse, not new data: reader pid 77 (exporter) pins 3.9 MiB "
        "of freed pages (its snapshot lags 1,000 transactions). End that read transaction (or restart that "
        "process); raising map_size only postpones it.")
    assert (f.severity, f.subject, f.figure) == (Severity.CRITICAL, "77", 600.0)


@pytest.mark.parametrize("pinner, pinned", [(PINNED, False), (dict(PINNED, pinned_pages=0), True), ({}, True)],
                         ids=["growth-not-pinned", "no-pages-pinned", "no-pinner"])
def test_map_eta_other_growth_says_raise_the_map(pinner, pinned):
    [f] = _found(RuleId.MAP_ETA, _snap(**pinner), _growing(pinned))
    assert f.message.endswith(". Raise map_size or find what is writing.")
    assert f.subject is None


def test_map_eta_figures_and_a_dead_pinners_fix():
    dead = dict(PINNED, pinned_by=dict(PINNED["pinned_by"], name=None, alive=False))
    inputs = _growing(True)
    assert inputs.time_to_full is not None
    inputs.time_to_full.seconds = 600.26
    [f] = _found(RuleId.MAP_ETA, _snap(**dead), inputs)
    assert (f.figure, f.figure_text, f.threshold_text) == (600.3, "full in 10 min", "less than 60 min")
    assert f.practice == PRACTICE["mapfull"]
    assert f.message.endswith(
        "reader pid 77, a dead process's stale slot pins 3.9 MiB of freed pages (its snapshot lags 1,000 "
        "transactions). Clear that stale slot (`python -m zlmdb._lmdb_vendor readers -e /srv/db -c`, see "
        "stale-reader); raising map_size only postpones it.")


@pytest.mark.parametrize("state, seconds", [(GROWING, None), (FULL, 0.0)], ids=["growing-no-estimate", "full"])
def test_map_eta_only_counts_down_a_growing_estimate(state, seconds):
    inputs = RuleInputs(time_to_full=TimeToFull(state=state, seconds=seconds), history=True)
    assert _found(RuleId.MAP_ETA, _snap(), inputs) == []


def test_free_pages_silent_without_a_free_list_count():
    assert _found(RuleId.FREE_PAGES, _snap(used_pages=40000, map_size=1024 * MIB, free_pages=None)) == []


def test_free_pages_figure_to_one_decimal_and_a_dead_pinners_fix():
    dead = dict(pinned_pages=10000, pinned_by=dict(PINNED["pinned_by"], name=None, alive=False))
    snap = _snap(used_pages=60001, map_size=4096 * MIB, free_pages=20000, **dead)  # 33.332... % free
    [f] = _found(RuleId.FREE_PAGES, snap)
    assert (f.figure, f.figure_text) == (33.3, "33.3% of used pages free (78.1 MiB)")
    assert f.message.endswith(
        "Most of them cannot be reused: reader pid 77, a dead process's stale slot pins 39.1 MiB of freed pages "
        "(its snapshot lags 1,000 transactions). Clear that stale slot (`python -m zlmdb._lmdb_vendor readers -e "
        "/srv/db -c`, see stale-reader) so the writer reuses them.")
