"""The metered window: every meter started, and every started meter stopped, whatever
happens in between. The campaign's runs, its idle gaps and `orchestrator measure` all measure
through it, so they start and stop meters in the same order and handle failures alike.

Meters start in the order given and stop in the reverse order (last started, first
stopped), so each meter's window contains the windows of the meters started after it.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

from orchestrator.meters import clock
from orchestrator.meters.base import Meter, Recording


class MeterWindow:
    """Use as a context manager, or call `start()`, then `stop()` (or `abort()` on failure).

    On leaving the `with` block normally the meters are stopped and `recordings` holds what
    they measured; on an exception they are stopped and the exception is the one that
    surfaces (a meter's own failure to stop must not hide it)."""

    def __init__(self, meters: list[Meter], out_dir: Path) -> None:
        self.meters = list(meters)
        self.out_dir = out_dir
        self._started: list[Meter] = []
        self.recordings: list[Recording] = []

    def start(self) -> None:
        """Start every meter; when one fails to start, the others are stopped again."""
        clock.anchor()  # the window's stamps: monotonic, labelled with wall time from here
        try:
            for meter in self.meters:
                meter.start(self.out_dir)
                self._started.append(meter)
        except BaseException:
            self.abort()
            raise

    def stop(self) -> list[Recording]:
        """Stop every started meter (last started first) and return their recordings in the
        order the meters were given. Every meter is stopped even when one fails; the first
        failure is raised afterwards."""
        stopped, failed = self.stop_each()
        if failed:
            raise failed[0][1]
        return [rec for _, rec in stopped]

    def stop_each(
        self,
    ) -> tuple[list[tuple[Meter, Recording]], list[tuple[Meter, Exception]]]:
        """Stop every started meter (last started first): the meters that stopped with
        their recordings, in the order given, and those whose stop() failed with the error.
        Anything that is not an Exception (an interrupt) is raised once all are stopped."""
        recorded: dict[int, Recording] = {}
        failed: list[tuple[Meter, Exception]] = []
        other: BaseException | None = None
        while self._started:
            meter = self._started.pop()
            try:
                recorded[id(meter)] = meter.stop()
            except Exception as exc:
                failed.append((meter, exc))
            except BaseException as exc:
                other = other or exc
        if other is not None:
            raise other
        stepped = clock.drift_note("this measurement")
        stopped = [
            (m, replace(rec, notes=(*rec.notes, stepped)) if stepped else rec)
            for m in self.meters
            if (rec := recorded.get(id(m))) is not None
        ]
        self.recordings = [rec for _, rec in stopped]
        return stopped, failed[::-1]

    def abort(self) -> None:
        """Stop whatever runs and discard it: used when something else already failed, so
        no sampler thread or child process outlives the failure."""
        while self._started:
            meter = self._started.pop()
            with contextlib.suppress(Exception):
                meter.stop()

    def __enter__(self) -> MeterWindow:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.stop()
        else:
            self.abort()
