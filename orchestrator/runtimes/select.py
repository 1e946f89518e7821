"""`--runtime auto|docker|local|apptainer`: which runtime runs the workloads here, and why.

`auto` never picks apptainer: on a node with both an engine and Apptainer, a campaign and its
resume could otherwise run in different runtimes; apptainer is always asked for by name."""

from __future__ import annotations

from orchestrator.errors import RuntimeUnavailableError
from orchestrator.runtimes.apptainer import ApptainerRuntime
from orchestrator.runtimes.base import Runtime
from orchestrator.runtimes.docker import DockerRuntime
from orchestrator.runtimes.local import LocalRuntime

# The runtimes a campaign may ask for by name (`--runtime`, a study's `runtime`): the table a
# new runtime is added to (docs/adding.md).
RUNTIMES: dict[str, type[Runtime]] = {
    "docker": DockerRuntime,
    "local": LocalRuntime,
    "apptainer": ApptainerRuntime,
}
RUNTIME_KINDS = ("auto", *RUNTIMES)


def select_runtime(kind: str, frameworks: list[str], device: str) -> tuple[Runtime, str]:
    """`--runtime auto|docker|local|apptainer` -> the runtime and one line saying why."""
    if kind in RUNTIMES:
        rt = RUNTIMES[kind]()
        rt.check(frameworks, device)
        return rt, f"runtime: {rt.summary()} (as asked)"
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
    lrt = LocalRuntime()
    lrt.check(frameworks, device)
    return lrt, f"runtime: local ({reason}; `make build` for docker)"
