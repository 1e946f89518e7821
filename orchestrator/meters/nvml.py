"""NVIDIA GPUs through NVML (nvidia-ml-py, `import pynvml`).

Per GPU: the total-energy counter (mJ since the driver loaded, Volta and newer) where the
GPU has one, else power polling integrated over time (estimated). With both, the counter
is the domain's value and the polled integral is compared with it in the notes: NVML's
power reading is itself a ~1 s average on recent GPUs, so the two differ on short or
bursty loads. Utilisation, memory, temperature and clocks go to the raw CSV, as
`nvidia-smi --query-gpu=... --loop-ms` would give them.

A sample NVML fails to give (a transient error) is bridged: the counter is cumulative, so
the next good reading still holds the energy, and polled power is integrated across the
gap; the note says how many samples were bridged. A GPU is dropped (and the recording says
so, which makes the run incomplete) only when most of the window could not be read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from orchestrator.errors import MeterError
from orchestrator.meters import domains
from orchestrator.meters.base import DomainSeries, Recording
from orchestrator.meters.counters import Counter, integrate_power_bridged, unwrap_counter
from orchestrator.meters.sampler import PollingMeter, RecordingBuilder, Value

FIELDS = (
    "energy_mj",
    "power_mw",
    "utilization_gpu_pct",
    "utilization_memory_pct",
    "memory_used_mib",
    "temperature_c",
    "clock_sm_mhz",
    "clock_mem_mhz",
)
_MIB = 1024 * 1024


def _import_pynvml() -> ModuleType:
    try:
        import pynvml
    except ImportError as exc:
        raise MeterError(
            "NVML meter needs nvidia-ml-py: `pip install nvidia-ml-py` in the host venv"
        ) from exc
    return pynvml


@dataclass(frozen=True)
class Gpu:
    index: int
    handle: Any
    name: str
    has_counter: bool
    has_power: bool

    @property
    def domain(self) -> str:
        return domains.gpu(self.index)


class NvmlMeter(PollingMeter):
    name = "nvml"

    def __init__(
        self,
        interval_ms: int = 100,
        *,
        nvml_module: ModuleType | None = None,
        gpu_indices: Sequence[int] | None = None,
    ) -> None:
        """`gpu_indices`: the GPUs to meter (NVML indices); None meters every GPU."""
        super().__init__(interval_ms)
        nv = nvml_module or _import_pynvml()
        self._nv = nv
        try:
            nv.nvmlInit()
            count = int(nv.nvmlDeviceGetCount())
        except nv.NVMLError as exc:
            raise MeterError(
                f"NVML cannot start ({exc}): no NVIDIA GPU or driver here; install the driver, "
                "or in a container pass the GPU through (--gpus all), or choose another meter"
            ) from exc
        if count == 0:
            raise MeterError("NVML found no GPU; choose another meter")
        wanted = list(range(count)) if gpu_indices is None else list(gpu_indices)
        absent = [i for i in wanted if not 0 <= i < count]
        if absent:
            raise MeterError(
                f"--gpu {absent[0]}: NVML sees {count} GPU(s), indices 0 to {count - 1}; "
                "choose one of those (nvidia-smi -L lists them)"
            )
        self.gpus: list[Gpu] = []
        for i in wanted:
            handle = nv.nvmlDeviceGetHandleByIndex(i)
            name = self._try(nv.nvmlDeviceGetName, handle)
            gpu = Gpu(
                i,
                handle,
                name.decode() if isinstance(name, bytes) else str(name),
                self._try(nv.nvmlDeviceGetTotalEnergyConsumption, handle) is not None,
                self._try(nv.nvmlDeviceGetPowerUsage, handle) is not None,
            )
            if gpu.has_counter or gpu.has_power:
                self.gpus.append(gpu)
            else:
                self.notes.append(f"nvml: GPU {i} ({gpu.name}) reports neither energy nor power")
        if not self.gpus:
            raise MeterError("NVML: no GPU here reports energy or power; choose another meter")

    def _try(self, fn: Any, *args: Any) -> Any:
        """The call's value, or None when NVML says the GPU does not support it."""
        try:
            return fn(*args)
        except self._nv.NVMLError:
            return None

    def domains(self) -> list[str]:
        return [g.domain for g in self.gpus]

    def _read(self) -> list[Value]:
        nv = self._nv
        row: list[Value] = []
        for g in self.gpus:
            util = self._try(nv.nvmlDeviceGetUtilizationRates, g.handle)
            mem = self._try(nv.nvmlDeviceGetMemoryInfo, g.handle)
            row += [
                self._try(nv.nvmlDeviceGetTotalEnergyConsumption, g.handle)
                if g.has_counter
                else None,
                self._try(nv.nvmlDeviceGetPowerUsage, g.handle) if g.has_power else None,
                None if util is None else util.gpu,
                None if util is None else util.memory,
                None if mem is None else round(mem.used / _MIB),
                self._try(nv.nvmlDeviceGetTemperature, g.handle, nv.NVML_TEMPERATURE_GPU),
                self._try(nv.nvmlDeviceGetClockInfo, g.handle, nv.NVML_CLOCK_SM),
                self._try(nv.nvmlDeviceGetClockInfo, g.handle, nv.NVML_CLOCK_MEM),
            ]
        return row

    def _header(self) -> list[str]:
        return [f"gpu{g.index}_{f}" for g in self.gpus for f in FIELDS]

    def stop(self) -> Recording:
        rows, out_dir = self.stop_sampling()
        time_s = np.asarray([float(r[0]) for r in rows])  # type: ignore[arg-type]
        out = RecordingBuilder(self.name, self.notes)
        width = len(FIELDS)
        for k, g in enumerate(self.gpus):
            base = 1 + k * width
            polled = (
                integrate_power_bridged(time_s, _column(rows, base + 1) / 1000.0)
                if g.has_power
                else None
            )
            counter = (
                # Cumulative since the driver loaded and 64 bits wide: it never wraps.
                unwrap_counter(time_s, _column(rows, base) / 1000.0, None)
                if g.has_counter
                else None
            )
            uncovered = _uncovered(counter, polled)
            if counter is not None and (uncovered is None or polled is None):
                series = out.add_counter(g.domain, counter, "energy counter")
                if series is not None:
                    out.notes += _compare(g.domain, series, polled)
                    if polled is not None and polled.lost is None and len(polled.time_s) > 1:
                        out.alternates[g.domain] = DomainSeries(
                            polled.time_s, polled.energy_j, "power-integration",
                            bridged=polled.bridged,
                        )  # fmt: skip
                continue
            assert polled is not None  # a GPU with neither is not metered
            # Whenever the counter does not cover the window (none, reset, unreadable, or
            # not yet updated), polled power stands in, labelled: one rule, wherever in the
            # window the trouble came.
            out.notes.append(
                f"nvml: {g.domain} {uncovered}: power polled every {self.interval_ms} ms "
                "and integrated instead (estimated)"
            )
            out.add_counter(g.domain, polled, "polled power", "power-integration")
        return out.finish(out_dir, time_s, out_dir / f"samples-{self.name}.csv")


def _column(rows: list[list[Value]], i: int) -> np.ndarray:
    return np.asarray([np.nan if r[i] is None else float(r[i]) for r in rows])  # type: ignore[arg-type]


def _uncovered(counter: Counter | None, polled: Counter | None) -> str | None:
    """Why the energy counter does not cover the window, None when it does."""
    if counter is None:
        return "has no energy counter here"
    if counter.lost is not None:
        return f"energy counter does not cover the window ({counter.lost})"
    read = polled is not None and polled.lost is None and len(polled.energy_j) > 0
    if read and counter.energy_j[-1] == 0.0 and polled.energy_j[-1] > 0.0:  # type: ignore[union-attr]
        span = counter.time_s[-1] - counter.time_s[0] if len(counter.time_s) else 0.0
        return (
            f"energy counter did not advance in this {span:.3f} s window (it updates "
            "every 100 ms or more)"
        )
    return None


def _compare(domain: str, counter: DomainSeries, polled: Counter | None) -> list[str]:
    if polled is None or polled.lost is not None or len(polled.energy_j) == 0:
        return []
    counter_j = float(counter.energy_j[-1])
    polled_j = float(polled.energy_j[-1])
    if counter_j > 0:
        diff = (polled_j - counter_j) / counter_j * 100.0
        return [
            f"nvml: {domain} counter {counter_j:.3f} J, polled power integrated "
            f"{polled_j:.3f} J ({diff:+.1f}%)"
        ]
    return []
