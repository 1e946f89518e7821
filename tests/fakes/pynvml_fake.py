"""A fake `pynvml` module with nvidia-ml-py's function names, constants, return types and
errors, for machines without an NVIDIA GPU. Each GPU draws a known constant power; its
total-energy counter (mJ) advances in steps every `counter_period_s`, as the real one
updates periodically; GPUs without the counter raise NVMLError_NotSupported like pre-Volta
parts do. A GPU may fail transiently: during `fail_s` = (start, length) seconds after the
module was made, its energy and power reads raise NVMLError(NVML_ERROR_UNKNOWN), as a real
driver does on a hiccup. A GPU's driver may reload: from `reset_at_s` seconds after the
module was made, its counter starts again from 0, as the counter counts "since the driver
was last reloaded"."""

from __future__ import annotations

import math
import time
import types
from dataclasses import dataclass

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_UNKNOWN = 999
NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_GRAPHICS = 0
NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2
_MESSAGES = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
}


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _MESSAGES.get(self.value, f"Unknown Error ({self.value})")


class NVMLError_NotSupported(NVMLError):  # nvidia-ml-py's names
    def __init__(self) -> None:
        super().__init__(NVML_ERROR_NOT_SUPPORTED)


@dataclass(frozen=True)
class FakeGpu:
    power_w: float
    has_counter: bool = True
    counter_period_s: float = 0.1
    counter_offset_mj: int = 123_456_789
    name: str = "NVIDIA H100 80GB HBM3"
    fail_s: tuple[float, float] | None = None
    reset_at_s: float | None = None
    # What doctor and the provenance read (nvidia-ml-py's units: mW, MHz, degrees C).
    persistence: bool = True
    power_limit_mw: int = 700_000
    default_power_limit_mw: int = 700_000
    sm_clock_mhz: int = 1980
    default_sm_clock_mhz: int = 1980
    temperature_c: int = 55
    ecc: tuple[int, int] | None = (1, 1)  # [current, pending]; None: not supported
    mig: tuple[int, int] | None = (0, 0)
    processes: tuple[int, ...] = ()  # pids of compute processes on the GPU


@dataclass
class c_nvmlUtilization_t:
    gpu: int
    memory: int


@dataclass
class c_nvmlProcessInfo_t:
    pid: int
    usedGpuMemory: int


@dataclass
class c_nvmlMemory_t:
    total: int
    free: int
    used: int


def make_fake_pynvml(gpus: list[FakeGpu], init_error: int | None = None) -> types.ModuleType:
    """A fresh module whose GPUs started drawing their power when it was made."""
    t0 = time.time()
    state = {"init": False}
    mod = types.ModuleType("pynvml")
    for name, value in list(globals().items()):
        if name.startswith("NVML") or name.startswith("c_nvml"):
            setattr(mod, name, value)

    def nvmlInit() -> None:
        if init_error is not None:
            raise NVMLError(init_error)
        state["init"] = True

    def _check() -> None:
        if not state["init"]:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)

    def nvmlShutdown() -> None:
        state["init"] = False

    def nvmlDeviceGetCount() -> int:
        _check()
        return len(gpus)

    def nvmlDeviceGetHandleByIndex(i: int) -> int:
        _check()
        if not 0 <= i < len(gpus):
            raise NVMLError(2)
        return i

    def nvmlDeviceGetName(h: int) -> str:
        return gpus[h].name

    def _hiccup(g: FakeGpu) -> None:
        if g.fail_s is not None and 0 <= time.time() - t0 - g.fail_s[0] < g.fail_s[1]:
            raise NVMLError(NVML_ERROR_UNKNOWN)

    def nvmlDeviceGetTotalEnergyConsumption(h: int) -> int:
        _check()
        g = gpus[h]
        if not g.has_counter:
            raise NVMLError_NotSupported()
        _hiccup(g)
        since, offset = time.time() - t0, g.counter_offset_mj
        if g.reset_at_s is not None and since >= g.reset_at_s:
            since, offset = since - g.reset_at_s, 0
        steps = math.floor(since / g.counter_period_s)
        return offset + int(steps * g.counter_period_s * g.power_w * 1000)

    def nvmlDeviceGetPowerUsage(h: int) -> int:
        _check()
        _hiccup(gpus[h])
        return int(gpus[h].power_w * 1000)

    def nvmlDeviceGetUtilizationRates(h: int) -> c_nvmlUtilization_t:
        return c_nvmlUtilization_t(gpu=97, memory=40)

    def nvmlDeviceGetMemoryInfo(h: int) -> c_nvmlMemory_t:
        total = 80 * 1024**3
        return c_nvmlMemory_t(total=total, free=total - 3 * 1024**3, used=3 * 1024**3)

    def nvmlDeviceGetTemperature(h: int, sensor: int) -> int:
        return gpus[h].temperature_c

    def nvmlSystemGetDriverVersion() -> str:
        _check()
        return "580.95.05"

    def nvmlSystemGetCudaDriverVersion() -> int:
        _check()
        return 13000  # 1000 * major + 10 * minor

    def nvmlDeviceGetUUID(h: int) -> str:
        return f"GPU-{h:08d}-fake"

    def nvmlDeviceGetPersistenceMode(h: int) -> int:
        return int(gpus[h].persistence)  # NVML_FEATURE_ENABLED is 1

    def nvmlDeviceGetPowerManagementLimit(h: int) -> int:
        return gpus[h].power_limit_mw

    def nvmlDeviceGetPowerManagementDefaultLimit(h: int) -> int:
        return gpus[h].default_power_limit_mw

    def nvmlDeviceGetApplicationsClock(h: int, clock: int) -> int:
        return gpus[h].sm_clock_mhz

    def nvmlDeviceGetDefaultApplicationsClock(h: int, clock: int) -> int:
        return gpus[h].default_sm_clock_mhz

    def _supported(value: tuple[int, int] | None) -> list[int]:
        if value is None:
            raise NVMLError_NotSupported()
        return list(value)

    def nvmlDeviceGetEccMode(h: int) -> list[int]:
        return _supported(gpus[h].ecc)

    def nvmlDeviceGetMigMode(h: int) -> list[int]:
        return _supported(gpus[h].mig)

    def nvmlDeviceGetComputeRunningProcesses(h: int) -> list[c_nvmlProcessInfo_t]:
        return [c_nvmlProcessInfo_t(pid, 1 << 30) for pid in gpus[h].processes]

    def nvmlDeviceGetClockInfo(h: int, clock: int) -> int:
        return {NVML_CLOCK_SM: 1980, NVML_CLOCK_MEM: 2619}.get(clock, 1980)

    for fn in (
        nvmlInit,
        nvmlShutdown,
        nvmlDeviceGetCount,
        nvmlDeviceGetHandleByIndex,
        nvmlDeviceGetName,
        nvmlDeviceGetTotalEnergyConsumption,
        nvmlDeviceGetPowerUsage,
        nvmlDeviceGetUtilizationRates,
        nvmlDeviceGetMemoryInfo,
        nvmlDeviceGetTemperature,
        nvmlDeviceGetClockInfo,
        nvmlSystemGetDriverVersion,
        nvmlSystemGetCudaDriverVersion,
        nvmlDeviceGetUUID,
        nvmlDeviceGetPersistenceMode,
        nvmlDeviceGetPowerManagementLimit,
        nvmlDeviceGetPowerManagementDefaultLimit,
        nvmlDeviceGetApplicationsClock,
        nvmlDeviceGetDefaultApplicationsClock,
        nvmlDeviceGetEccMode,
        nvmlDeviceGetMigMode,
        nvmlDeviceGetComputeRunningProcesses,
    ):
        setattr(mod, fn.__name__, fn)
    return mod
