"""The local runtime: the same entrypoint from `.venvs/<framework>`, for machines without
Docker and for the tests. Each workload gets its own process group, so stopping it stops
everything it started, and dies with the orchestrator (a kill -9 leaves no orphan behind)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path
from typing import IO, Any

from orchestrator.errors import RuntimeUnavailableError
from orchestrator.paths import default_venvs, workload_pythonpath
from orchestrator.runtimes.base import (
    Execution,
    ExitState,
    RunSpec,
    Runtime,
    devices_reply,
    entrypoint_args,
)
from orchestrator.runtimes.process import die_with_parent, exit_status, parse_cpuset
from orchestrator.runtimes.variants import variant


def _child_setup(cpus: set[int] | None) -> None:
    # Runs in the child between fork and exec: die with the orchestrator, pin CPUs.
    die_with_parent()
    if cpus:
        os.sched_setaffinity(0, cpus)


def workload_environment(framework: str) -> dict[str, str]:
    """Ours, with this checkout's workload code first on the path (paths.workload_pythonpath)."""
    env = dict(os.environ)
    own = workload_pythonpath(variant(framework).framework)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (own, env.get("PYTHONPATH")) if p)
    return env


def run_environment(spec: RunSpec) -> dict[str, str]:
    """The workload's environment: ours, and for a GPU run only the one GPU visible (the
    one the meter bills), numbered in NVML's (PCI bus) order as nvidia-smi numbers it. The
    workload code is this checkout's (paths.workload_pythonpath)."""
    env = workload_environment(spec.framework)
    if spec.device == "gpu":
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        env["CUDA_VISIBLE_DEVICES"] = str(spec.gpu)
    return env


class LocalExecution(Execution):
    def __init__(self, python: Path, spec: RunSpec) -> None:
        self.python = python
        self.spec = spec
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def command(self) -> list[str]:
        """What is started: the environment's interpreter on the entrypoint."""
        args = entrypoint_args(self.spec, str(self.spec.data_dir), str(self.spec.out_dir))
        return [str(self.python), "-m", "workload", *args]

    def environment(self) -> dict[str, str]:
        return run_environment(self.spec)

    def start(self) -> None:
        cpus = parse_cpuset(self.spec.cpuset) if self.spec.cpuset else None
        self._log = (self.spec.out_dir / "stdout.log").open("wb")
        self.proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: _child_setup(cpus),  # noqa: PLW1509 (no threads at fork)
            cwd=self.spec.out_dir,
            env=self.environment(),
        )

    def wait(self, timeout_s: float | None) -> bool:
        assert self.proc is not None
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=self.stop_grace_s)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.proc.wait()

    def finish(self) -> ExitState:
        if self._log is not None:
            self._log.close()
        code = None if self.proc is None else self.proc.poll()
        code = None if code is None else exit_status(code)
        # A local process has no memory limit of ours, so no OOM verdict: the kernel's OOM
        # killer looks like any SIGKILL from here.
        return ExitState(exit_code=code)

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self._signal_group(signal.SIGKILL)
            self.proc.wait()
        if self._log is not None and not self._log.closed:
            self._log.close()

    def describe(self) -> dict[str, Any]:
        return {"kind": "local", "python": str(self.python), **self.spec.gpu_block()}


class LocalRuntime(Runtime):
    kind = "local"

    def __init__(self, venvs: Path | None = None) -> None:
        self.venvs = venvs or default_venvs()

    def python(self, framework: str) -> Path:
        return self.venvs / variant(framework).environment / "bin" / "python"

    def check(self, frameworks: list[str], device: str) -> None:
        missing = [f for f in frameworks if not os.access(self.python(f), os.X_OK)]
        if missing:
            raise RuntimeUnavailableError(
                f"no local environment for {', '.join(missing)} in {self.venvs}; "
                "run `make venvs` (or set FWENERGY_VENVS to where they are)"
            )

    def prepare(self, spec: RunSpec) -> Execution:
        return LocalExecution(self.python(spec.framework), spec)

    def visible_gpus(self, framework: str, gpu: int) -> list[str]:
        env = workload_environment(framework) | {"CUDA_VISIBLE_DEVICES": str(gpu)}
        r = subprocess.run(
            [str(self.python(framework)), "-m", "workload", "devices"],
            capture_output=True, text=True, env=env, timeout=300, check=False,
        )  # fmt: skip
        return devices_reply(framework, r.returncode, r.stdout, r.stderr)

    def software(self, frameworks: list[str], device: str) -> dict[str, Any]:
        return {f: {"python": str(self.python(f))} for f in frameworks}
