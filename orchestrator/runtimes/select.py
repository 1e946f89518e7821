"""`--runtime auto|docker|local`: which runtime runs the workloads here, and why."""

from __future__ import annotations

from orchestrator.errors import RuntimeUnavailableError
from orchestrator.runtimes.base import Runtime
from orchestrator.runtimes.docker import DockerRuntime
from orchestrator.runtimes.local import LocalRuntime

RUNTIME_KINDS = ("auto", "docker", "local")


def select_runtime(kind: str, frameworks: list[str], device: str) -> tuple[Runtime, str]:
    """`--runtime auto|docker|local` -> the runtime and one line saying why it was chosen."""
    if kind == "local":
        rt: Runtime = LocalRuntime()
        rt.check(frameworks, device)
        return rt, "runtime: local (as asked)"
    if kind == "docker":
        rt = DockerRuntime()
        rt.check(frameworks, device)
        return rt, "runtime: docker (as asked)"
    if kind != "auto":
        raise RuntimeUnavailableError(f"unknown runtime {kind!r}; choose auto, docker or local")
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
