"""Turn a `--meter` spec (auto, none, rapl, nvml, energibridge, or a comma list) into meters.

`auto` takes the meters that can really read here: RAPL (powercap) for the CPU and NVML
for NVIDIA GPUs; EnergiBridge only when RAPL cannot be read and the binary is on PATH or
given, since both read the same CPU counters and would report the same domains twice;
`--meter rapl,energibridge` runs both, EnergiBridge as a cross-check of RAPL only.

`auto` also takes the device: a CPU campaign needs a CPU meter (a GPU may be recorded but
stays out of the total, which the campaign says in run.json), and falls back to `none`,
saying why, when the CPU cannot be read; a GPU campaign needs a CPU meter and a GPU meter
or fails naming what is missing (`--meter nvml` measures the GPU alone, and says that the
CPU is not measured). Without a device (`orchestrator measure`) it takes whatever reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

from orchestrator.errors import MeterError
from orchestrator.meters.base import Meter
from orchestrator.meters.bmc import IpmiMeter, RedfishMeter
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
    device: str | None = None  # cpu or gpu for a campaign; None: measure whatever reads
    gpu: int | None = None  # the one GPU a GPU campaign meters; None: every GPU


# One entry per meter: its name and how to open it. Adding a meter is one line here plus
# its module (docs/adding.md).
METERS: dict[str, Callable[[MeterSources], Meter]] = {
    "none": lambda s: NoneMeter(s.interval_ms),
    "rapl": lambda s: RaplMeter(s.interval_ms, powercap_root=s.powercap_root),
    "nvml": lambda s: NvmlMeter(
        s.interval_ms,
        nvml_module=s.nvml_module,
        gpu_indices=None if s.gpu is None else [s.gpu],
    ),
    # With nvml also chosen, the GPU is NVML's: EnergiBridge's -g would repeat it; a CPU
    # campaign has no GPU to measure.
    # Beside rapl it reads the same CPU counters: a cross-check of rapl's, not a value.
    # The whole machine through its BMC: never chosen by auto (a slow poll; docs/meters.md).
    "redfish": lambda s: RedfishMeter(s.interval_ms),
    "ipmi": lambda s: IpmiMeter(s.interval_ms),
    "energibridge": lambda s: EnergiBridgeMeter(
        s.interval_ms,
        binary=s.energibridge,
        gpu="nvml" not in s.names and s.device != "cpu",
        checks="rapl" if "rapl" in s.names else None,
    ),
}
METER_NAMES = ("auto", *METERS)
CPU_METERS = ("rapl", "energibridge")
GPU_METERS = ("nvml",)


def open_meters(
    spec: str = "auto",
    interval_ms: int = 100,
    *,
    powercap_root: Path | None = None,
    energibridge: Path | None = None,
    nvml_module: ModuleType | None = None,
    device: str | None = None,
    gpu: int | None = None,
) -> list[Meter]:
    """The meters for `spec`, each checked readable on this machine (MeterError if not).
    `device` (cpu, gpu) is what a campaign runs on; `gpu` the one GPU it meters."""
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
    auto = names == ["auto"]
    if auto:
        names = ["rapl", "energibridge", "nvml"]
    sources = MeterSources(
        interval_ms, tuple(names), powercap_root, energibridge, nvml_module, device, gpu
    )
    if auto:
        return _auto(sources)
    meters = [METERS[name](sources) for name in names]
    if device == "gpu" and not any(n in CPU_METERS for n in names) and names != ["none"]:
        for meter in meters:
            meter.notes.append(
                f"--meter {spec}: the CPU is NOT measured in this GPU campaign; "
                "add rapl or energibridge to measure it"
            )
    return meters


def _auto(sources: MeterSources) -> list[Meter]:
    meters: list[Meter] = []
    skipped: list[str] = []
    # EnergiBridge only when RAPL cannot be read: both read the same CPU counters. Its GPU
    # (-g) is never wanted here: NVML's counter is better, and NVML is tried next.
    cpu_sources = replace(sources, names=("energibridge", "nvml"))
    for name in CPU_METERS:
        try:
            meters.append(METERS[name](cpu_sources))
            break
        except MeterError as exc:
            skipped.append(f"{name}: {exc}")
    has_cpu = bool(meters)
    try:
        meters.append(METERS["nvml"](sources))
    except MeterError as exc:
        skipped.append(f"nvml: {exc}")
    has_gpu = len(meters) > int(has_cpu)
    if sources.device == "gpu" and not (has_cpu and has_gpu):
        missing = [w for w, ok in (("a CPU meter", has_cpu), ("a GPU meter", has_gpu)) if not ok]
        raise MeterError(
            f"--meter auto for a GPU campaign needs a CPU meter (rapl or energibridge) and "
            f"a GPU meter (nvml); missing {' and '.join(missing)}: "
            + "; ".join(skipped)
            + " (or pass --meter nvml to measure the GPU alone, without the CPU)"
        )
    if sources.device == "cpu" and not has_cpu and has_gpu:
        # A GPU alone would make a CPU campaign's energy the idle GPU's.
        meters = []
        skipped.append("nvml too: a CPU campaign without a CPU meter would measure the GPU only")
    if not meters:
        meters.append(NoneMeter(sources.interval_ms))
    for meter in meters:
        meter.notes += [f"auto left out {s}" for s in skipped]
    return meters
