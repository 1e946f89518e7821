"""The one interface every meter implements.

A meter samples the whole machine between `start()` and `stop()` (it does not spawn the
measured command; EnergiBridge, which insists on spawning a child, is given a placeholder
child that lives exactly as long as the window). `stop()` returns a `Recording`: energy per
domain over the window plus the cumulative series needed to attribute energy to phases.
A domain the meter could not read is absent from the recording, never zero; a domain it
meant to read and lost during the window is listed in `dropped` with the reason, so that
the run it belongs to is not mistaken for a complete one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

Method = Literal["counter", "power-integration"]


@dataclass(frozen=True)
class DomainSeries:
    """Cumulative energy of one domain since the window started, wrap-arounds corrected."""

    time_s: np.ndarray  # Unix seconds of orchestrator/meters/clock.py, increasing
    energy_j: np.ndarray  # cumulative joules, starts at 0.0, non-decreasing
    method: Method = "counter"
    # Why a domain of a summable kind (orchestrator/meters/domains.py) must still stay out
    # of the total, e.g. EnergiBridge's DRAM scaled with the wrong unit; None: it may not.
    out_of_total: str | None = None
    bridged: int = 0  # samples missing or misread, interpolated across

    @property
    def estimated(self) -> bool:
        return self.method != "counter"


@dataclass(frozen=True)
class Recording:
    meter: str
    start_s: float
    end_s: float
    series: dict[str, DomainSeries] = field(default_factory=dict)
    samples_csv: Path | None = None
    power_csv: Path | None = None
    notes: tuple[str, ...] = ()
    dropped: dict[str, str] = field(default_factory=dict)  # domain -> why it was lost
    # Second readings of a domain's own scope by this meter (NVML's polled power beside its
    # counter): never the domain's value, only compared with it (meters/crosscheck.py).
    alternates: dict[str, DomainSeries] = field(default_factory=dict)
    # The meter this recording checks rather than adds to (EnergiBridge beside RAPL): its
    # domains are compared with that meter's, never put in a total. None: a meter of its own.
    checks: str | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def energy_j(self) -> dict[str, float]:
        return {name: float(s.energy_j[-1]) for name, s in self.series.items() if len(s.energy_j)}


class Meter(ABC):
    """Start, stop, and say what is measured with which resolution."""

    name: ClassVar[str]

    def __init__(self, interval_ms: int = 100) -> None:
        if interval_ms <= 0:
            raise ValueError("interval_ms must be positive")
        self.interval_ms = interval_ms
        # Said in every recording: e.g. why `auto` left a meter out.
        self.notes: list[str] = []

    @abstractmethod
    def domains(self) -> list[str]:
        """The domains this meter can read on this machine (checked, not assumed)."""

    @abstractmethod
    def start(self, out_dir: Path) -> None:
        """Begin sampling; raw samples go to `out_dir/samples-<name>.csv`."""

    @abstractmethod
    def stop(self) -> Recording:
        """End sampling and return what was measured."""
