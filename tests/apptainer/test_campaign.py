"""A campaign through `--runtime apptainer`: the real CLI, the real workload (torch and JAX on
tiny synthetic data) run by the fake apptainer from .sif files that `orchestrator build --sif`
converted; the provenance it records; the one-line refusals."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from orchestrator.data import PreparedDataset
from orchestrator.runtimes.apptainer import build_sif, sif_labels, sif_name
from tests.apptainer.conftest import (
    FAKE,
    apptainer_env,
    build_sifs,
    docker_archive,
    exec_calls,
)
from tests.campaign.helpers import TINY, cli, load, only_campaign, state_lines
from tests.conftest import docker_available, require


def _campaign(data: str, results: Path, *extra: str) -> list[str]:
    return ["campaign", "--data", data, "--results", str(results), "--runtime", "apptainer",
            "--meter", "none", "--iterations", "1", "--frameworks", "torch,jax",
            "--warmup", "0", "--idle", "0", *TINY, *extra]  # fmt: skip


def _sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.frameworks
def test_a_campaign_runs_from_the_sifs_records_hash_and_version_and_refuses_a_rebuilt_one(
    jax_and_torch_installed: None, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    sifs = tmp_path / "sifs"
    build_sifs(tmp_path, sifs, ["torch", "jax"])
    results = tmp_path / "results"
    env = apptainer_env(tmp_path, sifs)
    # pinned to the last CPU: the workload (one thread) would take the first one by itself
    last_cpu = str(max(os.sched_getaffinity(0)))
    r = cli([*_campaign(tiny_dataset.path, results), "--cpuset", last_cpu], tmp_path,
            extra_env=env, timeout_s=600)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"runtime: apptainer 1.3.4, images in {sifs} (as asked)" in r.stderr
    folder = only_campaign(results)
    assert [s["status"] for s in state_lines(folder)] == ["ok", "ok"]
    campaign = load(folder / "campaign.json")
    assert campaign["protocol"]["runtime"] == "apptainer"
    prov = campaign["provenance"]
    for fw in ("torch", "jax"):
        sif = sifs / sif_name(fw)
        assert prov["images"][fw] == _sha256(sif)
        software = prov["software"][fw]
        assert software["image"] == str(sif) and software["apptainer_version"] == "1.3.4"
        assert software["labels"]["io.fwenergy.framework"] == fw
        (run,) = folder.glob(f"runs/001-*-{fw}")
        record = load(run / "run.json")
        assert record["runtime"] == {
            "kind": "apptainer", "image": str(sif), "image_id": _sha256(sif),
            "apptainer_version": "1.3.4",
        }  # fmt: skip
        result = load(run / "result.json")
        assert result["framework"] == fw and result["dataset"]["sha256"] == tiny_dataset.sha256
        assert result["threads"]["affinity"] == [int(last_cpu)]
    calls = exec_calls(tmp_path)
    assert len(calls) == 2
    for call in calls:
        image = next(a for a in call if a.endswith(".sif"))
        options = call[1 : call.index(image)]
        assert {"--containall", "--cleanenv", "--no-home"} <= set(options)
        assert f"{Path(tiny_dataset.path).resolve()}:/data:ro" in options
        assert "--nv" not in options
        assert call[call.index(image) + 1 :][:5] == ["python", "-m", "workload", "train", "--data"]
    r = cli(["analyze", str(folder)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Runs in Apptainer containers" in (folder / "report" / "report.md").read_text()
    # a .sif rebuilt since: resuming refuses it, as it refuses a changed docker image
    archive = docker_archive(tmp_path / "new.tar", "torch", {"rebuilt": "yes"})
    r = cli(["build", "--sif", "--framework", "torch", "--from-archive", str(archive)], tmp_path,
            extra_env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = cli(["campaign", "--resume", str(folder)], tmp_path, extra_env=env)
    assert r.returncode == 2
    assert "the torch image changed since the campaign began" in r.stderr


@pytest.mark.parametrize("problem", ["no apptainer", "no sif", "not a sif"])
def test_a_missing_apptainer_or_image_is_one_line_exit_2_and_nothing_created(
    problem: str, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    sifs = tmp_path / "sifs"
    sifs.mkdir()
    env = apptainer_env(tmp_path, sifs)
    if problem == "no apptainer":
        env["PATH"] = str(tmp_path / "nothing")  # not even a real apptainer of this host
    elif problem == "not a sif":
        (sifs / sif_name("torch")).write_bytes(b"<html>a download that failed</html>")
    results = tmp_path / "results"
    r = cli(_campaign(tiny_dataset.path, results), tmp_path, extra_env=env)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    expected = {
        "no apptainer": "apptainer is not on PATH; install Apptainer or load its module",
        "no sif": f"{sifs / sif_name('torch')} is missing; build it with `orchestrator build "
                  "--sif --framework torch`",
        "not a sif": "is not a SIF image; build it with `orchestrator build --sif",
    }[problem]  # fmt: skip
    assert expected in lines[0]
    assert not results.exists() or not any(results.iterdir())
    assert exec_calls(tmp_path) == []


def test_build_sif_refuses_a_missing_archive_and_needs_one_framework(tmp_path: Path) -> None:
    env = apptainer_env(tmp_path, tmp_path / "sifs")
    r = cli(["build", "--sif", "--framework", "torch", "--from-archive",
             str(tmp_path / "none.tar")], tmp_path, extra_env=env)  # fmt: skip
    assert r.returncode == 2 and "none.tar: no such file (`docker save`)" in r.stderr
    archive = docker_archive(tmp_path / "t.tar", "torch")
    r = cli(["build", "--sif", "--framework", "torch", "--framework", "jax", "--from-archive",
             str(archive)], tmp_path, extra_env=env)  # fmt: skip
    assert r.returncode == 2 and "give --sif and one --framework" in r.stderr
    assert not (tmp_path / "sifs").exists()


@pytest.mark.docker
def test_build_sif_converts_the_pinned_image_from_the_docker_engine(
    apptainer_user: Path, tmp_path: Path
) -> None:
    require(docker_available(), "no Docker engine")
    tag = "fwenergy/jax:0.1.0"
    present = subprocess.run(["docker", "image", "inspect", tag], capture_output=True,
                             check=False).returncode == 0  # fmt: skip
    require(present, f"no {tag} image: `make build`")
    sifs = apptainer_user
    sif = build_sif("jax", log=str)
    assert sif == sifs / sif_name("jax")
    log = [json.loads(line) for line in (tmp_path / "apptainer.log").read_text().splitlines()]
    assert log[-1] == ["build", "--force", str(sif), f"docker-daemon://{tag}"]
    assert sif_labels(str(FAKE), sif)["io.fwenergy.framework"] == "jax"


def test_auto_never_picks_apptainer(
    torch_installed: None, apptainer_user: Path, tmp_path: Path
) -> None:
    from orchestrator.runtimes.select import select_runtime

    sifs = apptainer_user
    build_sifs(tmp_path, sifs, ["torch"])
    rt, why = select_runtime("auto", ["torch"], "cpu")
    assert rt.kind in ("docker", "local") and "apptainer" not in why
