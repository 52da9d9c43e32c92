"""Snapshot tests of each screen on a fixed database (fixed path, seed and clock)."""

from __future__ import annotations

import shutil

import pytest
from conftest import fixed_demo, fixed_path

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import Service
from zlmdb_inspect.tui.app import create_app
from zlmdb_inspect.tui.settle import settle

FIXED = "/tmp/zlmdb-inspect-snapshot-demo"


@pytest.fixture(scope="module")
def fixed_db():
    with fixed_demo(FIXED) as path:
        yield path


def _app(path):
    svc = Service(Options(path=path))
    svc._growth.seed = 1  # the Tables list's Growth column: sampled estimates, the same every run
    app = create_app(svc, clock_fn=lambda t: "12:00:00", interval=3600)
    app.animation_level = "none"  # the tabs' underline slides otherwise
    return app


@pytest.mark.parametrize("keys,name", [
    ((), "overview"),
    (("2",), "warnings"),
    (("5",), "environment"),
    (("3",), "readers"),
    (("4",), "live"),
    (("down", "down", "down", "down", "enter"), "table"),
    (("down", "down", "down", "down", "enter", "down", "x"), "record-hex"),
    (("question_mark",), "help"),
])
def test_screens(fixed_db, snap_compare, keys, name):
    async def run_before(pilot):
        await settle(pilot)
        for k in keys:
            await pilot.press(k)
            await settle(pilot)

    assert snap_compare(_app(fixed_db), terminal_size=(120, 40), run_before=run_before)


FLEET = "/tmp/zlmdb-inspect-snapshot-fleet"


@pytest.fixture(scope="module")
def fixed_fleet():
    from zlmdb_inspect.tui.screenshots import build_fleet

    with fixed_path(FLEET):
        shutil.rmtree(FLEET, ignore_errors=True)
        build_fleet(FLEET)
        yield FLEET
        shutil.rmtree(FLEET, ignore_errors=True)


def test_databases_screen(fixed_fleet, snap_compare):
    """Several databases: the Databases screen first, a damaged one with its error in its row."""
    from zlmdb_inspect.tui.screenshots import fleet_app

    app = fleet_app(fixed_fleet)
    app.animation_level = "none"

    async def run_before(pilot):
        await settle(pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
