"""The exact `apptainer exec` line the runtime builds, and how the fake (the real CLI's
grammar, messages and exit codes) answers the calls the runtime makes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from orchestrator.errors import RuntimeUnavailableError
from orchestrator.machine import gpu
from orchestrator.runtimes.apptainer import (
    ApptainerRuntime,
    apptainer_version,
    bind_args,
    build_sif,
    exec_command,
    sif_name,
)
from orchestrator.runtimes.base import RunSpec
from tests.apptainer.conftest import FAKE, apptainer_env, build_sifs, docker_archive, exec_calls

WORKLOAD = ("--epochs", "1", "--threads", "2")


def _spec(tmp: Path, **kwargs: object) -> RunSpec:
    data, out = tmp / "data", tmp / "runs" / "001-1-torch"
    data.mkdir(exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    return RunSpec("torch", data, out, WORKLOAD, **kwargs)  # type: ignore[arg-type]


def test_a_cpu_run_is_contained_with_a_clean_environment_and_the_data_read_only(
    tmp_path: Path,
) -> None:
    spec = _spec(tmp_path, cpuset="0-1")
    sif = tmp_path / "fwenergy-torch-0.1.0.sif"
    assert exec_command("/usr/bin/apptainer", sif, spec) == [
        "/usr/bin/apptainer", "exec", "--containall", "--cleanenv", "--no-home", "--pwd", "/tmp",
        "--bind", f"{tmp_path}/data:/data:ro", "--bind", f"{tmp_path}/runs/001-1-torch:/out",
        str(sif), "python", "-m", "workload", "train", "--data", "/data", "--out", "/out",
        *WORKLOAD,
    ]  # fmt: skip


def test_only_a_gpu_run_gets_nv_and_exactly_its_one_gpu(tmp_path: Path) -> None:
    sif = tmp_path / "x.sif"
    cpu = exec_command("apptainer", sif, _spec(tmp_path))
    assert "--nv" not in cpu and not any("CUDA" in a for a in cpu)
    gpu = exec_command("apptainer", sif, _spec(tmp_path, device="gpu", gpu=3))
    options = gpu[: gpu.index(str(sif))]
    assert "--nv" in options
    assert options[-4:] == ["--env", "CUDA_DEVICE_ORDER=PCI_BUS_ID",
                            "--env", "CUDA_VISIBLE_DEVICES=3"]  # fmt: skip


def test_a_memory_limit_is_apptainers_cgroup_limit_without_swap(tmp_path: Path) -> None:
    line = exec_command("apptainer", tmp_path / "x.sif", _spec(tmp_path, memory_limit="8g"))
    assert line[line.index("--memory") : line.index("--memory") + 4] == [
        "--memory", "8g", "--memory-swap", "8g"]  # fmt: skip


def test_a_path_with_a_colon_or_comma_goes_through_mount_not_bind() -> None:
    # --bind SRC:DST:ro splits on ':' and ','; a variant's run folder has a colon.
    assert bind_args(Path("/r/001-1-torch:compile"), "/out", False) == [
        "--mount", "type=bind,source=/r/001-1-torch:compile,destination=/out"]  # fmt: skip
    assert bind_args(Path("/d/a,b"), "/data", True) == [
        "--mount", 'type=bind,"source=/d/a,b",destination=/data,ro']  # fmt: skip


@pytest.mark.frameworks
def test_the_fake_maps_a_mount_with_a_colon_and_runs_the_command(tmp_path: Path) -> None:
    sifs = tmp_path / "sifs"
    build_sifs(tmp_path, sifs, ["torch"])
    out = tmp_path / "001-1-torch:compile"
    out.mkdir()
    env = apptainer_env(tmp_path, sifs)
    r = subprocess.run(
        [str(FAKE), "exec", "--containall", "--cleanenv",
         *bind_args(out, "/out", False), str(sifs / sif_name("torch")),
         "python", "-c", "import sys; open(sys.argv[1], 'w').write('hi')", "/out/f"],
        capture_output=True, text=True, check=False, env={**os.environ, **env},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (out / "f").read_text() == "hi"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["exec"], 1, 'Error for command "exec": requires at least 2 arg(s), only received 0'),
        (["exec", "--no-such", "x.sif", "true"], 1,
         'Error for command "exec": unknown flag: --no-such'),
        (["exec", "-Ce", "/nowhere.sif", "true"], 255,
         "FATAL:   could not open image /nowhere.sif: failed to retrieve path for "
         "/nowhere.sif: lstat /nowhere.sif: no such file or directory"),
    ],
)  # fmt: skip
def test_the_fake_answers_bad_calls_as_the_real_cli_does(
    args: list[str], code: int, message: str
) -> None:
    r = subprocess.run([str(FAKE), *args], capture_output=True, text=True, check=False)
    assert r.returncode == code
    assert r.stderr.splitlines()[0] == message


def test_the_version_is_read_from_apptainers_own_line(tmp_path: Path) -> None:
    assert apptainer_version(str(FAKE)) == "1.3.4"
    other = tmp_path / "singularity"
    other.write_text("#!/bin/sh\necho 'singularity-ce version 4.1.0'\n")
    other.chmod(0o755)
    with pytest.raises(RuntimeUnavailableError, match="not 'apptainer version X'"):
        apptainer_version(str(other))


def test_sif_names_follow_the_docker_tags() -> None:
    assert sif_name("torch") == "fwenergy-torch-0.1.0.sif"
    assert sif_name("jax@0.5", "gpu") == "fwenergy-jax-0.5-0.1.0-gpu.sif"
    assert sif_name("torch:compile") == sif_name("torch")  # an implementation: its image


def test_a_sif_of_another_framework_is_refused(apptainer_user: Path, tmp_path: Path) -> None:
    sifs = apptainer_user
    build_sifs(tmp_path, sifs, ["jax"])
    (sifs / sif_name("jax")).rename(sifs / sif_name("torch"))
    rt = ApptainerRuntime()
    with pytest.raises(RuntimeUnavailableError, match="is the jax image, not torch's"):
        rt.software(["torch"], "cpu")


def test_a_gpu_check_asks_the_gpu_sif_with_nv_and_names_the_fix(
    torch_installed: None, apptainer_user: Path, tmp_path: Path
) -> None:
    sifs = apptainer_user
    build_sif("torch", "gpu", archive=docker_archive(tmp_path / "t.tar", "torch"), log=str)
    # the CPU torch environment stands for the GPU image here: it sees no GPU
    with pytest.raises(gpu.GpuUnavailableError, match=r"orchestrator build --sif --device gpu"):
        gpu.check_frameworks(ApptainerRuntime(), ["torch"], 2)
    (call,) = exec_calls(tmp_path)
    assert str(sifs / sif_name("torch", "gpu")) in call
    assert {"--nv", "CUDA_VISIBLE_DEVICES=2", "--containall", "--cleanenv"} <= set(call)
    assert call[-4:] == ["python", "-m", "workload", "devices"]


def test_nothing_of_ours_reaches_the_workload_but_what_env_passes(
    torch_installed: None, apptainer_user: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sifs = apptainer_user
    build_sifs(tmp_path, sifs, ["torch"])
    # apptainer passes APPTAINERENV_X into the container as X even with --cleanenv
    monkeypatch.setenv("APPTAINERENV_OMP_NUM_THREADS", "64")
    monkeypatch.setenv("OMP_NUM_THREADS", "32")
    spec = _spec(tmp_path)
    execution = ApptainerRuntime().prepare(spec)
    probe = "import os, json; print(json.dumps(dict(os.environ)))"
    command = execution.command()
    image_at = command.index(str(sifs / sif_name("torch")))
    r = subprocess.run([*command[: image_at + 1], "python", "-c", probe], capture_output=True,
                       text=True, check=True, env=execution.environment())  # fmt: skip
    seen = json.loads(r.stdout)
    assert "OMP_NUM_THREADS" not in seen and "FWENERGY_VENVS" not in seen
