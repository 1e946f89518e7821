"""The `none` meter: time only. Every output that uses it says so loudly."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from orchestrator.meters import clock
from orchestrator.meters.base import Meter, Recording
from orchestrator.meters.sampler import RecordingBuilder

NO_ENERGY_NOTE = "meter 'none': time only, NO ENERGY WAS MEASURED"


class NoneMeter(Meter):
    name = "none"

    def __init__(self, interval_ms: int = 100) -> None:
        super().__init__(interval_ms)
        self._start_s: float | None = None
        self._out_dir: Path | None = None

    def domains(self) -> list[str]:
        return []

    def start(self, out_dir: Path) -> None:
        self._start_s, self._out_dir = clock.now(), out_dir

    def stop(self) -> Recording:
        if self._start_s is None or self._out_dir is None:
            raise RuntimeError("stop() before start()")
        out = RecordingBuilder(self.name, (NO_ENERGY_NOTE, *self.notes))
        return out.finish(self._out_dir, np.array([self._start_s, clock.now()]), None)
