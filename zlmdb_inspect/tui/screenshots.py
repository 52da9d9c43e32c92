"""Write an SVG (and PNG, with rsvg-convert) of every screen into screenshots/.

    python -m zlmdb_inspect.tui.screenshots [OUTDIR]

Builds the demo database, drives the app headlessly at 120x40, and captures the
overview, the Growth view, a table's records, a record's detail, the warnings, live monitoring
after some writes, the readers, a table's changes followed live, a search and a
table's shape; then the Databases screen over a node's databases.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile

SIZE = (120, 40)
HOLD_SNAPSHOT = ("import sys, time; from zlmdb import lmdb; e = lmdb.open(sys.argv[1], readonly=True, map_size=0); "
                 "t = e.begin(); print('ready', flush=True); time.sleep(60)")


async def capture(path: str, outdir: str) -> list[str]:
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service import Service
    from zlmdb_inspect.tui.app import create_app
    from zlmdb_inspect.tui.settle import settle

    written = []
    app = create_app(Service(Options(path=path, interval=1.0)), clock_fn=lambda t: "12:00:00")

    def shot(name: str) -> None:
        f = os.path.join(outdir, f"{name}.svg")
        app.save_screenshot(f)
        written.append(f)

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shot("overview")
        await pilot.press("g")  # growth by the records' own time: the demo's users and audit records span 60 days
        await settle(pilot)
        shot("growth")
        await pilot.press("escape")
        await settle(pilot)
        from textual.widgets import DataTable

        app.screen.query_one("#tables-table", DataTable).move_cursor(row=4)
        await pilot.press("enter")
        await settle(pilot)
        shot("table-records")
        await pilot.press("down", "down")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        shot("record-detail-hex")
        await pilot.press("x", "escape")
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        shot("warnings")
        # a reader that keeps its snapshot while the writer commits: it shows up lagging
        reader = subprocess.Popen([sys.executable, "-c", HOLD_SNAPSHOT, path], stdout=subprocess.PIPE, text=True)
        assert reader.stdout is not None
        reader.stdout.readline()
        writer = subprocess.Popen([sys.executable, "-m", "zlmdb_inspect", "--demo", path, "--write-for", "6"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await pilot.press("4")
        for _ in range(6):  # let refreshes (every second) see the writer
            await pilot.pause(1.0)
        await settle(pilot)
        shot("live")
        await pilot.press("3")
        await settle(pilot)
        shot("readers")
        writer.wait()
        reader.kill()
        reader.wait()
        # a time-ordered table: its changes followed live (f), a search (/), its shape (h)
        await pilot.press("1")
        await settle(pilot)
        tables = app.screen.query_one("#tables-table", DataTable)
        names = [str(tables.get_row_at(i)[1]) for i in range(tables.row_count)]
        tables.move_cursor(row=next(i for i, n in enumerate(names) if n.endswith("Events")))
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("G")
        await settle(pilot)
        await pilot.press("f")
        writer = subprocess.Popen([sys.executable, "-m", "zlmdb_inspect", "--demo", path, "--write-for", "4"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(3):
            await pilot.pause(1.0)
        await settle(pilot)
        shot("follow")
        writer.wait()
        await pilot.press("f", "g")
        await settle(pilot)
        await pilot.press("slash")
        await settle(pilot)
        await pilot.press(*"re:telemetry.*1[0-9]{2},", "enter")
        await settle(pilot)
        shot("search")
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        shot("shape")
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("q")
    return written


def build_fleet(root: str) -> list[str]:
    """A node's databases as the Databases screen shows them: the node's own, two realm stores
    (one in the 0.9 format, one whose map is 83 % in use) and a damaged cookie store."""
    from zlmdb_inspect.demo import build_demo

    build_demo(os.path.join(root, "node"), records=2000)
    build_demo(os.path.join(root, "realms", "realm1"), records=800, lib_version="0.9", seed=2)
    build_demo(os.path.join(root, "realms", "realm2"), records=1500, map_size=2 << 20, seed=3)
    os.makedirs(os.path.join(root, "cookies"))
    with open(os.path.join(root, "cookies", "data.mdb"), "wb") as f:
        f.write(b"\0" * 8192)  # a file that is not an LMDB database
    return [os.path.join(root, p) for p in ("cookies", "node", "realms/realm1", "realms/realm2")]


def fleet_app(root: str, interval: float = 3600.0):
    """The app over ``root``'s databases, starting on the Databases screen (fixed clock)."""
    from zlmdb_inspect.core.options import Options
    from zlmdb_inspect.service.discover import expand_paths
    from zlmdb_inspect.service.fleet import open_fleet
    from zlmdb_inspect.tui.app import create_app

    opts = Options(path=root, interval=interval)
    settings, fleet = open_fleet(opts, expand_paths([root]), live=True)
    return create_app(None, fleet=fleet, settings=settings, clock_fn=lambda t: "12:00:00", interval=interval)


async def capture_fleet(root: str, outdir: str) -> list[str]:
    from zlmdb_inspect.tui.settle import settle

    app = fleet_app(root)
    f = os.path.join(outdir, "databases.svg")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.save_screenshot(f)
        await pilot.press("q")
    return [f]


def main(argv: list[str]) -> int:
    outdir = argv[0] if argv else "screenshots"
    os.makedirs(outdir, exist_ok=True)
    from zlmdb_inspect.demo import build_demo

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "demo")
        build_demo(path, records=2000)
        files = asyncio.run(capture(path, outdir))
        fleet_root = os.path.join(tmp, "crossbar")
        build_fleet(fleet_root)
        files += asyncio.run(capture_fleet(fleet_root, outdir))
    conv = shutil.which("rsvg-convert")
    for f in files:
        if conv:
            subprocess.run([conv, f, "-o", f[:-4] + ".png"], check=True)
        print(f)
    if not conv:
        print("rsvg-convert not found (Debian: librsvg2-bin): SVGs only", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
