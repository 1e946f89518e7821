"""benchmarks/workloads.py (`make bench-workloads`): each workload next to an expert's plain
reference loop (benchmarks/references/), in alternating pairs, as a ratio with its spread."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FRAMEWORKS, REPO, VENVS, framework_python, require

REFERENCES = REPO / "benchmarks" / "references"


def test_the_references_share_no_code_with_the_workload() -> None:
    """Each reference and their harness import only the framework, NumPy and the standard
    library: no `workload` module, no sys.path games to reach images/."""
    for path in sorted(REFERENCES.glob("*.py")):
        tree = ast.parse(path.read_text())
        imported = {
            (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert not {m for m in imported if m.split(".")[0].startswith("workload")}, path
        assert "sys" not in imported, path
    assert {p.stem for p in REFERENCES.glob("ref_*.py")} == {f"ref_{f}" for f in FRAMEWORKS}


def run_bench(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """benchmarks/SCRIPT with the test session's framework environments."""
    cmd = [sys.executable, str(REPO / "benchmarks" / script), *args]
    env = {**os.environ, "FWENERGY_VENVS": str(VENVS)}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)


@pytest.mark.frameworks
def test_bench_prints_each_workload_as_a_ratio_to_its_reference(tmp_path: Path) -> None:
    for framework in FRAMEWORKS:
        require(framework_python(framework).exists(), "framework environments: make venvs")
    proc = run_bench(
        "workloads.py", "--json", "--limit-train", "128", "--limit-test", "32",
        "--batch-sizes", "32,64", "--repeat", "2", "--threads", "1",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert set(summary) == {"32", "64"}
    for rows in summary.values():
        assert set(rows) == set(FRAMEWORKS)
        for s in rows.values():
            assert len(s["runs"]) == 2
            for key in ("ratio", "cpu_ratio", "workload_images_per_s", "reference_images_per_s"):
                assert 0 < s[key]["min"] <= s[key]["median"] <= s[key]["max"]
            ratios = [
                r["workload"]["images_per_s"] / r["reference"]["images_per_s"] for r in s["runs"]
            ]
            assert min(ratios) == s["ratio"]["min"] and max(ratios) == s["ratio"]["max"]
            # one thread: at most one CPU busy (CPU time from result.json's epochs[].cpu_s)
            for r in s["runs"]:
                assert 0 < r["workload"]["cpu_use"] < 1.2 and 0 < r["reference"]["cpu_use"] < 1.2
            assert [r["first"] for r in s["runs"]] == ["workload", "reference"]
            # 4 speeds are too few to test for two modes: none is counted slow.
            assert s["bimodal"] is False
            assert s["slow_mode_runs"] == {"workload": 0, "reference": 0}
    log = [line for line in proc.stderr.splitlines() if line.strip().startswith("batch")]
    assert len(log) == 2 * 2 * len(FRAMEWORKS)


def test_bench_refuses_one_epoch() -> None:
    proc = run_bench("workloads.py", "--epochs", "1")
    assert proc.returncode == 2 and "--epochs must be at least 2" in proc.stderr


@pytest.mark.frameworks
def test_the_keras_pipeline_bench_times_each_epoch_and_its_stall_per_setting() -> None:
    """benchmarks/keras_pipeline.py (`make bench-keras-pipeline`): both tf.data settings, in
    alternating processes, each steady epoch's `fit` and the stall inside it."""
    require(framework_python("keras").exists(), "framework environments: make venvs")
    proc = run_bench(
        "keras_pipeline.py", "--json", "--repeat", "2", "--epochs", "2", "--images", "256",
        "--batch-size", "64", "--threads", "1",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    steady = json.loads(proc.stdout)
    assert set(steady) == {"autotune-on", "autotune-off"}
    for epochs in steady.values():
        assert len(epochs) == 2  # 2 processes x (2 epochs - the first)
        assert all(0 <= e["stall_s"] < e["fit_s"] for e in epochs)


def test_the_keras_pipeline_bench_refuses_one_epoch() -> None:
    proc = run_bench("keras_pipeline.py", "--epochs", "1")
    assert proc.returncode == 2 and "--epochs must be at least 2" in proc.stderr
