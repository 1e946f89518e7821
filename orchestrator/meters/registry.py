"""Turn a `--meter` spec (auto, none, rapl, nvml, energibridge, or a comma list) into meters.

`auto` takes every meter that can really read here: RAPL (powercap) for the CPU and NVML
for NVIDIA GPUs; EnergiBridge only when RAPL cannot be read and the binary is on PATH or
given, since both read the same CPU counters and would report the same domains twice.
With none of them readable it falls back to `none`, and says why for each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from orchestrator.errors import MeterError
from orchestrator.meters.base import Meter
from orchestrator.meters.energibridge import EnergiBridgeMeter
from orchestrator.meters.none import NoneMeter
from orchestrator.meters.nvml import NvmlMeter
from orchestrator.meters.rapl import RaplMeter


@dataclass(frozen=True)
class MeterSources:
    """Where this machine's meters read from, and which meters were chosen together (a
    meter may leave out what another one already measures)."""

    interval_ms: int
    names: tuple[str, ...]
    powercap_root: Path | None = None
    energibridge: Path | None = None
    nvml_module: ModuleType | None = None


# One entry per meter: its name and how to open it. Adding a meter is one line here plus
# its module (docs/adding.md).
METERS: dict[str, Callable[[MeterSources], Meter]] = {
    "none": lambda s: NoneMeter(s.interval_ms),
    "rapl": lambda s: RaplMeter(s.interval_ms, powercap_root=s.powercap_root),
    "nvml": lambda s: NvmlMeter(s.interval_ms, nvml_module=s.nvml_module),
    # With nvml also chosen, the GPU is NVML's: EnergiBridge's -g would repeat it.
    "energibridge": lambda s: EnergiBridgeMeter(
        s.interval_ms, binary=s.energibridge, gpu="nvml" not in s.names
    ),
}
METER_NAMES = ("auto", *METERS)


def open_meters(
    spec: str = "auto",
    interval_ms: int = 100,
    *,
    powercap_root: Path | None = None,
    energibridge: Path | None = None,
    nvml_module: ModuleType | None = None,
) -> list[Meter]:
    """The meters for `spec`, each checked readable on this machine (MeterError if not)."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in METER_NAMES]
    if unknown or not names:
        raise MeterError(
            f"unknown meter {', '.join(unknown) or repr(spec)}; "
            f"choose from {', '.join(METER_NAMES)}"
        )
    if interval_ms <= 0:
        raise MeterError(
            f"--interval-ms must be a positive number of milliseconds, not {interval_ms}"
        )
    if len(set(names)) != len(names):
        raise MeterError(f"meter spec {spec!r} names a meter twice")
    if len(names) > 1 and ("auto" in names or "none" in names):
        raise MeterError("'auto' and 'none' cannot be combined with other meters")
    if "rapl" in names and "energibridge" in names:
        raise MeterError("rapl and energibridge read the same CPU counters; choose one of them")
    if names == ["auto"]:
        return _auto(interval_ms, powercap_root, energibridge, nvml_module)
    sources = MeterSources(interval_ms, tuple(names), powercap_root, energibridge, nvml_module)
    return [METERS[name](sources) for name in names]


def _auto(
    interval_ms: int,
    powercap_root: Path | None,
    energibridge: Path | None,
    nvml_module: ModuleType | None,
) -> list[Meter]:
    meters: list[Meter] = []
    skipped: list[str] = []
    try:
        meters.append(RaplMeter(interval_ms, powercap_root=powercap_root))
    except MeterError as exc:
        skipped.append(f"rapl: {exc}")
        try:
            meters.append(EnergiBridgeMeter(interval_ms, binary=energibridge, gpu=False))
        except MeterError as eb_exc:
            skipped.append(f"energibridge: {eb_exc}")
    try:
        meters.append(NvmlMeter(interval_ms, nvml_module=nvml_module))
    except MeterError as exc:
        skipped.append(f"nvml: {exc}")
    if not meters:
        meters.append(NoneMeter(interval_ms))
    for meter in meters:
        meter.notes += [f"auto left out {s}" for s in skipped]
    return meters
