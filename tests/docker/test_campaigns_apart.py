"""Campaigns that never touch each other on a shared Docker engine (issue 24, critical 1):
a container is removed only when the orchestrator that started it is gone, never because
it carries the resuming campaign's name (two studies' `cell-01`, two campaigns started in
the same second, a copied folder); an engine error is reported as one. The real engine,
with python:3.11-slim standing in for a measured workload (no framework image needed)."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from orchestrator.campaign.alone import measure_alone
from orchestrator.campaign.records import CampaignDocument
from orchestrator.errors import RuntimeUnavailableError
from orchestrator.runtimes.base import CAMPAIGN_LABEL, OWNER_LABEL
from orchestrator.runtimes.docker import DockerExecution, DockerRuntime
from tests.conftest import docker_available, require

# Each container is a copy of the image on a vfs engine: about 30 s apiece.
pytestmark = [pytest.mark.docker, pytest.mark.slow]
IMAGE = "python:3.11-slim"


def _cell(study_id: str) -> CampaignDocument:
    """A study cell's campaign.json as new_campaign writes it (only what the key reads)."""
    return CampaignDocument(
        campaign_id="cell-01", created_at=0.0, frameworks=["jax"], iterations=1, seed=0,
        order=[["jax"]], protocol={}, workload={}, dataset={},
        study={"study_id": study_id, "cell_id": "cell-01"}, instance=os.urandom(8).hex(),
    )  # fmt: skip


@pytest.fixture
def engine() -> Iterator[list[str]]:
    """The names of the containers a test creates, every one removed at the end."""
    require(docker_available(), "no Docker engine")
    names: list[str] = []
    yield names
    for name in names:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


@pytest.fixture
def live_owner() -> Iterator[str]:
    """The owner label of another orchestrator that is alive: a process of its own."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    yield f"{socket.gethostname()}:{proc.pid}"
    proc.kill()
    proc.wait()


def _dead_owner() -> str:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}"


def _container(names: list[str], key: str, owner: str, *, running: bool) -> str:
    name = f"fwenergy-test-apart-{os.getpid()}-{len(names)}"
    names.append(name)
    r = subprocess.run(
        ["docker", "run" if running else "create", *(["-d"] if running else []),
         "--network", "none", "--name", name, "--label", f"{CAMPAIGN_LABEL}={key}",
         "--label", f"{OWNER_LABEL}={owner}", IMAGE, "sleep", "300"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return r.stdout.strip()


def _exists(name: str) -> bool:
    r = subprocess.run(["docker", "inspect", name], capture_output=True, check=False)
    return r.returncode == 0


def test_cells_of_two_studies_have_different_keys() -> None:
    a, b = _cell("20261207-040000-sweep"), _cell("20261207-040000-sweep")
    assert a.campaign_id == b.campaign_id  # the same name, even the same study name
    assert a.container_key() != b.container_key()  # the random part tells them apart
    assert a.container_key().startswith("20261207-040000-sweep/cell-01/")


def test_a_resume_never_removes_a_live_container_of_its_own_name(
    engine: list[str], live_owner: str
) -> None:
    """Another study's cell-01 (or the original of a copied folder) measuring now under the
    same key: the resume refuses, and the container keeps running."""
    key = _cell("20261207-040000-sweep").container_key()
    live = _container(engine, key, live_owner, running=True)
    out = io.StringIO()
    with pytest.raises(RuntimeUnavailableError, match="is measuring now") as refused:
        measure_alone(DockerRuntime(), key, False, Console(file=out))
    assert live[:12] in str(refused.value)
    assert _exists(engine[0])


def test_a_resume_removes_only_the_leftovers_whose_orchestrator_is_gone(
    engine: list[str], live_owner: str
) -> None:
    key = _cell("20261207-040000-sweep").container_key()
    dead = _dead_owner()
    running_leftover = _container(engine, key, dead, running=True)
    created_leftover = _container(engine, key, dead, running=False)
    created_live = _container(engine, key, live_owner, running=False)  # being prepared
    out = io.StringIO()
    measure_alone(DockerRuntime(), key, False, Console(file=out, width=300))
    assert not _exists(engine[0]) and not _exists(engine[1])
    assert _exists(engine[2])
    assert f"removed container {running_leftover[:12]}" in out.getvalue()
    assert f"removed container {created_leftover[:12]}" in out.getvalue()
    assert created_live[:12] not in out.getvalue()


def test_a_container_removed_under_a_run_is_reported_as_an_engine_error(
    engine: list[str], tmp_path: Path
) -> None:
    """What the victim of a foreign removal saw: not "free space or fix the path" (the SDK's
    errors are OSErrors) but what happened."""
    cid = _container(engine, "20261207-040000-mnist/0123456789abcdef", "x:1", running=True)
    runtime = DockerRuntime()
    execution = DockerExecution.__new__(DockerExecution)  # around a container made above
    execution.client, execution.container = runtime.client, runtime.client.containers.get(cid)
    execution.spec = SimpleNamespace(framework="jax", out_dir=tmp_path)  # type: ignore[assignment]
    subprocess.run(["docker", "rm", "-f", engine[0]], capture_output=True, check=True)
    with pytest.raises(RuntimeUnavailableError, match="no longer has the container") as caught:
        execution.finish()
    assert not isinstance(caught.value, OSError)
