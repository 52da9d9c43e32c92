"""Snapshots of the records screen on the cfxdb-like database, at 80x24 and 160x48 (issue 18)."""

from __future__ import annotations

import shutil

import pytest
from cfxdb_like import build
from conftest import fixed_path

from zlmdb_inspect.core.options import Options
from zlmdb_inspect.service import Service
from zlmdb_inspect.tui.app import create_app
from zlmdb_inspect.tui.settle import settle

FIXED = "/tmp/zlmdb-inspect-snapshot-cfx"
USERS = ("down", "enter")  # slot 1
EVENTS = ("down",) * 4 + ("enter",)  # slot 4


@pytest.fixture(scope="module")
def cfx_db(tmp_path_factory):
    with fixed_path(FIXED):
        shutil.rmtree(FIXED, ignore_errors=True)
        build(FIXED, "0.9")
        cfg = tmp_path_factory.mktemp("cfg") / "config.toml"
        cfg.write_text('[columns]\n"Users" = ["email", "created", "authid"]\n')
        yield FIXED, str(cfg)
        shutil.rmtree(FIXED, ignore_errors=True)


@pytest.fixture(autouse=True)
def _own_config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("keys,name,config", [
    (USERS, "users", False),
    (USERS + ("down", "down", "down", "x"), "users-hex", False),
    (USERS, "users-columns", True),
    (EVENTS + ("o",), "events-newest-first", False),
])
def test_records_screens(cfx_db, snap_compare, keys, name, config, size):
    path, cfg = cfx_db
    app = create_app(Service(Options(path=path, imports=["cfxdb_app"], config=cfg if config else None)),
                     clock_fn=lambda t: "12:00:00", interval=3600)
    app.animation_level = "none"

    async def run_before(pilot):
        await settle(pilot)
        for k in keys:
            await pilot.press(k)
            await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
