"""Fixtures of the data tests: the real CLI in a subprocess, a local HTTP mirror, and the
published Fashion-MNIST files rebuilt from Debian's package."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests import inprocess
from tests.conftest import FASHION_MNIST, REPO, require
from tests.data.idxfiles import FASHION_MTIMES, official_gzip

# The smallest synthetic dataset: prepared in a blink, for tests about the folder itself.
TINY = ("--dataset", "synthetic", "--train-count", "10", "--test-count", "10")


@dataclass
class Cli:
    returncode: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()


def run_cli(
    *args: str | Path | object,
    env: dict[str, str] | None = None,
    python_args: tuple[str, ...] = ("-m", "orchestrator", "data", "prepare"),
) -> Cli:
    """`orchestrator data prepare ARGS` from the repository root, in this process
    (tests/inprocess.py; other `python_args` run a real interpreter). Unless a test
    says otherwise, downloads go to a closed local port, so no test reaches the internet."""
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FWENERGY_")},
        "FWENERGY_DATA_MIRROR": "http://127.0.0.1:9/",
        **(env or {}),
    }
    if python_args[:2] == ("-m", "orchestrator"):
        done = inprocess.run([*python_args[2:], *map(str, args)], env=full_env, cwd=REPO)
        return Cli(done.returncode, done.stdout, done.stderr)
    proc = subprocess.run(
        [sys.executable, *python_args, *map(str, args)],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Cli(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class Mirror:
    """What the local server serves: path -> (mode, body). Modes: "good" sends the body
    with its length; "truncated" announces the full length, sends half, and hangs up;
    "stall" sends half and then nothing until released; "unsized" sends the body without a
    Content-Length and closes the connection."""

    url: str = ""
    routes: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    # "stall" sends half the body, sets `stalled`, and waits for `release`.
    stalled: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def serve(self, prefix: str, files: dict[str, bytes], mode: str = "good") -> str:
        for name, body in files.items():
            self.routes[f"/{prefix}/{name}"] = (mode, body)
        return f"{self.url}/{prefix}/"


def _handler(mirror: Mirror) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            mirror.requests[self.path] += 1
            if self.path not in mirror.routes:
                self.send_error(404)
                return
            mode, body = mirror.routes[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "application/x-gzip")
            if mode == "unsized":
                # No length: the body ends when the connection closes (RFC 9112 6.3).
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if mode == "stall":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                mirror.stalled.set()
                mirror.release.wait(timeout=30)
                return
            if mode == "truncated":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-transfer (as the CLI does when a body runs long) is part of
    the test, not an error: socketserver would print its traceback to this process's stderr,
    where the in-process CLI's output is read."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    state = Mirror()
    server = _QuietServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def official_fashion() -> dict[str, bytes]:
    """The four published Fashion-MNIST .gz files, byte for byte."""
    require(FASHION_MNIST.is_dir(), f"Debian's dataset-fashion-mnist ({FASHION_MNIST})")
    return {
        f"{stem}.gz": official_gzip(FASHION_MNIST / f"{stem}.gz", stem, mtime)
        for stem, mtime in FASHION_MTIMES.items()
    }
