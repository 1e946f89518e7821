"""Studies on stand-in workloads (seconds, not minutes): SIGTERM mid-cell and the resume
hint, a cell finished on its own with `run-cell` (what a cluster executor runs), and the
precision rule inside every cell."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestrator.data import PreparedDataset
from tests.campaign.helpers import cli, cli_env, load, popen_cli, state_lines
from tests.study.conftest import simulated_venvs

STUDY = """\
name = "adaptive"
iterations = 8
min_iterations = 6
until_precision = 0.1
frameworks = ["torch", "jax"]
[protocol]
runtime = "local"
meter = "none"
warmup_s = 0
idle_s = 0
[workload]
data = "{data}"
threads = 1
[matrix]
batch_size = [32, 64]
"""


def test_sigterm_run_cell_and_resume_finish_every_cell_under_its_rule(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    venvs = simulated_venvs(tmp_path / "venvs", {"torch": "1.0", "jax": "1.5"})
    study_file = tmp_path / "adaptive.toml"
    study_file.write_text(STUDY.format(data=tiny_dataset.path))
    results = tmp_path / "results"
    proc = popen_cli(["study", "run", str(study_file), "--results", str(results)], tmp_path,
                     venvs=venvs)  # fmt: skip
    try:
        end = time.monotonic() + 120
        while not list(results.glob("*/cells/*/state.jsonl")):
            assert time.monotonic() < end and proc.poll() is None, "the study never started"
            time.sleep(0.2)
        (study,) = [p for p in results.iterdir() if not p.name.startswith(".")]
        first = load(study / "study.json")["order"][0]
        status = json.loads(cli(["study", "status", str(study), "--json"], tmp_path).stdout)
        assert [c["state"] for c in status["cells"]] == ["running", "pending"]
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert f"Resume with: orchestrator study run --resume {study}" in stderr
    assert "aborted" in {s["status"] for s in state_lines(study / "cells" / first)}

    # The interrupted cell alone, from its folder: what a Slurm job per cell runs.
    r = cli(["study", "run-cell", str(study), first], tmp_path, venvs=venvs)
    assert r.returncode == 0, r.stderr
    status = json.loads(cli(["study", "status", str(study), "--json"], tmp_path).stdout)
    assert {c["cell_id"]: c["state"] for c in status["cells"]}[first] == "done"

    r = cli(["study", "run", "--resume", str(study)], tmp_path, venvs=venvs)
    assert r.returncode == 0, r.stderr
    assert "1 cells already done" in r.stderr
    for cell in ("cell-01", "cell-02"):
        folder = study / "cells" / cell
        stopping = load(folder / "campaign.json")["stopping"]
        assert stopping["reason"] == "precision" and stopping["stopped_after_iteration"] < 8
        ok = [s["run_id"] for s in state_lines(folder) if s["status"] == "ok"]
        # every run of the iterations before the stop, each once, and none after it
        assert len(ok) == len(set(ok)) == 2 * stopping["stopped_after_iteration"], ok
    status = json.loads(cli(["study", "status", str(study), "--json"], tmp_path).stdout)
    assert {c["state"] for c in status["cells"]} == {"done"}
    assert all(c["stopped_after"] is not None for c in status["cells"])

    # A folder whose study.json no longer matches its study file is refused.
    doc = load(study / "study.json")
    doc["cells"][0]["factors"] = {"batch_size": 999}
    (study / "study.json").write_text(json.dumps(doc))
    r = cli(["study", "status", str(study)], tmp_path)
    assert r.returncode == 2 and "is damaged: its cells do not match" in r.stderr


def test_relative_paths_work_from_any_directory(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    venvs = simulated_venvs(tmp_path / "venvs", {"torch": "0.1", "jax": "0.1"})
    work = tmp_path / "work"
    work.mkdir()
    (work / "s.toml").write_text(
        STUDY.format(data=tiny_dataset.path).replace("iterations = 8\nmin_iterations = 6\n"
                                                     "until_precision = 0.1\n", "iterations = 1\n")
    )  # fmt: skip
    env = cli_env(tmp_path, venvs)
    run = [sys.executable, "-m", "orchestrator", "study", "run", "s.toml", "--results", "res"]
    r = subprocess.run(run, cwd=work, env=env, capture_output=True, text=True, timeout=120,
                       check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr
    (study,) = (work / "res").iterdir()
    for cell in ("cell-01", "cell-02"):
        assert [s["status"] for s in state_lines(study / "cells" / cell)] == ["ok", "ok"]
        assert (study / "cells" / cell / "runs" / "001-1-torch" / "result.json").exists() or (
            study / "cells" / cell / "runs" / "001-1-jax" / "result.json"
        ).exists()
