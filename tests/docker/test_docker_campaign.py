"""A tiny campaign through the docker runtime on the real engine with the built images."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from orchestrator.campaign.records import CampaignDocument
from orchestrator.data import PreparedDataset
from tests.campaign.helpers import (
    TINY,
    campaigns,
    cli,
    load,
    only_campaign,
    popen_cli,
    state_lines,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _containers_of(key: str) -> list[str]:
    import docker

    client = docker.from_env()
    found = client.containers.list(all=True, filters={"label": f"io.fwenergy.campaign={key}"})
    return [c.id for c in found]


def test_tiny_campaign_through_docker(
    docker_images: dict[str, str], tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    r = cli(["campaign", "--runtime", "auto", "--meter", "none", "--iterations", "1",
             "--warmup", "0", "--idle", "1", "--memory-limit", "3g", "--data",
             str(tiny_dataset.path), "--results", str(results), *TINY], tmp_path,
            timeout_s=900)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "runtime: docker" in r.stderr  # auto chose docker: engine up, images present
    folder = only_campaign(results)
    campaign = load(folder / "campaign.json")
    assert campaign["protocol"]["runtime"] == "docker"
    assert campaign["provenance"]["images"] == docker_images
    assert campaign["provenance"]["docker"]["server_version"]

    states = state_lines(folder)
    assert sorted(s["framework"] for s in states) == sorted(docker_images)
    for s in states:
        run_dir = folder / "runs" / s["run_id"]
        run = load(run_dir / "run.json")
        assert run["status"] == "ok", (run["error"], (run_dir / "stdout.log").read_text()[-2000:])
        assert run["runtime"]["kind"] == "docker"
        assert run["runtime"]["image_id"] == docker_images[s["framework"]]
        assert run["runtime"]["container_id"]
        phases = {p["name"] for p in run["phases"]}
        assert {"startup", "data_to_device", "compile", "epoch_1", "eval"} <= phases
        result = load(run_dir / "result.json")
        assert result["framework"] == s["framework"]
        assert result["dataset"]["sha256"] == tiny_dataset.sha256
        # The workload saw exactly what was asked: same threads, no GPU.
        assert result["threads"]["requested"] == 1 and result["device"]["used"] == "cpu"
        assert "epoch" in (run_dir / "stdout.log").read_text()
        if os.getuid() != 0:  # as root the host can read anything; elsewhere check ownership
            assert all(p.stat().st_uid == os.getuid() for p in run_dir.iterdir())

    key = CampaignDocument.from_json(campaign, "campaign.json").container_key()
    assert _containers_of(key) == []  # every container removed
    shutil.rmtree(folder)  # the host user can remove what the containers wrote


def test_out_of_memory_is_recorded_as_oom(
    docker_images: dict[str, str], tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    # 64 MiB (no swap) cannot hold PyTorch: the kernel kills the workload inside its cgroup.
    r = cli(["campaign", "--runtime", "docker", "--meter", "none", "--frameworks", "torch",
             "--iterations", "1", "--warmup", "0", "--idle", "0", "--memory-limit", "64m",
             "--data", str(tiny_dataset.path), "--results", str(results), *TINY], tmp_path,
            timeout_s=600)  # fmt: skip
    assert r.returncode == 1, r.stderr  # its only run did not end ok
    folder = only_campaign(results)
    run = load(folder / "runs" / "001-1-torch" / "run.json")
    assert run["status"] == "oom", run
    assert "out-of-memory" in run["error"] and run["exit_code"] == 137
    assert [s["status"] for s in state_lines(folder)] == ["oom"]


def test_resume_after_sigkill_removes_the_orphaned_container(
    docker_images: dict[str, str], tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    args = ["campaign", "--runtime", "docker", "--meter", "none", "--frameworks", "jax",
            "--iterations", "1", "--warmup", "0", "--idle", "0", "--data",
            str(tiny_dataset.path), "--results", str(results), *TINY]  # fmt: skip
    proc = popen_cli(args, tmp_path)
    try:
        events = None
        deadline = time.monotonic() + 300
        while events is None or not events.exists():
            assert time.monotonic() < deadline and proc.poll() is None, "no run started"
            time.sleep(0.5)
            if campaigns(results):
                events = only_campaign(results) / "runs" / "001-1-jax" / "events.jsonl"
        proc.kill()  # the workload's container keeps running without its orchestrator
    finally:
        proc.wait(timeout=60)
    folder = only_campaign(results)
    # Its containers carry the campaign's host-unique key (id and instance), not the id.
    campaign = CampaignDocument.from_json(load(folder / "campaign.json"), "campaign.json")
    campaign_id = campaign.container_key()
    assert len(_containers_of(campaign_id)) == 1
    assert state_lines(folder) == []

    r = cli(["campaign", "--resume", str(folder)], tmp_path, timeout_s=600)
    assert r.returncode == 0, r.stderr
    assert "left by a killed orchestrator" in r.stderr
    assert [s["status"] for s in state_lines(folder)] == ["ok"]
    assert _containers_of(campaign_id) == []


def test_a_run_folder_named_after_a_variant_mounts_in_docker(
    docker_images: dict[str, str], tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    """Variant names put `:` and `@` in run folders (`001-1-jax@0.5:scan`); Docker's volume
    syntax splits on `:`, so the runtime mounts them as mounts."""
    from orchestrator.runtimes.base import RunSpec
    from orchestrator.runtimes.docker import DockerRuntime

    out = tmp_path / "runs" / "001-1-jax@0.5:scan"
    out.mkdir(parents=True)
    spec = RunSpec(framework="jax", data_dir=tiny_dataset.path, out_dir=out,
                   workload_args=tuple(TINY))  # fmt: skip
    execution = DockerRuntime().prepare(spec)
    try:
        execution.start()
        assert execution.wait(600)
        state = execution.finish()
    finally:
        execution.cleanup()
    assert state.exit_code == 0, (out / "stdout.log").read_text()[-2000:]
    assert load(out / "result.json")["framework"] == "jax"
