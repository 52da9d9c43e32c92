"""zlmdb's LMDB binding loaded alone (storage/binding.py): report modes skip zlmdb's package, and an
application's ``import zlmdb`` afterwards finds the same binding."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str, *args: str) -> str:
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stderr.strip().splitlines()[-1]


def test_report_modes_load_the_binding_without_zlmdbs_package(demo_db):
    code = ("import sys; from zlmdb_inspect.cli import main; "
            "modes = ('--json', '--check', '--prometheus', '--dump Users --limit 2'); "
            "[main([sys.argv[1], *m.split()]) for m in modes]; "
            "sys.stderr.write(repr(('zlmdb' in sys.modules, 'yaml' in sys.modules, 'txaio' in sys.modules, "
            "'zlmdb._lmdb_vendor' in sys.modules)))")
    assert _run(code, demo_db) == repr((False, False, False, True))


def test_a_later_import_zlmdb_shares_the_binding(tmp_path):
    code = ("import sys; from zlmdb_inspect.storage.binding import lmdb; b = lmdb(); "
            "assert 'zlmdb' not in sys.modules; assert lmdb() is b; "
            "e = b.open(sys.argv[1], map_size=1 << 20); t = e.begin(write=True); t.put(b'k', b'v'); t.commit(); "
            "e.close(); "
            "import zlmdb; from zlmdb._lmdb_vendor import verify; "
            "db = zlmdb.Database(sys.argv[1], maxsize=1 << 20); "
            "sys.stderr.write(repr((zlmdb.lmdb is b, zlmdb._lmdb_vendor is b, sys.modules['zlmdb.lmdb'] is b, "
            "zlmdb.lmdb.MapFullError is b.MapFullError, callable(verify.verify), lmdb() is b)))")
    assert _run(code, str(tmp_path / "db")) == repr((True, True, True, True, True, True))


def test_with_a_second_thread_it_imports_zlmdb_whole():
    """The placeholder package is never in sys.modules while another thread could import zlmdb."""
    code = ("import sys, threading, time; ev = threading.Event(); th = threading.Thread(target=ev.wait); th.start(); "
            "from zlmdb_inspect.storage.binding import lmdb; b = lmdb(); whole = 'zlmdb' in sys.modules; "
            "ev.set(); th.join(); import zlmdb; sys.stderr.write(repr((whole, zlmdb.lmdb is b)))")
    assert _run(code) == repr((True, True))
