"""zlmdb's LMDB binding loaded alone (storage/binding.py): report modes skip zlmdb's package, and an
application's ``import zlmdb`` afterwards finds the same binding."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

ALONE = ("'zlmdb' in sys.modules, 'yaml' in sys.modules, 'txaio' in sys.modules, "
         "'zlmdb._lmdb_vendor' in sys.modules")


def _run(code: str, *args: str) -> str:
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def two_dbs(demo_db, tmp_path_factory) -> str:
    """A directory of two databases (a node's): the fleet refreshes them in a pool of threads."""
    base = tmp_path_factory.mktemp("node")
    for name in ("a", "b"):
        shutil.copytree(demo_db, base / name)
    return str(base)


MODES = ["--json", "--check", "--prometheus", "--watch --count 1"]


@pytest.mark.parametrize("where, mode", [("one", m) for m in [*MODES, "--dump Users --limit 2"]]
                         + [("two", m) for m in MODES])
def test_report_modes_load_the_binding_without_zlmdbs_package(demo_db, two_dbs, where, mode):
    """Each mode in a process of its own (a mode run after another would find the binding loaded)."""
    code = ("import sys; from zlmdb_inspect.cli import main; "
            f"main([sys.argv[1], *sys.argv[2].split()]); sys.stderr.write('\\n' + repr(({ALONE})))")
    assert _run(code, demo_db if where == "one" else two_dbs, mode) == repr((False, False, False, True))


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


@pytest.mark.parametrize("start", ["threading", "_thread"])
def test_with_a_second_thread_it_imports_zlmdb_whole(start):
    """The placeholder package is never in sys.modules while another thread could import zlmdb, even
    one started outside ``threading`` (``threading.active_count()`` does not count those)."""
    spawn = ("threading.Thread(target=wait, daemon=True).start()" if start == "threading"
             else "_thread.start_new_thread(wait, ())")
    code = ("import sys, threading, _thread; ev, up = threading.Event(), threading.Event()\n"
            "def wait():\n    up.set(); ev.wait()\n"
            + spawn + "; up.wait()\n"  # running Python code, as a thread that could import would be
            "from zlmdb_inspect.storage.binding import lmdb\n"
            "try:\n    b = lmdb(); whole = 'zlmdb' in sys.modules\nfinally:\n    ev.set()\n"
            "import zlmdb; sys.stderr.write(repr((whole, zlmdb.lmdb is b)))")
    assert _run(code) == repr((True, True))


def test_a_binding_that_will_not_load_alone_is_loaded_with_zlmdb(tmp_path):
    """Another zlmdb layout (here: a ``_lmdb_vendor`` that fails to import alone) falls back to zlmdb's
    package as a whole, which works, and leaves no placeholder behind."""
    broken = tmp_path / "zlmdb" / "_lmdb_vendor"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('not this layout')\n")
    code = ("import sys, importlib.machinery, importlib.util; real = importlib.util.find_spec; "
            "alt = importlib.machinery.ModuleSpec('zlmdb', None, is_package=True); "
            "alt.submodule_search_locations = [sys.argv[1]]; "
            "importlib.util.find_spec = lambda name, *a: alt if name == 'zlmdb' else real(name, *a); "
            "from zlmdb_inspect.storage.binding import lmdb; b = lmdb(); importlib.util.find_spec = real; "
            "import zlmdb; e = b.open(sys.argv[2], map_size=1 << 20); e.close(); "
            "sys.stderr.write(repr((zlmdb.lmdb is b, hasattr(zlmdb, 'Database'), 'yaml' in sys.modules)))")
    assert _run(code, str(tmp_path / "zlmdb"), str(tmp_path / "db")) == repr((True, True, True))
