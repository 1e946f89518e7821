"""A batch larger than the training data is refused, by the campaign before its folder
exists and by the workload itself; JAX would otherwise never take its compiled regular
step, and log no compile phase (issue 12)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator.data import PreparedDataset
from tests.campaign.helpers import cli
from tests.conftest import framework_python, require, workload_env


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--batch-size", "200", "--limit-train", "128"],
         "--batch-size 200 exceeds the 128 training images"),
        (["--batch-size", "300"], "--batch-size 300 exceeds the 256 training images"),
        (["--limit-train", "1000"], "--limit-train 1000 exceeds the dataset's 256 images"),
        (["--limit-test", "129"], "--limit-test 129 exceeds the dataset's 128 images"),
    ],
)  # fmt: skip
def test_the_campaign_refuses_before_its_folder_exists(
    args: list[str], expected: str, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    r = cli(["campaign", "--runtime", "local", "--meter", "none", "--frameworks", "jax",
             "--data", str(tiny_dataset.path), "--results", str(results), *args],
            tmp_path)  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"error: {expected}" + r.stderr.split(expected)[1].rstrip()
    ]
    assert not results.exists()


@pytest.mark.frameworks
def test_the_workload_refuses_it_too(tiny_dataset: PreparedDataset, tmp_path: Path) -> None:
    python = framework_python("jax")
    require(python.exists(), "no jax environment: run `make venvs`")
    env = workload_env("jax")
    r = subprocess.run(
        [str(python), "-m", "workload", "train", "--data", str(tiny_dataset.path), "--out",
         str(tmp_path / "out"), "--batch-size", "200", "--limit-train", "128", "--threads", "1"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        "error: --batch-size 200 exceeds the 128 training examples; give a smaller batch or "
        "more data"
    ]
    assert not (tmp_path / "out").exists()
