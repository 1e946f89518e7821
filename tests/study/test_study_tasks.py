"""The study matrix's `model` and `task` set each cell's campaign: the cell's campaign records
them, runs `python -m workload TASK --model MODEL`, and the study report says what each cell
did. A study's training defaults (epochs) apply to its training cells only."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.data import PreparedDataset, prepare_dataset
from orchestrator.study.spec import campaign_options, parse_text
from tests.campaign.helpers import cli, load, state_lines
from tests.conftest import infer_venvs

STUDY = """\
name = "inference-batches"
iterations = 2
seed = 3
frameworks = ["torch", "jax"]
[protocol]
runtime = "local"
meter = "none"
warmup_s = 0
idle_s = 0
[workload]
data = "{data}"
epochs = 2
limit_test = 64
threads = 1
model = "mnist-cnn"
[matrix]
task = {tasks}
batch_size = [16, 32]
"""


def test_model_and_task_become_each_cells_campaign_options(tmp_path: Path) -> None:
    study = parse_text(STUDY.format(data=tmp_path, tasks='["train", "infer"]'), "s.toml", tmp_path)
    by_task: dict[str, list[dict[str, object]]] = {}
    for cell in study.cells:
        options = campaign_options(cell)
        by_task.setdefault(str(options["task"]), []).append(options)
    assert sorted(by_task) == ["infer", "train"]
    for options in by_task["train"]:
        assert options["model"] == "mnist-cnn" and options["epochs"] == 2
    for options in by_task["infer"]:
        # --epochs would be refused by an inference campaign: the study leaves it out
        assert options["model"] == "mnist-cnn" and "epochs" not in options


def test_an_inference_study_runs_each_cell_and_reports_its_task(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    venvs = infer_venvs(tmp_path / "venvs", {"torch": 0.001, "jax": 0.002})
    study_file = tmp_path / "study.toml"
    study_file.write_text(STUDY.format(data=tiny_dataset.path, tasks='["infer"]'))
    results = tmp_path / "results"
    r = cli(["study", "run", str(study_file), "--results", str(results)], tmp_path, venvs=venvs)
    assert r.returncode == 0, r.stderr
    (study,) = [p for p in results.iterdir() if not p.name.startswith(".")]
    doc = load(study / "study.json")
    assert {(c["model"], c["task"]) for c in doc["cells"]} == {("mnist-cnn", "infer")}
    for cell in doc["cells"]:
        folder = study / "cells" / cell["cell_id"]
        meta = load(folder / "campaign.json")
        assert (meta["workload"]["task"], meta["workload"]["model"]) == ("infer", "mnist-cnn")
        assert meta["study"]["task"] == "infer"
        assert meta["workload"]["batch_size"] == cell["factors"]["batch_size"]
        runs = state_lines(folder)
        assert len(runs) == 4 and {s["status"] for s in runs} == {"ok"}
        result = load(folder / "runs" / runs[0]["run_id"] / "result.json")
        assert result["inference"]["batch_size"] == cell["factors"]["batch_size"]
    r = cli(["study", "status", str(study), "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    cells = json.loads(r.stdout)["cells"]
    assert {(c["model"], c["task"], c["state"]) for c in cells} == {("mnist-cnn", "infer", "done")}
    r = cli(["analyze", str(study), "--no-figures"], tmp_path)
    assert r.returncode == 0, r.stderr
    report = (study / "report" / "report.md").read_text()
    assert "Every cell: inference of mnist-cnn." in report
    assert "(task=infer, batch_size=16; inference of mnist-cnn)" in report
    cell_report = (study / "cells" / "cell-01" / "report" / "report.md").read_text()
    assert "Framework energy report (inference)" in cell_report


def test_a_prepared_dataset_a_cells_model_does_not_read_stops_the_study_before_it_starts(
    tmp_path: Path,
) -> None:
    data = prepare_dataset("synthetic", tmp_path / "d", progress=False, train_count=64,
                           test_count=64).path  # fmt: skip
    manifest = json.loads((data / "dataset.json").read_text())
    manifest["name"] = "ag-news"  # as its manifest says: not a dataset mnist-cnn reads
    (data / "dataset.json").write_text(json.dumps(manifest))
    study_file = tmp_path / "study.toml"
    study_file.write_text(STUDY.format(data=data, tasks='["infer"]'))
    results = tmp_path / "results"
    r = cli(["study", "run", str(study_file), "--results", str(results)], tmp_path)
    assert r.returncode == 2, r.stderr
    assert "model mnist-cnn does not read dataset ag-news" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not results.exists()


def test_a_matrix_crossing_inference_with_training_settings_is_refused(tmp_path: Path) -> None:
    """Inference ignores epochs: crossed with task, two inference cells would run the same
    campaign twice and the report would compare a cell with itself. One line says so."""
    text = (
        STUDY.format(data=tmp_path, tasks='["train", "infer"]')
        .replace("epochs = 2\n", "")
        .replace("batch_size = [16, 32]", "epochs = [1, 2]")
    )
    study_file = tmp_path / "study.toml"
    study_file.write_text(text)
    r = cli(["study", "run", str(study_file), "--results", str(tmp_path / "results")], tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert (
        "[matrix]: cells cell-03 (task=infer, epochs=1) and cell-04 (task=infer, epochs=2) "
        "would run the same campaign: an inference cell ignores epochs; cross epochs with "
        'task = "train" only'
    ) in lines[0]
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())
