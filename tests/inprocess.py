"""`orchestrator ARGS` run inside the test process: the same `main(argv)` the console script
calls, with its own environment, working folder, exit code and output streams, without a
Python start-up and the CLI's imports per call (about 0.5 s each). Output is captured at the
file-descriptor level, so what a child process (a workload, docker, pip) writes to the
inherited stdout or stderr is captured as it would be from a subprocess.

What needs a process of its own (signals, a kill, two campaigns at once, a timeout) stays
a subprocess (tests/campaign/helpers.py `popen_cli`); tests/test_cli_process.py keeps one
real subprocess per command for exit codes and stream separation."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path

from orchestrator.cli import main

# What `python -m orchestrator` calls itself in usage lines (click reads it from __main__).
PROG_NAME = "python -m orchestrator"


@contextlib.contextmanager
def _environment(env: Mapping[str, str], cwd: Path) -> Iterator[None]:
    saved_env, saved_cwd = dict(os.environ), Path.cwd()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


@contextlib.contextmanager
def _captured_fds() -> Iterator[tuple[io.BufferedRandom, io.BufferedRandom]]:
    """fds 1 and 2 (and sys.stdout/sys.stderr on them) into two temporary files."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved_streams = sys.stdout, sys.stderr
    saved_fds = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        # write_through: Python's writes and a child's reach the file in the order made.
        sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), write_through=True)  # noqa: SIM115
        sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), write_through=True)  # noqa: SIM115
        try:
            yield out, err
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            sys.stdout, sys.stderr = saved_streams
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            os.close(saved_fds[0])
            os.close(saved_fds[1])


def _read(file: io.BufferedRandom) -> str:
    file.seek(0)
    return file.read().decode("utf-8", errors="replace")


def run(args: list[str], *, env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`orchestrator ARGS` in this process, as `subprocess.run(..., capture_output=True,
    text=True)` would report it."""
    code: int | str | None = 0
    with _environment(env, cwd), _captured_fds() as (out, err):
        try:
            main([*args], prog_name=PROG_NAME)
        except SystemExit as exc:
            code = exc.code
        except Exception:  # a bug: a traceback and exit 1, as from `python -m`
            traceback.print_exc()
            code = 1
        if isinstance(code, str):  # sys.exit("message"): printed, exit 1, as Python does
            sys.stderr.write(code + "\n")
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        stdout, stderr = _read(out), _read(err)
    return subprocess.CompletedProcess(["orchestrator", *args], code or 0, stdout, stderr)
