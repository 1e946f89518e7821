"""NVIDIA GPUs through NVML (nvidia-ml-py, `import pynvml`).

Per GPU: the total-energy counter (mJ since the driver loaded, Volta and newer) where the
GPU has one, else power polling integrated over time (estimated). With both, the counter
is the domain's value and the polled integral is compared with it in the notes: NVML's
power reading is itself a ~1 s average on recent GPUs, so the two differ on short or
bursty loads. Utilisation, memory, temperature and clocks go to the raw CSV, as
`nvidia-smi --query-gpu=... --loop-ms` would give them.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from orchestrator.errors import MeterError
from orchestrator.meters.base import DomainSeries, Recording
from orchestrator.meters.counters import check_increasing, integrate_power
from orchestrator.meters.sampler import PollingMeter, Value, write_power_csv

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
        return f"gpu-{self.index}"


class NvmlMeter(PollingMeter):
    name = "nvml"

    def __init__(self, interval_ms: int = 100, *, nvml_module: ModuleType | None = None) -> None:
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
        self.gpus: list[Gpu] = []
        for i in range(count):
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
        check_increasing(time_s, "nvml")
        series: dict[str, DomainSeries] = {}
        notes = list(self.notes)
        width = len(FIELDS)
        for k, g in enumerate(self.gpus):
            base = 1 + k * width
            energy_mj = _column(rows, base)
            power_mw = _column(rows, base + 1)
            counter_ok = g.has_counter and not np.isnan(energy_mj).any()
            power_ok = g.has_power and not np.isnan(power_mw).any()
            polled = integrate_power(time_s, power_mw / 1000.0) if power_ok else None
            if counter_ok:
                # The counter is cumulative since the driver loaded and 64 bits wide: no wrap.
                series[g.domain] = DomainSeries(time_s, (energy_mj - energy_mj[0]) / 1000.0)
            elif polled is not None:
                series[g.domain] = DomainSeries(time_s, polled, "power-integration")
                notes.append(
                    f"nvml: {g.domain} has no energy counter here: power polled every "
                    f"{self.interval_ms} ms and integrated (estimated)"
                )
            else:
                notes.append(f"nvml: {g.domain} could not be read during the window")
                continue
            notes += _compare(g.domain, series[g.domain], polled if counter_ok else None)
        samples = out_dir / f"samples-{self.name}.csv"
        power = write_power_csv(out_dir / f"power-{self.name}.csv", series)
        return Recording(
            self.name, float(time_s[0]), float(time_s[-1]), series, samples, power, tuple(notes)
        )


def _column(rows: list[list[Value]], i: int) -> np.ndarray:
    return np.asarray([np.nan if r[i] is None else float(r[i]) for r in rows])  # type: ignore[arg-type]


def _compare(domain: str, counter: DomainSeries, polled: np.ndarray | None) -> list[str]:
    notes = []
    counter_j = float(counter.energy_j[-1])
    if polled is not None:
        polled_j = float(polled[-1])
        if counter_j == 0.0 and polled_j > 0.0:
            notes.append(
                f"nvml: {domain} energy counter did not advance in this "
                f"{counter.time_s[-1] - counter.time_s[0]:.3f} s window (it updates "
                f"periodically); polled power gives {polled_j:.3f} J"
            )
        elif counter_j > 0:
            diff = (polled_j - counter_j) / counter_j * 100.0
            notes.append(
                f"nvml: {domain} counter {counter_j:.3f} J, polled power integrated "
                f"{polled_j:.3f} J ({diff:+.1f}%)"
            )
    return notes
