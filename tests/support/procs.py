"""The helper processes (holder_proc.py, writetxn_proc.py) as context managers, for any test module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import IO, Self

HERE = os.path.dirname(os.path.abspath(__file__))


def _pipes(proc: subprocess.Popen[str]) -> tuple[IO[str], IO[str]]:
    """The child's stdin and stdout, typed as present: both are opened with PIPE."""
    assert proc.stdin is not None and proc.stdout is not None
    return proc.stdin, proc.stdout


class Holder:
    """tests/holder_proc.py as a context manager: ready on enter, gone on exit."""

    def __init__(self, path: str, mode: str, map_size: int = 0, n: int = 0):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "holder_proc.py"), path, mode,
                                      str(map_size), str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.pid = self.proc.pid
        self.stdin, self.stdout = _pipes(self.proc)
        self.info = json.loads(self.stdout.readline())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.stdin.close()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Holder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Proc:
    """tests/writetxn_proc.py (or holder_proc.py) as a context manager; ``first`` is its first JSON line."""

    def __init__(self, *args: str, script: str = "writetxn_proc.py"):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, script), *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.stdin, self.stdout = _pipes(self.proc)
        self.first = self.line()

    def line(self) -> dict:
        line = self.stdout.readline()
        assert line, "the child process ended early"
        return json.loads(line)

    def send(self, text: str = "\n") -> None:
        self.stdin.write(text)
        self.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
