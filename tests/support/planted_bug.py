"""Run the CLI with a bug planted: ``planted_bug.py MODULE:FUNCTION ARGS...``.

The function is replaced by one that raises ``NameError`` (a typo in an error path, the kind of
bug the error tests must tell from an expected failure); then ``cli.main(ARGS)`` runs as the
program does. The patch lives in this child process only: the code under test is untouched.
"""

from __future__ import annotations

import importlib
import sys


def _planted(*args: object, **kwargs: object) -> object:
    raise NameError("name 'pgno' is not defined")


def main() -> int:
    target, argv = sys.argv[1], sys.argv[2:]
    module_name, attr = target.split(":")
    module = importlib.import_module(module_name)
    getattr(module, attr)  # the target must exist: a renamed function must fail this helper, not pass a test
    setattr(module, attr, _planted)
    from zlmdb_inspect import cli

    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
