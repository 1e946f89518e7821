"""Measured containers are hardened and stop promptly, a root host lends the run folder to no
host account, leftovers of a killed orchestrator are refused or reaped (issue 12, minor
items). The real Docker engine and the built images."""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from pathlib import Path

import pytest

from orchestrator.campaign.plan import WorkloadSettings
from orchestrator.data import PreparedDataset
from orchestrator.runtimes.base import CAMPAIGN_LABEL, OWNER_LABEL, Execution, RunSpec
from orchestrator.runtimes.docker import DockerRuntime
from tests.campaign.helpers import TINY, cli, load, only_campaign

pytestmark = pytest.mark.docker


def test_a_measured_container_is_hardened_and_stops_at_once(
    docker_images: dict[str, str], tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    # Long enough to be stopped mid-training.
    args = WorkloadSettings(epochs=200, batch_size=32, threads=1).args()
    spec = RunSpec("jax", tiny_dataset.path, out, args, labels={CAMPAIGN_LABEL: "test"})
    execution = DockerRuntime().prepare(spec)
    try:
        attrs = execution.container.attrs  # type: ignore[attr-defined]
        host = attrs["HostConfig"]
        assert host["CapDrop"] == ["ALL"]
        assert "no-new-privileges" in host["SecurityOpt"]
        assert host["ReadonlyRootfs"] is True
        assert "/tmp" in host["Tmpfs"]
        assert host["PidsLimit"] > 0
        assert host["Init"] is True
        assert host["NetworkMode"] == "none"
        uid = int(attrs["Config"]["User"].split(":")[0])
        if os.getuid() == 0:
            # No host account has that id, and only it (and root) may write the run folder.
            with pytest.raises(KeyError):
                pwd.getpwuid(uid)
            assert (out.stat().st_uid, out.stat().st_mode & 0o777) == (uid, 0o700)
        execution.start()
        deadline = time.time() + 120
        while "epoch_start" not in _events(out) and time.time() < deadline:
            time.sleep(0.5)
        assert "epoch_start" in _events(out), (out / "events.jsonl").exists()
        # Not PID 1: the workload hears SIGTERM, no waiting out the grace period.
        t0 = time.monotonic()
        execution.stop()
        assert time.monotonic() - t0 < Execution.stop_grace_s / 2
        state = execution.finish()
        assert state.exit_code == 128 + 15
    finally:
        execution.cleanup()
    if os.getuid() == 0:
        assert (out.stat().st_uid, out.stat().st_mode & 0o777) == (0, 0o755)
        assert all(p.stat().st_uid == 0 for p in out.iterdir())


def _events(out: Path) -> str:
    path = out / "events.jsonl"
    return path.read_text() if path.exists() else ""


def _wait_for_no_foreign_containers() -> None:
    """The engine may be shared: let anyone else's measured containers finish first."""
    deadline = time.time() + 300
    while time.time() < deadline:
        r = subprocess.run(["docker", "ps", "-q", "--filter", f"label={CAMPAIGN_LABEL}"],
                           capture_output=True, text=True, check=True)  # fmt: skip
        if not r.stdout.strip():
            return
        time.sleep(5)


def _leftover(name: str, owner: str) -> str:
    """A running container labelled like a measured one: python:3.11-slim sleeping."""
    r = subprocess.run(
        ["docker", "run", "-d", "--rm", "--network", "none", "--name", name,
         "--label", f"{CAMPAIGN_LABEL}=20260101-000000-other", "--label", f"{OWNER_LABEL}={owner}",
         "python:3.11-slim", "sleep", "600"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return r.stdout.strip()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_leftover_container_is_refused_then_reaped(
    docker_images: dict[str, str], tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    _wait_for_no_foreign_containers()
    import socket

    name = f"fwenergy-test-leftover-{os.getpid()}"
    cid = _leftover(name, f"{socket.gethostname()}:{_dead_pid()}")
    try:
        results = tmp_path / "results"
        args = ["run", "--framework", "jax", "--runtime", "docker", "--meter", "none",
                "--data", str(tiny_dataset.path), "--results", str(results), *TINY]  # fmt: skip
        refused = cli(args, tmp_path)
        assert refused.returncode == 2, refused.stderr
        assert f"container {cid[:12]} of campaign 20260101-000000-other" in refused.stderr
        assert "--reap" in refused.stderr
        assert not results.exists() or not any(results.iterdir())
        reaped = cli([*args, "--reap"], tmp_path, timeout_s=600)
        assert reaped.returncode == 0, reaped.stderr
        assert f"removed container {cid[:12]}" in reaped.stderr
        gone = subprocess.run(["docker", "inspect", name], capture_output=True, check=False)
        assert gone.returncode != 0
        folder = only_campaign(results)
        assert load(folder / "runs" / "001-1-jax" / "run.json")["status"] == "ok"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def test_a_live_campaigns_container_is_never_reaped(
    docker_images: dict[str, str], tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    import socket

    name = f"fwenergy-test-live-{os.getpid()}"
    cid = _leftover(name, f"{socket.gethostname()}:{os.getpid()}")  # this test's pid: alive
    try:
        r = cli(["run", "--framework", "jax", "--runtime", "docker", "--meter", "none",
                 "--data", str(tiny_dataset.path), "--results", str(tmp_path / "results"),
                 "--reap", *TINY], tmp_path)  # fmt: skip
        assert r.returncode == 2, r.stderr
        assert "is measuring now" in r.stderr and cid[:12] in r.stderr
        running = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", name],
                                 capture_output=True, text=True, check=True)  # fmt: skip
        assert running.stdout.strip() == "true"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
