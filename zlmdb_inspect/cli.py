"""Command line: the TUI by default, report modes for scripts.

Report modes never import Textual (start-up time matters in scripts); every
failure is one line on stderr and exit code 3, never a traceback. Expected failures (the
database, the machine, the arguments) say why; anything else is a bug of ours and says
"internal error", with the file its traceback was written to (so it can be reported).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from zlmdb_inspect import __version__
from zlmdb_inspect.core.errors import InspectError
from zlmdb_inspect.core.fmt import plain
from zlmdb_inspect.core.kinds import RuleId
from zlmdb_inspect.core.options import Options, Thresholds
from zlmdb_inspect.core.textsafe import safe

if TYPE_CHECKING:
    import subprocess

PROG = "zlmdb-inspect"
EXIT_UNKNOWN = 3

# numpy's OpenBLAS starts a worker thread per core at import that spins for a while waiting for
# work this program never gives it (no linear algebra here): on a two-core server it took a
# tenth of the CPU of a one-shot run from the walk's own threads. Set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


class _Parser(argparse.ArgumentParser):
    """Usage errors are UNKNOWN (exit 3) too, as monitoring plugins report them."""

    check_mode = False

    def error(self, message: str) -> NoReturn:
        if self.check_mode:
            _status_unknown(None, f"usage: {message}")
        self.exit(EXIT_UNKNOWN, f"{PROG}: error: {message}\n")


class _Formatter(argparse.HelpFormatter):
    """Wrapped at spaces only: a rule id (long-write-txn) or threshold name stays whole, as typed."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None, **more: Any) -> None:
        # argparse makes a formatter at every add_argument, and its own imports shutil for the width
        # (with bz2 and lzma: ~4 ms of every run's start); the same width, as shutil reads it (``more``:
        # what later Pythons add)
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width,
                         **more)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        return textwrap.fill(" ".join(text.split()), width, initial_indent=indent, subsequent_indent=indent,
                             break_on_hyphens=False, break_long_words=False)

    def _split_lines(self, text: str, width: int) -> list[str]:
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False, break_long_words=False)


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size().columns`` gives it: ``$COLUMNS``, else
    standard output's terminal, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _threshold_names() -> list[str]:
    from dataclasses import fields

    return [f.name for f in fields(Thresholds) if f.name != "rules"]


def list_rules() -> str:
    """``--list-rules``: every rule id with what it watches, every threshold with its default."""
    from dataclasses import fields

    from zlmdb_inspect.health.rules import SUMMARY

    out = ["Rules (--rule ID=off|info|warning|critical, [rules] in --config):"]
    out += [f"  {rid.value:<18} {SUMMARY[rid]}" for rid in RuleId]
    out.append("Thresholds (--threshold NAME=VALUE, [thresholds] in --config), with their defaults:")
    th = Thresholds()
    for f in fields(Thresholds):
        if f.name != "rules":
            v = getattr(th, f.name)
            out.append(f"  {f.name} = {plain(v)}")  # exact, never 6.7e+07
    return "\n".join(out)


def usage_problem(args: argparse.Namespace) -> str | None:
    """A flag outside its mode or a value that means nothing: the reason, for exit 3 (never ignored)."""
    dump_only = [("--limit", args.limit is not None), ("--from", args.from_key is not None),
                 ("--to", args.to_key is not None), ("--where", args.where is not None),
                 ("--grep", args.grep is not None), ("--follow", args.follow),
                 ("--format", args.format != "json")]
    mode = ("--json" if args.json else "--check" if args.check else "--prometheus" if args.prometheus else
            "--watch" if args.watch else "--serve-metrics" if args.serve_metrics else None)
    if not args.dump:
        for flag, given in dump_only:
            if given:
                return f"{flag} works with --dump TABLE only" + (f", not with {mode}" if mode else "")
    if args.count is not None and not args.watch:
        return "--count works with --watch only" + (f", not with {mode or '--dump'}" if mode or args.dump else "")
    if args.count is not None and args.count < 1:
        return "--count takes a number of refreshes, 1 or more"
    if args.interval is not None:
        import math

        if not math.isfinite(args.interval) or args.interval < MIN_INTERVAL_S:
            return f"--interval takes seconds, {MIN_INTERVAL_S:g} or more, not {args.interval:g}"
        if mode in ("--json", "--check", "--prometheus") or (args.dump and not args.follow):
            return (f"--interval applies to what refreshes (the TUI, --watch, --serve-metrics, --dump --follow), "
                    f"not to {mode or '--dump without --follow'}")
    if args.output and not args.prometheus:
        return "--output works with --prometheus only"
    if args.output:
        parent = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(parent):
            return f"--output {args.output}: no directory {parent}"
    if args.demo is None and args.demo_records != DEMO_RECORDS:
        return "--demo-records works with --demo only"
    if args.demo_records < 1:
        return "--demo-records takes a number of records, 1 or more"
    if args.write_for is not None and args.write_for <= 0:
        return "--write-for takes seconds over 0"
    if args.no_state and args.state_dir:
        return "give --state-dir or --no-state, not both"
    if args.fbs_type and not args.fbs:
        return "--fbs-type names a type of a --fbs schema: give --fbs FILE.bfbs too"
    if args.dump and (args.threshold or args.rule):
        return "--threshold and --rule grade warnings; --dump prints records and has none"
    return None


DEMO_RECORDS = 2000
MIN_INTERVAL_S = 0.1  # faster refreshes would be reads for their own sake
DEMO_WRITE_S = 24 * 3600  # the demo's writer stops with the TUI, at the latest after a day
DEMO_TMP_PREFIX = "zlmdb-inspect-demo-"  # --demo without DIR: a temporary directory of this name (tempfile)


def build_parser() -> _Parser:
    p = _Parser(
        prog=PROG, formatter_class=_Formatter,
        description="Inspect and monitor a zlmdb (LMDB) database, strictly read-only.",
        epilog="Exit codes: 0 OK, 1 WARNING, 2 CRITICAL (--check), 3 cannot inspect or a usage error. Over "
               "several databases --check exits with the worst: CRITICAL > WARNING > UNKNOWN > OK. --dump with "
               "--where/--grep exits 1 when nothing matched (as grep). "
               f"Rules: {', '.join(RuleId)}. Thresholds: {', '.join(_threshold_names())} "
               "(--list-rules shows their defaults).")
    p.add_argument("path", nargs="*", metavar="PATH",
                   help="database directory (holding data.mdb); a directory without one stands for every "
                        "database up to 4 levels below it")
    modes = p.add_mutually_exclusive_group()
    modes.add_argument("--json", action="store_true", help="print one JSON report and exit")
    modes.add_argument("--check", action="store_true", help="Nagios-style check: warnings, exit 0/1/2/3")
    modes.add_argument("--prometheus", action="store_true", help="print metrics in Prometheus text format")
    modes.add_argument("--watch", action="store_true", help="print one JSON object per line per refresh")
    modes.add_argument("--dump", metavar="TABLE", help="print a table's records as JSON Lines")
    modes.add_argument("--serve-metrics", metavar="[HOST:]PORT",
                       help="serve Prometheus metrics of every database (binds 127.0.0.1 unless HOST is given)")
    p.add_argument("--compare", metavar="OTHER",
                   help="compare every table's records (keys and value bytes) with the database OTHER: "
                        "exit 0 identical, 1 different, 3 either cannot be read (text, or --json)")
    p.add_argument("--table", metavar="TABLE", help="--compare, --checksum: this table only (name or slot)")
    p.add_argument("--checksum", action="store_true",
                   help="--json: add each table's SHA-256 over its records in key order (with --compare: both sides')")
    p.add_argument("--output", metavar="FILE",
                   help="--prometheus: write FILE atomically (temporary file + rename), for the textfile collector")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="--dump: at most N records")
    p.add_argument("--from", dest="from_key", metavar="KEY", help="--dump: start at this key (or key prefix)")
    p.add_argument("--to", dest="to_key", metavar="KEY", help="--dump: stop before this key")
    p.add_argument("--where", metavar="EXPR",
                   help="--dump: records for which this jq expression yields true, e.g. '.value.topic == \"x\"'")
    p.add_argument("--grep", metavar="REGEX", help="--dump: records whose key or value JSON text matches")
    p.add_argument("--follow", action="store_true",
                   help="--dump: then print one line per change until interrupted (--limit 0: changes only)")
    p.add_argument("--format", choices=("json", "csv"), default="json",
                   help="--dump: JSON Lines (default) or CSV with the values' top-level fields as columns")
    p.add_argument("--interval", type=float, default=None, metavar="S",
                   help="refresh interval in seconds, 0.1 or more (default 2): the TUI, --watch, --serve-metrics, "
                        "--dump --follow")
    p.add_argument("--count", type=int, default=None, metavar="N", help="--watch: stop after N refreshes")
    p.add_argument("--list-rules", action="store_true",
                   help="list the warning rules (--rule ID=LEVEL) and the thresholds (--threshold NAME=VALUE) "
                        "with their defaults, and exit")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import the application's schema module to decode with its own classes (runs its code)")
    p.add_argument("--fbs", action="append", default=[], metavar="FILE.bfbs",
                   help="a binary FlatBuffers schema for typed FlatBuffers values")
    p.add_argument("--fbs-type", action="append", default=[], metavar="TABLE=TYPE",
                   help="decode TABLE's values as FlatBuffers TYPE")
    p.add_argument("--allow-pickle", action="store_true", help="unpickle pickle values (runs code from the database)")
    p.add_argument("--verify", action="store_true", help="also run zlmdb's full structural verifier on data.mdb")
    p.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE",
                   help="override a warning threshold (see README)")
    p.add_argument("--rule", action="append", default=[], metavar="ID=LEVEL",
                   help="switch a warning rule off or re-grade it: LEVEL is off, info, warning or critical")
    p.add_argument("--config", metavar="FILE.toml",
                   help="TOML file with [thresholds], [rules] (id = level) and [keymap] (binding id = keys) tables")
    p.add_argument("--state-dir", metavar="DIR",
                   help="keep each database's recent figures here between runs (rates, time to full in "
                        "--json/--check/--prometheus); default $XDG_STATE_HOME/zlmdb-inspect, never beside the data")
    p.add_argument("--no-state", action="store_true", help="keep nothing between runs (and read nothing kept)")
    p.add_argument("--demo", nargs="?", const="", default=None, metavar="DIR",
                   help="build the demo database in DIR (default: a temporary directory) and open it")
    p.add_argument("--demo-records", type=int, default=DEMO_RECORDS, metavar="N", help="size of the demo database")
    p.add_argument("--write-for", type=float, default=None, metavar="SECONDS",
                   help="with --demo DIR: keep writing to the demo database (a live writer to watch)")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def _fail(message: str) -> int:
    print(f"{PROG}: error: {safe(message)}", file=sys.stderr)  # messages quote paths and names
    return EXIT_UNKNOWN


fail = _fail


def _check_mode(argv: list[str]) -> bool:
    return "--check" in argv


def _status_unknown(path: str | None, why: str) -> None:
    """--check: every outcome has a status line on stdout, so NRPE/Icinga show why."""
    from zlmdb_inspect.reports.document import unknown_line

    if path and why.startswith(f"{path}: "):
        why = why[len(path) + 2:]
    try:
        print(unknown_line(path, why), flush=True)
    except (BrokenPipeError, OSError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    parser.check_mode = _check_mode(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        return _main(args)
    except Exception as e:  # noqa: BLE001 - a bug in an error path itself: still one line, still ours
        print(f"{PROG}: error: {safe(internal_error(e, args.state_dir))}", file=sys.stderr)
        return EXIT_UNKNOWN


def entry() -> NoReturn:
    """The program (console script and ``python -m``): :func:`main`, then an immediate exit.

    Every file, mapping and child process is closed inside ``main``; what is left is the
    interpreter's teardown of a few hundred modules, ~30 ms of a one-shot run that a script
    calling ``--check`` every minute would wait for on every call.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _main(args: argparse.Namespace) -> int:
    tmp = None

    def fail(message: str) -> int:
        if args.check:
            _status_unknown(args.path[0] if len(args.path) == 1 else None, message)
        return _fail(message)

    try:
        if args.list_rules:
            print(list_rules())
            return 0
        problem = usage_problem(args)
        if problem:
            return fail(problem)
        if args.demo is not None:
            if args.path:
                return fail("give either PATH or --demo [DIR], not both")
            path, tmp = _prepare_demo(args)
            if args.write_for is not None:
                from zlmdb_inspect.demo import write_for

                started_by = os.environ.get("ZLMDB_INSPECT_DEMO_PARENT", "")  # the TUI's pid (_start_demo_writer)
                parent = int(started_by) if started_by.isdigit() else None
                n = write_for(path, args.write_for, report=lambda m: print(m, file=sys.stderr), parent=parent)
                print(f"{PROG}: wrote {n} transactions to {path}", file=sys.stderr)
                if parent is not None and os.getppid() != parent:
                    _remove_orphaned_demo(path, os.environ.get("ZLMDB_INSPECT_DEMO_TMP", ""))
                return 0
        elif args.write_for is not None:
            return fail("--write-for works with --demo DIR only (it never writes to your databases)")
        elif not args.path:
            return fail("no database path given (try --demo)")
        if args.limit is not None and args.limit < 0:
            return fail("--limit takes a number of records, 0 or more")
        if args.demo is None:
            from zlmdb_inspect.service.discover import expand_paths

            try:
                paths = expand_paths(args.path)
            except InspectError:
                if len(args.path) > 1:
                    raise
                paths = list(args.path)  # one PATH: opening it says why, after any --config error, as ever
            path = paths[0]
            if args.dump and len(paths) > 1:
                return fail(f"--dump reads one database; {len(paths)} were given")
        else:
            paths = [path]
        opts = Options(path=path, interval=2.0 if args.interval is None else args.interval, imports=args.imports,
                       fbs=args.fbs, fbs_types=_pairs(args.fbs_type), allow_pickle=args.allow_pickle,
                       thresholds=args.threshold, rules=args.rule, config=args.config, verify=args.verify,
                       state=not args.no_state and tmp is None, state_dir=args.state_dir)  # a temporary demo: none
        if args.compare is not None or args.checksum or args.table is not None:
            return _compare(args, opts, paths)
        if args.json or args.check or args.prometheus:
            from zlmdb_inspect.reports.modes import Report, run_report

            return run_report(opts, Report.JSON if args.json else Report.CHECK if args.check else Report.PROMETHEUS,
                              paths, args.output)
        if args.watch:
            from zlmdb_inspect.reports.modes import run_watch

            return run_watch(opts, args.count, paths)
        if args.serve_metrics:
            from zlmdb_inspect.reports.modes import run_serve

            return run_serve(opts, args.serve_metrics, paths)
        if args.dump:
            from zlmdb_inspect.reports.modes import DumpQuery, run_dump

            return run_dump(opts, args.dump, DumpQuery(args.limit, args.from_key, args.to_key, args.where,
                                                       args.grep, args.follow, args.format == "csv"))
        if len(paths) > 1:
            from zlmdb_inspect.service.fleet import open_fleet

            settings, fleet = open_fleet(opts, paths, live=True)
            from zlmdb_inspect.tui.app import run_fleet_app

            return run_fleet_app(fleet, settings)
        from zlmdb_inspect.service import open_service

        service = open_service(opts)  # fail with one line before the screen is taken over
        service.refresh_ahead()  # the first walk runs while Textual is imported and the screen built
        from zlmdb_inspect.tui.app import run_app

        if args.demo is not None:  # the demo is alive: a writer in a child process while the TUI is open
            writer = _start_demo_writer(path, tmp)
            try:
                return run_app(service)
            finally:
                _stop(writer)
        return run_app(service)
    except InspectError as e:
        return fail(str(e))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:  # the machine said no (a full disk, an --output directory that is not there)
        return fail(f"{type(e).__name__}: {e}")
    except Exception as e:  # noqa: BLE001 - a bug: still one line and UNKNOWN, but named as ours
        return fail(internal_error(e, args.state_dir))
    finally:
        if tmp:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


def internal_error(exc: BaseException, state_dir: str | None) -> str:
    """The line for an unexpected exception: ours, where its traceback is, how to report it.

    The traceback goes to a 0600 file in the state directory (never next to the database): a
    monitoring plugin's stderr is usually lost, and a one-line message alone cannot be debugged.
    """
    import time
    import traceback

    from zlmdb_inspect.service.state import default_dir

    what = f"{type(exc).__name__}: {exc}"
    text = "".join(traceback.format_exception(exc))
    directory = state_dir or default_dir()
    name = os.path.join(directory, f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write(f"{PROG} {__version__}, Python {sys.version.split()[0]}, argv {sys.argv!r}\n{text}")
    except OSError as e:  # no file: the traceback goes to stderr rather than nowhere
        print(text, file=sys.stderr, end="")
        return f"internal error (a bug in {PROG}): {what}; the traceback could not be written to {name} " \
               f"({e.strerror or e}), so it is printed above; please report it to the {PROG} maintainers"
    return f"internal error (a bug in {PROG}): {what}; traceback written to {name}; please report it " \
           f"to the {PROG} maintainers with that file (it holds paths and names, not records: review it first)"


def _compare(args: argparse.Namespace, opts: Options, paths: list[str]) -> int:
    """``--compare OTHER`` (text or ``--json``) and ``--json --checksum`` on one database."""
    if args.check or args.prometheus or args.watch or args.dump or args.serve_metrics:
        raise InspectError("--compare, --checksum and --table work alone or with --json")
    if len(paths) > 1:
        raise InspectError(f"--compare and --checksum read one database (and OTHER); {len(paths)} were given")
    if args.compare is not None:
        from zlmdb_inspect.reports.compare import run_compare

        return run_compare(opts, args.compare, args.table, args.json, args.checksum)
    if not args.checksum:
        raise InspectError("--table works with --compare or --checksum")
    if not args.json:
        raise InspectError("--checksum adds each table's checksum to --json (or give --compare OTHER)")
    from zlmdb_inspect.reports.compare import run_checksum

    return run_checksum(opts, args.table)


def _start_demo_writer(path: str, tmp: str | None = None) -> subprocess.Popen:
    """``--demo DIR --write-for`` in a child process (its own session: Ctrl-C in the TUI is not its).
    ``tmp``: the temporary directory this process made for the demo, which the writer removes if
    this process dies without doing so."""
    import subprocess

    env = {**os.environ, "ZLMDB_INSPECT_DEMO_PARENT": str(os.getpid())}
    env.pop("ZLMDB_INSPECT_DEMO_TMP", None)
    if tmp:
        env["ZLMDB_INSPECT_DEMO_TMP"] = tmp
    return subprocess.Popen([sys.executable, "-m", "zlmdb_inspect", "--demo", path, "--write-for", str(DEMO_WRITE_S)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=env)


def _remove_orphaned_demo(path: str, tmp: str) -> None:
    """The TUI that started this writer is gone without its ``finally`` (killed with its terminal,
    or by SIGKILL): remove the temporary demo it made (``--demo`` with no DIR), as it would have.

    Only the directory that TUI named as its own making (``tmp``, from ``_start_demo_writer``), and
    only if it is what ``_prepare_demo`` makes: ``DEMO_TMP_PREFIX*`` in the temporary directory,
    holding this demo. A ``--demo DIR`` the user named is never removed."""
    import shutil
    import tempfile

    if not tmp:
        return
    tmp = os.path.abspath(tmp)
    if (os.path.abspath(path) == os.path.join(tmp, "demo") and os.path.basename(tmp).startswith(DEMO_TMP_PREFIX)
            and os.path.dirname(tmp) == os.path.abspath(tempfile.gettempdir()) and not os.path.islink(tmp)):
        shutil.rmtree(tmp, ignore_errors=True)


def _stop(child: subprocess.Popen) -> None:
    import subprocess

    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _pairs(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise InspectError(f"--fbs-type takes TABLE=TYPE, not {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _prepare_demo(args: argparse.Namespace) -> tuple[str, str | None]:
    from zlmdb_inspect.demo import build_demo

    tmp = None
    if args.demo:
        path = args.demo
    else:
        import tempfile

        tmp = tempfile.mkdtemp(prefix=DEMO_TMP_PREFIX)
        path = os.path.join(tmp, "demo")
    if not os.path.exists(os.path.join(path, "data.mdb")):
        build_demo(path, records=args.demo_records)
    return path, tmp
