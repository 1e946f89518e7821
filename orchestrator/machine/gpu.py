"""Before a GPU campaign: an NVIDIA driver, the GPU asked for, a runtime that can give the
workload that one GPU, and every framework seeing it. Checked before any folder is created,
so a GPU campaign on a machine that cannot run one is one line and exit 2, never a folder of
failed runs. What each check needs is in docs/gpu.md."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from orchestrator.errors import UserError
from orchestrator.runtimes.base import Runtime

_FRAMEWORK_FIX = {
    "docker": "build the GPU images (`make build DEVICE=gpu`) and check the NVIDIA Container "
    "Toolkit (docs/gpu.md)",
    "local": "install the framework's CUDA build in its environment "
    "(`pip install -r images/<framework>/requirements-gpu.txt`)",
    "apptainer": "convert the GPU images (`orchestrator build --sif --device gpu`) and check "
    "that `apptainer exec --nv` finds the driver (docs/slurm.md#apptainer)",
}


class GpuUnavailableError(UserError):
    """A GPU campaign that this machine cannot run; the message names what is missing."""


def _nvml(nvml_module: ModuleType | None) -> Any:
    if nvml_module is not None:
        return nvml_module
    try:
        import pynvml
    except ImportError:
        raise GpuUnavailableError(
            "--device gpu: nvidia-ml-py is not installed in the host environment "
            "(`make venvs` installs it)"
        ) from None
    return pynvml


def nvml_gpus(nvml_module: ModuleType | None = None) -> list[str]:
    """The names of the NVIDIA GPUs the driver reports, by NVML index."""
    nv = _nvml(nvml_module)
    try:
        nv.nvmlInit()
    except Exception as exc:  # NVMLError and its subclasses, e.g. library not found
        raise GpuUnavailableError(
            f"--device gpu: no NVIDIA driver answers here (NVML: {exc}); install the driver, "
            "or measure on the CPU (--device cpu)"
        ) from None
    try:
        return [
            str(nv.nvmlDeviceGetName(nv.nvmlDeviceGetHandleByIndex(i)))
            for i in range(int(nv.nvmlDeviceGetCount()))
        ]
    finally:
        nv.nvmlShutdown()


def check_driver(gpu: int, nvml_module: ModuleType | None = None) -> str:
    """The name of GPU `gpu`; GpuUnavailableError when there is no driver or no such GPU."""
    names = nvml_gpus(nvml_module)
    if not names:
        raise GpuUnavailableError("--device gpu: the NVIDIA driver reports no GPU here")
    if not 0 <= gpu < len(names):
        listed = ", ".join(f"{i} ({n})" for i, n in enumerate(names))
        raise GpuUnavailableError(f"--gpu {gpu}: this machine's GPUs are {listed}; choose one")
    return names[gpu]


def check_frameworks(runtime: Runtime, frameworks: list[str], gpu: int) -> None:
    """Every framework, in the environment it will run in, sees the one GPU it is given."""
    for framework in frameworks:
        seen = runtime.visible_gpus(framework, gpu)
        if not seen:
            fix = _FRAMEWORK_FIX.get(runtime.kind, "install the framework's CUDA build")
            raise GpuUnavailableError(
                f"--device gpu: {framework} sees no GPU in its {runtime.kind} environment "
                f"(a CPU build?); {fix}"
            )
        if len(seen) > 1:
            raise GpuUnavailableError(
                f"--device gpu: {framework} sees {len(seen)} GPUs although it was given only "
                f"GPU {gpu}; the {runtime.kind} runtime cannot isolate one GPU here, so the "
                "runs would not be billed alike"
            )
