"""Metrics name a database by its directory (one series per database), and --output into a missing
directory says which directory, not the temporary file's name."""

from __future__ import annotations

import os
import re

import pytest
from conftest import build_orm_db, run_cli

from zlmdb_inspect.core.errors import InspectError
from zlmdb_inspect.reports.prometheus import database_label, write_atomically


def test_a_data_mdb_path_is_labelled_by_its_directory(tmp_path):
    path = str(tmp_path / "db")
    build_orm_db(path, "1.0", n=10)
    for given in (path, os.path.join(path, "data.mdb"), path + "/"):
        r = run_cli(given, "--prometheus")
        assert r.returncode == 0, r.stderr
        labels = set(re.findall(r'^zlmdb_up\{path="([^"]*)"\}', r.stdout, re.M))
        assert labels == {path}, (given, labels)
    assert database_label("/srv/db/data.mdb") == "/srv/db" and database_label("/srv/db") == "/srv/db"


def test_output_into_a_missing_directory_names_the_directory(tmp_path):
    target = tmp_path / "missing" / "zlmdb.prom"
    with pytest.raises(InspectError, match=f"no directory {re.escape(str(tmp_path / 'missing'))}$"):
        write_atomically(str(target), [])
    assert not (tmp_path / "missing").exists()
