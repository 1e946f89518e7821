"""Ctrl-C and SIGTERM become one exception, raised where it is safe.

While files that resume depends on are written (run.json, a state line), a signal is held
back and raised as soon as the write is done, so an interrupted campaign never leaves a
half-recorded run."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class Interrupts:
    def __init__(self) -> None:
        self._deferring = 0
        self._pending: int | None = None
        self._previous: dict[int, Any] = {}
        self._raised = False

    def _raise(self, signum: int) -> None:
        self._raised = True
        raise Interrupted(signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._raised:
            # Already stopping: a second Ctrl-C must not cut the recording of the aborted
            # run short. (kill -9 still works, and resume copes with it.)
            return
        if self._deferring:
            self._pending = self._pending or signum
            return
        self._raise(signum)

    def __enter__(self) -> Interrupts:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
        if not self._deferring and self._pending is not None:
            signum, self._pending = self._pending, None
            self._raise(signum)

    def check(self) -> None:
        """Raise now if a signal arrived while deferred (e.g. in a loop that swallowed it)."""
        if self._pending is not None and not self._deferring:
            signum, self._pending = self._pending, None
            self._raise(signum)
