"""`--runtime auto|docker|local|apptainer`: which runtime runs the workloads here, and why.

`auto` never picks apptainer: a node with both an engine and Apptainer would otherwise run
one campaign in docker and its resume in apptainer; apptainer is always asked for."""

from __future__ import annotations

from orchestrator.errors import RuntimeUnavailableError
from orchestrator.runtimes.apptainer import ApptainerRuntime
from orchestrator.runtimes.base import Runtime
from orchestrator.runtimes.docker import DockerRuntime
from orchestrator.runtimes.local import LocalRuntime

RUNTIME_KINDS = ("auto", "docker", "local", "apptainer")


def select_runtime(kind: str, frameworks: list[str], device: str) -> tuple[Runtime, str]:
    """`--runtime auto|docker|local|apptainer` -> the runtime and one line saying why."""
    if kind == "local":
        rt: Runtime = LocalRuntime()
        rt.check(frameworks, device)
        return rt, "runtime: local (as asked)"
    if kind == "docker":
        rt = DockerRuntime()
        rt.check(frameworks, device)
        return rt, "runtime: docker (as asked)"
    if kind == "apptainer":
        rt = ApptainerRuntime()
        rt.check(frameworks, device)
        return rt, f"runtime: apptainer {rt.version} (as asked; images in {rt.sifs})"
    if kind != "auto":
        raise RuntimeUnavailableError(
            f"unknown runtime {kind!r}; choose {', '.join(RUNTIME_KINDS)}"
        )
    try:
        drt = DockerRuntime()
    except RuntimeUnavailableError:
        reason = "no Docker engine answers"
    else:
        missing = drt.missing_images(frameworks, device)
        if not missing:
            return drt, "runtime: docker (engine up, images present)"
        reason = f"image {', '.join(missing)} missing"
    rt = LocalRuntime()
    rt.check(frameworks, device)
    return rt, f"runtime: local ({reason}; `make build` for docker)"
