"""Snapshot of the Growth view (g) on the demo database: fixed path, seed, sample seed and clock."""

from __future__ import annotations

import pytest
from conftest import fixed_demo

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import Service
from zlmdb_inspect.tui.app import create_app
from zlmdb_inspect.tui.settle import settle

FIXED = "/tmp/zlmdb-inspect-snapshot-growth"
NOW = 1_796_083_200.0  # 2026-12-01T00:00:00Z: the fill date counts from here


@pytest.fixture(scope="module")
def fixed_db():
    with fixed_demo(FIXED) as path:
        yield path


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_growth_view(fixed_db, snap_compare, size):
    svc = Service(Options(path=fixed_db))
    svc._growth.seed = 1  # the sampled estimates (Users' and AuditLog's value times): the same every run
    app = create_app(svc, clock_fn=lambda t: "12:00:00", interval=3600, now_fn=lambda: NOW)
    app.animation_level = "none"

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
