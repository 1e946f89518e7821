"""The one interface both runtimes implement.

A run goes through the same steps whatever starts it, and the order matters for the
measurement: `prepare` does everything slow and unmeasured (create the container, which on a
vfs engine copies the whole image; check the environment) BEFORE the meter starts; `start`
happens inside the meter window; `wait` returns when the workload exits or the timeout
passes; `stop` ends it early (timeout, Ctrl-C); `finish` collects logs and the exit state;
`cleanup` removes whatever `prepare` created, whatever happened.
"""

from __future__ import annotations

import json
import os
import socket
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from orchestrator.errors import RuntimeUnavailableError
from orchestrator.workloads import DEFAULT_TASK

Status = Literal["ok", "failed", "timeout", "oom", "aborted"]
# Docker labels on every measured container: which campaign and run it belongs to, so that
# leftovers of a killed orchestrator can be found and removed.
CAMPAIGN_LABEL = "io.fwenergy.campaign"
RUN_LABEL = "io.fwenergy.run"
# host:pid of the orchestrator that started it: a leftover is a container whose owner is
# gone, which --reap may remove; another campaign's live container it never touches.
OWNER_LABEL = "io.fwenergy.owner"


def owner_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_gone(owner: str | None) -> bool:
    """True when the orchestrator named by an owner label no longer runs on this host.
    A container without the label, or of another host, counts as gone only without one."""
    if not owner:
        return True
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another host's (or namespace's) orchestrator: assume it lives
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class Foreign:
    """A running measured container of another campaign."""

    container_id: str
    campaign_id: str
    owner: str | None

    @property
    def leftover(self) -> bool:
        return owner_gone(self.owner)


@dataclass(frozen=True)
class RunSpec:
    """One workload execution: the entrypoint's arguments and the resources it may use."""

    framework: str
    data_dir: Path  # a prepared dataset folder (dataset.json + dataset.npz)
    out_dir: Path  # the run folder: events.jsonl, result.json and stdout.log land here
    workload_args: tuple[str, ...]  # everything after `TASK --data D --out O`, unchanged
    cpuset: str | None = None  # e.g. "1-7": the same CPUs for every framework
    memory_limit: str | None = None  # docker's notation, e.g. "8g"
    device: str = "cpu"
    labels: dict[str, str] = field(default_factory=dict)
    gpu: int = 0  # with device "gpu": the one GPU the run sees (NVML index)
    task: str = DEFAULT_TASK  # the entrypoint's sub-command (orchestrator/workloads.py TASKS)

    def gpu_block(self) -> dict[str, int]:
        """What run.json's `runtime` records of the GPU: which one a GPU run saw."""
        return {"gpu": self.gpu} if self.device == "gpu" else {}

    def __post_init__(self) -> None:
        # The workload runs in another working directory (the run folder, a container): a
        # relative path would point elsewhere there. The CLI makes every path absolute.
        if not (self.data_dir.is_absolute() and self.out_dir.is_absolute()):
            raise ValueError(f"RunSpec paths must be absolute: {self.data_dir}, {self.out_dir}")


@dataclass(frozen=True)
class ExitState:
    """How the workload ended, as the runtime saw it."""

    exit_code: int | None
    oom_killed: bool = False


class Execution(ABC):
    """One prepared workload; see the module docstring for the order of calls."""

    # How long `stop` waits for the workload to end after asking, before it kills it.
    stop_grace_s: ClassVar[float] = 10.0

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def wait(self, timeout_s: float | None) -> bool:
        """True when the workload exited, False when `timeout_s` passed first."""

    @abstractmethod
    def stop(self) -> None:
        """Ask the workload to end, then kill it after a grace period."""

    @abstractmethod
    def finish(self) -> ExitState:
        """After it ended: write stdout.log into the run folder and report the exit."""

    @abstractmethod
    def cleanup(self) -> None:
        """Remove what prepare created; safe to call more than once and after failures."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """run.json's `runtime` block: kind and what identifies the exact software."""


class Runtime(ABC):
    kind: ClassVar[str]

    @abstractmethod
    def check(self, frameworks: list[str], device: str) -> None:
        """Raise RuntimeUnavailableError unless every framework can run here."""

    @abstractmethod
    def prepare(self, spec: RunSpec) -> Execution: ...

    @abstractmethod
    def visible_gpus(self, framework: str, gpu: int) -> list[str]:
        """The GPUs the framework sees in its environment when it is given the GPU `gpu`
        (`python -m workload devices` there); raise RuntimeUnavailableError with the reason
        when the runtime cannot give it one at all."""

    @abstractmethod
    def software(self, frameworks: list[str], device: str) -> dict[str, Any]:
        """Provenance: image ids (docker) or interpreter paths (local) per framework."""

    def summary(self) -> str:
        """What the campaign's first line says of the runtime it runs in."""
        return self.kind

    def reap(self, labels: dict[str, str]) -> list[str]:
        """Remove leftovers (with these labels) of an orchestrator that was killed (kill -9)
        mid-run: only those whose owner process is gone."""
        return []

    def measured_elsewhere(self, campaign_id: str | None) -> list[Foreign]:
        """Running measured workloads (but those labelled `campaign_id`; None: all):
        leftovers of a killed orchestrator, or another campaign measuring now."""
        return []

    def remove(self, container_id: str) -> None:
        """Remove one container found by measured_elsewhere."""
        raise NotImplementedError(f"the {self.kind} runtime finds no containers")


def status_of(exit_state: ExitState, timed_out: bool, aborted: bool) -> Status:
    """The run status of docs/formats.md. Aborted wins: the user stopped it on purpose."""
    if aborted:
        return "aborted"
    if timed_out:
        return "timeout"
    if exit_state.oom_killed:
        return "oom"
    return "ok" if exit_state.exit_code == 0 else "failed"


def devices_reply(framework: str, exit_code: int, stdout: str, stderr: str) -> list[str]:
    """The GPU names of `python -m workload devices`'s one JSON line."""
    lines = stdout.strip().splitlines()
    try:
        if exit_code != 0:
            raise ValueError
        gpus = json.loads(lines[-1])["gpus"]
    except (ValueError, IndexError, KeyError, TypeError):
        last = (stderr.strip().splitlines() or ["no output"])[-1][:200]
        raise RuntimeUnavailableError(
            f"cannot ask the {framework} environment which GPUs it sees (exit code "
            f"{exit_code}: {last})"
        ) from None
    return [str(g) for g in gpus]


def entrypoint_args(spec: RunSpec, data_dir: str, out_dir: str) -> list[str]:
    """Arguments after `python -m workload`: identical for every runtime and framework; the
    folders as the workload sees them (a container mounts them elsewhere)."""
    return [spec.task, "--data", data_dir, "--out", out_dir, *spec.workload_args]
