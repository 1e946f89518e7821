"""A GPU run's container asks the engine for one GPU, the metered one (--gpu), not all."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import RuntimeUnavailableError
from orchestrator.runtimes.base import RunSpec
from orchestrator.runtimes.docker import DockerExecution, DockerRuntime
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


class _StandInGpuImage(DockerRuntime):
    """The GPU image is built only where a GPU is; the stand-in image takes its place."""

    def image(self, framework: str, device: str) -> Any:
        return self.client.images.get(STAND_IN)


def _containers_of_stand_in() -> set[str]:
    """The visibility checks' containers: of the stand-in itself (not an image built on it,
    as the framework images are), running `devices`."""
    image = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", STAND_IN],
                           capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    r = subprocess.run(["docker", "ps", "-a", "--no-trunc", "--filter", f"ancestor={STAND_IN}",
                        "--format", "{{.ID}} {{.Image}} {{.Command}}"],
                       capture_output=True, text=True, check=True)  # fmt: skip
    return {
        line.split()[0] for line in r.stdout.splitlines()
        if line.split()[1:] == [image, '"devices"']
    }  # fmt: skip


@pytest.mark.docker
def test_a_failed_gpu_visibility_check_leaves_no_container() -> None:
    """On an engine without the NVIDIA toolkit the check's container is created but cannot
    start: it was left behind (issue 24, minor)."""
    require(docker_available(), "no Docker engine: ../shared/tools/sandbox-docker.sh")
    require(shutil.which("nvidia-smi") is None, "a GPU machine: the start would succeed")
    before = _containers_of_stand_in()
    with pytest.raises(RuntimeUnavailableError, match="cannot give a container a GPU"):
        _StandInGpuImage().visible_gpus("torch", 0)
    assert _containers_of_stand_in() - before == set()
