"""A GPU run's container asks the engine for one GPU, the metered one (--gpu), not all."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.runtimes.base import RunSpec
from orchestrator.runtimes.docker import DockerExecution
from tests.conftest import docker_available, require

STAND_IN = "python:3.11-slim-bookworm"


@pytest.mark.docker
def test_the_container_requests_only_the_runs_gpu(tmp_path: Path) -> None:
    require(docker_available(), "no Docker engine: ../shared/tools/sandbox-docker.sh")
    import docker

    client = docker.from_env()
    try:
        image = client.images.get(STAND_IN)
    except docker.errors.ImageNotFound:
        require(False, f"the stand-in image {STAND_IN} is missing")
    (tmp_path / "data").mkdir()
    (tmp_path / "out").mkdir()
    spec = RunSpec("torch", tmp_path / "data", tmp_path / "out", (), device="gpu", gpu=1)
    execution = DockerExecution(client, image, spec)  # created, never started: no GPU here
    try:
        execution.container.reload()
        (request,) = execution.container.attrs["HostConfig"]["DeviceRequests"]
        assert request["DeviceIDs"] == ["1"]
        assert request["Count"] in (0, None)  # not -1: every GPU
        assert request["Capabilities"] == [["gpu"]]
    finally:
        execution.cleanup()
