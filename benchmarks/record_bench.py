"""A 1 MiB record on the records screen: decoded and shown, and its hex view.

Builds one table holding 1 MiB publications of two shapes (a 1 MiB ``payload`` byte string;
``args`` of 12,000 small maps, ~1 MiB of CBOR) and measures, in the same run:

- zlmdb's own read of the record: ``table[txn, oid]`` and ``marshal()`` (the baseline);
- the inspector's full decode (``Service.read_record(preview=None)``);
- on the records screen (headless, 80x24 and 160x48, after one warm-up open): from ``enter``
  and from the first page's arrival until the detail shows the decoded record (bounded JSON
  preview), with the process's CPU time over that span (all threads: on a loaded machine the
  wall time mostly waits for a core); ``x`` until the hex view (16 bytes a row, Line API) is
  drawn; and jumping to the end of the hex view.

    python benchmarks/record_bench.py
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid

import timing  # benchmarks/timing.py (this directory is on sys.path when run as a script)
import txaio
import zlmdb

txaio.use_asyncio()

MIB = 1024 * 1024


@zlmdb.table("be0c0000-0000-4000-8000-0000000000b1", marshal=lambda o: o, parse=lambda d: d)
class Publications(zlmdb.MapUuidCbor):
    """1 MiB publications"""


def build(path: str) -> dict[str, uuid.UUID]:
    db = zlmdb.Database(dbpath=path, maxsize=256 * MIB, sync=False)
    pubs = db.attach_table(Publications)
    keys = {"payload": uuid.UUID(int=1), "args": uuid.UUID(int=2)}
    with db.begin(write=True) as txn:
        pubs[txn, keys["payload"]] = {"topic": "com.example.big", "timestamp": 1_767_225_600_000_000_000,
                                      "payload": os.urandom(MIB)}
        pubs[txn, keys["args"]] = {"topic": "com.example.many", "timestamp": 1_767_225_601_000_000_000,
                                   "args": [{"i": i, "name": f"item{i:06d}", "v": [i, i * 2, "x" * 40]}
                                            for i in range(12_000)]}
    db.__exit__(None, None, None)
    return keys


def median_ms(fn, n: int = 7) -> float:
    return timing.median_ms(fn, n)


def as_shown(v: object) -> object:
    """zlmdb's value as the inspector's JSON-ready values hold it (README: bytes as ``"hex:…"``),
    written here, not taken from the code under test."""
    if isinstance(v, bytes):
        return "hex:" + v.hex()
    if isinstance(v, dict):
        return {k: as_shown(x) for k, x in v.items()}
    if isinstance(v, list):
        return [as_shown(x) for x in v]
    return v


def zlmdb_read(path: str, key: uuid.UUID) -> tuple[float, dict]:
    """zlmdb's time to read and parse the record, and the record (the truth the decode is checked against)."""
    db = zlmdb.Database(dbpath=path, readonly=True)
    pubs = db.attach_table(Publications)

    def once():
        with db.begin() as txn:
            return pubs[txn, key]  # marshal=lambda o: o: the parsed map is what the application sees

    ms = median_ms(once)
    value = as_shown(once())
    assert isinstance(value, dict), f"the record parsed as {type(value).__name__}, not a map"
    db.__exit__(None, None, None)
    return ms, value


async def screen_times(
    path: str, size: tuple[int, int], shape: str, expected: dict
) -> tuple[tuple[float, ...], tuple[float, float], tuple[float, float]]:
    from textual.widgets import DataTable

    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service
    from zlmdb_inspect.tui.app import create_app
    from zlmdb_inspect.tui.messages import WindowLoaded
    from zlmdb_inspect.tui.screens.records import TableScreen
    from zlmdb_inspect.tui.settle import settle
    from zlmdb_inspect.tui.widgets.hexview import HexView

    first_page: list[tuple[float, float]] = []  # when the measured page arrived (wall, CPU)
    measuring = False

    def hook(msg) -> None:
        if measuring and isinstance(msg, WindowLoaded) and not first_page:
            first_page.append((time.perf_counter(), time.process_time()))

    app = create_app(Service(Options(path=path, imports=["__main__"])), interval=3600)
    app.animation_level = "none"  # scrolling jumps: what is measured is drawing, not an animation
    async with app.run_test(size=size, message_hook=hook) as pilot:
        await settle(pilot)
        app.screen.query_one("#tables-table", DataTable).move_cursor(row=1)
        await pilot.press("enter")  # once before measuring: the first open imports the screen's modules
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        measuring = True
        if shape == "args":  # the second record: open the table at its key
            assert app.last_refresh is not None  # settled: the first refresh arrived
            table = app.last_refresh.snapshot.table_by_slot(1)
            assert table is not None, "slot 1 holds Publications"
            t0 = time.perf_counter()
            app.push_screen(TableScreen(table, start_key=uuid.UUID(int=2).bytes))
        else:
            t0 = time.perf_counter()  # from enter: the first page read, then the record decoded in full
            await pilot.press("enter")
        while not (isinstance(app.screen, TableScreen) and app.screen.is_mounted and app.screen.window is not None):
            await pilot.pause(0.001)  # mounted first: its record list exists once the screen is composed
        paged, cpu0 = first_page[0]
        scr = app.screen
        while scr.detail is None or scr.detail.truncated or scr.detail.value.get("topic", "").split(".")[-1] != (
                "big" if shape == "payload" else "many"):
            await pilot.pause(0.001)
        await pilot.pause(0)  # the frame that draws it
        shown = time.perf_counter() - t0, time.perf_counter() - paged, time.process_time() - cpu0
        timing.check(scr.detail.value == expected, f"{shape}: the record shown differs from zlmdb's")
        t0, cpu0 = time.perf_counter(), time.process_time()
        await pilot.press("x")
        hv = scr.query_one("#hex", HexView)
        while hv.rows == 0 or hv.cached_rows == 0:
            await pilot.pause(0.001)
        hexed = time.perf_counter() - t0, time.process_time() - cpu0
        t0, cpu0 = time.perf_counter(), time.process_time()
        await pilot.press("tab")
        await pilot.press("end")
        while hv.scroll_offset.y < hv.rows - hv.size.height - 1:
            await pilot.pause(0.001)
        await pilot.pause(0)
        scrolled = time.perf_counter() - t0, time.process_time() - cpu0
        timing.check(hv.cached_rows < hv.rows // 50,  # only rows drawn were built
                     f"hex rows built: {hv.cached_rows} of {hv.rows}")
    return shown, hexed, scrolled


def main() -> None:
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service

    with tempfile.TemporaryDirectory() as d:
        keys = build(d)
        reads = {shape: zlmdb_read(d, key) for shape, key in keys.items()}  # before the inspector opens it
        svc = Service(Options(path=d, imports=["__main__"]))
        snap = svc.refresh(live=False).snapshot
        table = next(t for t in snap.tables if t.name and t.name.endswith("Publications"))
        for shape, key in keys.items():
            raw = table.slot.to_bytes(2, "big") + key.bytes
            base, value = reads[shape]
            rec = svc.read_record(table, raw, preview=None)
            timing.check(rec is not None and rec.error is None and not rec.truncated and rec.value == value,
                         f"{shape}: the inspector's full decode differs from zlmdb's record")
            ours = median_ms(lambda raw=raw: svc.read_record(table, raw, preview=None))
            print(f"{shape:8s} zlmdb read+parse {base:7.1f} ms   inspector full decode {ours:7.1f} ms "
                  f"(x{ours / base:.1f})")
        svc.close()
        for size in ((80, 24), (160, 48)):
            for shape in keys:
                shown, hexed, scrolled = asyncio.run(screen_times(d, size, shape, reads[shape][1]))
                print(f"{size[0]}x{size[1]} {shape:8s} decoded and shown {shown[0] * 1000:4.0f} ms from enter, "
                      f"{shown[1] * 1000:4.0f} ms from the first page (CPU {shown[2] * 1000:4.0f} ms)\n"
                      f"        x: hex view {hexed[0] * 1000:4.0f} ms (CPU {hexed[1] * 1000:4.0f} ms)   "
                      f"end of hex {scrolled[0] * 1000:4.0f} ms (CPU {scrolled[1] * 1000:4.0f} ms)")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
