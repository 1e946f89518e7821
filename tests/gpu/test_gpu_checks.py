"""A GPU campaign is checked before anything is created: a driver, the GPU asked for, a
runtime that can give the workload that one GPU, and every framework seeing it. This machine
has no GPU, so the refusals run for real; the driver side of a machine with GPUs is the fake
NVML (nvidia-ml-py's names), and the framework side real environments or stand-ins that
answer `python -m workload devices` as a CUDA build would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.errors import RuntimeUnavailableError
from orchestrator.machine import gpu
from orchestrator.runtimes.docker import DockerRuntime, image_tag
from orchestrator.runtimes.local import LocalRuntime
from tests.campaign.helpers import TINY, cli
from tests.conftest import docker_available, framework_python, require, stand_in_venvs
from tests.fakes.pynvml_fake import NVML_ERROR_LIBRARY_NOT_FOUND, FakeGpu, make_fake_pynvml

H100 = FakeGpu(100.0)


def _no_driver_here() -> None:
    try:
        gpu.nvml_gpus()
    except gpu.GpuUnavailableError:
        return
    pytest.skip("this machine has an NVIDIA driver: the refusal cannot be shown here")


@pytest.mark.parametrize(
    "command",
    [
        ["campaign", "--runtime", "local", "--meter", "none", "--iterations", "1"],
        ["campaign", "--runtime", "docker", "--meter", "auto"],
        ["run", "--framework", "torch", "--runtime", "local", "--meter", "none"],
    ],
)
def test_a_gpu_campaign_without_a_gpu_is_one_line_and_creates_nothing(
    command: list[str], tmp_path: Path
) -> None:
    _no_driver_here()
    results = tmp_path / "results"
    r = cli([*command, "--device", "gpu", "--dataset", "synthetic", "--results", str(results),
             *TINY], tmp_path)  # fmt: skip
    assert r.returncode == 2, r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert "--device gpu" in line and "NVIDIA driver" in line
    assert not results.exists()


def test_the_gpu_asked_for_must_exist() -> None:
    nvml = make_fake_pynvml([H100, FakeGpu(90.0, name="NVIDIA A100-SXM4-40GB")])
    assert gpu.check_driver(1, nvml) == "NVIDIA A100-SXM4-40GB"
    with pytest.raises(gpu.GpuUnavailableError, match=r"--gpu 2: this machine's GPUs are 0 \("):
        gpu.check_driver(2, nvml)
    with pytest.raises(gpu.GpuUnavailableError, match="no NVIDIA driver answers"):
        gpu.check_driver(0, make_fake_pynvml([], init_error=NVML_ERROR_LIBRARY_NOT_FOUND))
    with pytest.raises(gpu.GpuUnavailableError, match="reports no GPU"):
        gpu.check_driver(0, make_fake_pynvml([]))


@pytest.mark.frameworks
@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_a_cpu_build_of_a_framework_is_refused(framework: str) -> None:
    """The real CPU environments answer `devices` with no GPU."""
    require(framework_python(framework).exists(), "no framework environments: make venvs")
    runtime = LocalRuntime()
    assert runtime.visible_gpus(framework, 0) == []
    with pytest.raises(gpu.GpuUnavailableError, match=f"{framework} sees no GPU in its local"):
        gpu.check_frameworks(runtime, [framework], 0)


def _stand_in_venvs(root: Path, reply: str) -> Path:
    """Environments whose interpreter answers `-m workload devices` with `reply`, and keeps
    the CUDA_VISIBLE_DEVICES it was given, as a CUDA build's would."""
    return stand_in_venvs(root, {
        fw: f'#!/bin/sh\necho "$CUDA_VISIBLE_DEVICES" > "{root}/{fw}.visible"\necho \'{reply}\'\n'
        for fw in ("torch", "jax")
    })  # fmt: skip


def test_each_framework_is_asked_with_only_the_campaigns_gpu(tmp_path: Path) -> None:
    venvs = _stand_in_venvs(tmp_path, json.dumps({"framework": "x", "gpus": ["NVIDIA H100"]}))
    gpu.check_frameworks(LocalRuntime(venvs), ["torch", "jax"], 3)
    assert (venvs / "torch.visible").read_text().strip() == "3"
    assert (venvs / "jax.visible").read_text().strip() == "3"


def test_a_framework_that_sees_more_than_its_gpu_is_refused(tmp_path: Path) -> None:
    venvs = _stand_in_venvs(tmp_path, json.dumps({"framework": "x", "gpus": ["a", "b"]}))
    with pytest.raises(gpu.GpuUnavailableError, match="sees 2 GPUs although it was given"):
        gpu.check_frameworks(LocalRuntime(venvs), ["torch"], 0)


def test_a_broken_environment_is_named(tmp_path: Path) -> None:
    venvs = _stand_in_venvs(tmp_path, "Traceback: ImportError")
    with pytest.raises(RuntimeUnavailableError, match="cannot ask the torch environment"):
        LocalRuntime(venvs).visible_gpus("torch", 0)


@pytest.mark.docker
def test_an_engine_without_the_container_toolkit_is_named() -> None:
    """The real engine, asked to start a container with one GPU, has no GPU driver for it."""
    require(docker_available(), "no Docker engine: ../shared/tools/sandbox-docker.sh")
    import docker

    client = docker.from_env()
    tag = image_tag("jax", "gpu")
    try:
        client.images.get(tag)
        pytest.skip(f"{tag} exists here: this engine may well have a GPU")
    except docker.errors.ImageNotFound:
        pass
    stand_in = client.images.get("python:3.11-slim-bookworm")
    stand_in.tag(tag)  # only so the runtime finds an image under the GPU tag
    try:
        with pytest.raises(RuntimeUnavailableError, match="NVIDIA Container Toolkit"):
            DockerRuntime(client).visible_gpus("jax", 0)
    finally:
        client.images.remove(tag)


def test_make_builds_the_gpu_images_on_request(repo: Path) -> None:
    import subprocess

    dry = subprocess.run(
        ["make", "-n", "-C", str(repo), "build", "DEVICE=gpu"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert "orchestrator build" in dry and "--device gpu" in dry


def test_a_gpu_study_without_a_gpu_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    _no_driver_here()
    study = tmp_path / "gpu.toml"
    study.write_text(
        'name = "gpu"\niterations = 2\nframeworks = ["torch"]\n'
        '[protocol]\nruntime = "local"\nmeter = "none"\n'
        '[workload]\ndataset = "synthetic"\ndevice = "gpu"\n'
        "[matrix]\nbatch_size = [32, 64]\n"
    )
    results = tmp_path / "results"
    r = cli(["study", "run", str(study), "--results", str(results)], tmp_path)
    assert r.returncode == 2, r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert "--device gpu" in line and "NVIDIA driver" in line
    assert not results.exists() or not any(results.iterdir())
