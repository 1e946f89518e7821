"""The `none` meter: time only. Every output that uses it says so loudly."""

from __future__ import annotations

import time
from pathlib import Path

from orchestrator.meters.base import Meter, Recording

NO_ENERGY_NOTE = "meter 'none': time only, NO ENERGY WAS MEASURED"


class NoneMeter(Meter):
    name = "none"

    def __init__(self, interval_ms: int = 100) -> None:
        super().__init__(interval_ms)
        self._start_s: float | None = None

    def domains(self) -> list[str]:
        return []

    def start(self, out_dir: Path) -> None:
        self._start_s = time.time()

    def stop(self) -> Recording:
        if self._start_s is None:
            raise RuntimeError("stop() before start()")
        return Recording(self.name, self._start_s, time.time(), notes=(NO_ENERGY_NOTE, *self.notes))
