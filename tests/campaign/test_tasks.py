"""`--model` and `--task`: an inference campaign end to end on the local runtime (the stand-in
of tests/fakes/infer_workload.py, measured by RAPL on a fake powercap tree), analysed into a
report that says it is inference; bad names refused before anything exists."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from orchestrator.data import PreparedDataset, prepare_dataset
from tests.campaign.helpers import (
    TINY,
    campaigns,
    cli,
    load,
    local_campaign,
    only_campaign,
    phase_energy,
    state_lines,
)
from tests.conftest import infer_venvs
from tests.fakes.powercap import FakePowercap, amd_single_socket
from tests.meters.conftest import sysfs_dir  # noqa: F401 (the fixture, shared)

DOMAIN = "cpu-package-0"
# torch's batches take 2 ms, JAX's 6 ms: the report must rank them by it.
BATCH_S = {"torch": 0.002, "jax": 0.006}
INFER = ["--task", "infer", "--batch-size", "16", "--limit-test", "96", "--threads", "1"]


@pytest.mark.slow
def test_an_inference_campaign_runs_measures_and_reports_inference(
    tiny_dataset: PreparedDataset,
    sysfs_dir: Path,  # noqa: F811 (the imported fixture)
    tmp_path: Path,
) -> None:
    venvs = infer_venvs(tmp_path / "venvs", BATCH_S)
    results = tmp_path / "results"
    with FakePowercap(sysfs_dir, amd_single_socket()):
        r = cli(["campaign", "--data", str(tiny_dataset.path), "--results", str(results),
                 "--runtime", "local", "--meter", "rapl", "--powercap-root", str(sysfs_dir),
                 "--interval-ms", "20", "--frameworks", "torch,jax", "--iterations", "6",
                 "--warmup", "0", "--idle", "0.4", *INFER], tmp_path, venvs=venvs)  # fmt: skip
    assert r.returncode == 0, r.stderr
    folder = only_campaign(results)
    meta = load(folder / "campaign.json")
    assert (meta["workload"]["model"], meta["workload"]["task"]) == ("mnist-cnn", "infer")
    states = state_lines(folder)
    assert len(states) == 12 and {s["status"] for s in states} == {"ok"}

    run_dir = folder / "runs" / states[0]["run_id"]
    run = load(run_dir / "run.json")
    assert (run["model"], run["task"]) == ("mnist-cnn", "infer")
    # The stand-in refuses what `infer` does not take (--epochs, --learning-rate,
    # --limit-train): these runs ended ok, so none was passed.
    names = [p["name"] for p in run["phases"]]
    assert names == ["startup", "data_to_device", "compile", "infer", "remainder"]
    gross = run["energy"][DOMAIN]["gross_j"]
    parts = [phase_energy(p, DOMAIN) for p in run["phases"] if p["name"] != "compile"]
    assert sum(parts) == pytest.approx(gross, rel=1e-6)  # compile lies inside infer
    result = load(run_dir / "result.json")
    infer = next(p for p in run["phases"] if p["name"] == "infer")
    assert infer["duration_s"] == pytest.approx(result["phases"]["infer_s"], abs=1e-3)

    r = cli(["analyze", str(folder), "--no-figures"], tmp_path)
    assert r.returncode == 0, r.stderr
    report = (folder / "report" / "report.md").read_text()
    assert "Framework energy report (inference)" in report
    assert "Scope: inference (the test split, once) with mnist-cnn" in report
    assert "Inference: throughput and latency" in report
    answer = report.split("## Answer", 1)[1].split("\n## ", 1)[0]
    assert "| jax vs torch | Inference throughput (exploratory) |" in answer
    assert "| jax vs torch | Batch latency p50 (exploratory) |" in answer
    with (folder / "report" / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {(row["task"], row["model"]) for row in rows} == {("infer", "mnist-cnn")}
    per_s = {fw: [float(row["examples_per_s"]) for row in rows if row["framework"] == fw]
             for fw in BATCH_S}  # fmt: skip
    assert min(per_s["torch"]) > max(per_s["jax"])  # 2 ms batches against 6 ms
    for row in rows:
        assert 0 < float(row["latency_p50_ms"]) <= float(row["latency_p99_ms"])
        # An infer phase shorter than RAPL's 0.2 s window guard gets no figure, not a guess.
        if float(row["phase_infer_duration_s"]) >= 0.2:
            assert float(row["phase_infer_energy_j"]) > 0
        else:
            assert row["phase_infer_energy_j"] in ("", "nan")
    stats = (folder / "report" / "stats.csv").read_text()
    assert "examples_per_s" in stats and "latency_p99_ms" in stats
    # Identical work for inference: model, weights and logits, not batches or optimizers.
    evidence = report.split("## Identical work", 1)[1].split("\n## ", 1)[0]
    for check in ("| model |", "| task |", "| weights.sha256 |", "| weights.source |"):
        assert check in evidence, check
    assert "batch_order" not in evidence and "optimizer" not in evidence
    assert "of the weights used" in evidence
    assert "steady" not in (folder / "report" / "stats.csv").read_text().split("\n", 1)[1]


def test_a_training_campaign_records_its_model_and_task(tmp_path: Path) -> None:
    """The defaults: mnist-cnn, train, and `python -m workload train --model mnist-cnn`."""
    from orchestrator.campaign.plan import settings_from_options

    settings = settings_from_options({"threads": 1}, None)
    assert (settings.workload.model, settings.workload.task) == ("mnist-cnn", "train")
    args = settings.workload.args()
    assert args[:2] == ("--model", "mnist-cnn") and "--epochs" in args
    infer = settings_from_options({"threads": 1, "task": "infer"}, "quick").workload
    # a profile's training settings stay recorded but are not passed to `infer`
    assert infer.epochs == 1 and infer.limit_train == 5000
    assert not {"--epochs", "--learning-rate", "--limit-train"} & set(infer.args())
    assert infer.args()[-2:] == ("--limit-test", "1000")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "resnet"], "--model: unknown model 'resnet'; choose from mnist-cnn"),
        (["--task", "predict"], "--task: unknown task 'predict'; choose from train, infer"),
        (["--task", "infer", "--epochs", "2"],
         "--epochs only apply to --task train; drop them for --task infer"),
        (["--task", "infer", "--learning-rate", "0.01", "--limit-train", "10"],
         "--learning-rate, --limit-train only apply to --task train"),
        (["--dataset", "cifar10"], "model mnist-cnn does not read dataset cifar10"),
    ],
)  # fmt: skip
def test_bad_model_task_or_dataset_is_one_line_and_nothing_is_created(
    tmp_path: Path, args: list[str], message: str
) -> None:
    results = tmp_path / "results"
    r = cli(["campaign", "--results", str(results), "--runtime", "local", "--meter", "none",
             *args], tmp_path)  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not campaigns(results) and not (tmp_path / "cache").exists()


def test_an_inference_campaign_needs_two_batches(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    """The first batch is not timed: one batch has no throughput (the workload refuses it
    too, but only once the campaign's folder exists)."""
    results = tmp_path / "results"
    r = cli(["campaign", "--data", str(tiny_dataset.path), "--results", str(results),
             "--runtime", "local", "--meter", "none", "--task", "infer", "--batch-size", "64",
             "--limit-test", "64"], tmp_path)  # fmt: skip
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "--batch-size 64 leaves fewer than two batches of the 64 test images" in r.stderr
    assert not campaigns(results)


def test_a_prepared_dataset_the_model_does_not_read_is_refused(tmp_path: Path) -> None:
    """--data: the dataset's name comes from its manifest."""
    data = prepare_dataset("synthetic", tmp_path / "d", progress=False, train_count=64,
                           test_count=32).path  # fmt: skip
    manifest = json.loads((data / "dataset.json").read_text())
    manifest["name"] = "ag-news"
    (data / "dataset.json").write_text(json.dumps(manifest))
    results = tmp_path / "results"
    r = cli(["campaign", "--data", str(data), "--results", str(results), "--runtime", "local",
             "--meter", "none"], tmp_path)  # fmt: skip
    assert r.returncode == 2
    assert "model mnist-cnn does not read dataset ag-news" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not campaigns(results)


@pytest.mark.slow
@pytest.mark.frameworks
def test_a_training_campaign_with_the_default_model_runs_as_before(
    torch_installed: None, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    """`--model mnist-cnn` (the default) trains the real workloads as before, and says so."""
    results = tmp_path / "results"
    r = cli(local_campaign(tiny_dataset.path, results, "--frameworks", "torch,jax",
                           "--iterations", "1", "--warmup", "0", "--idle", "0",
                           "--model", "mnist-cnn", *TINY), tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    folder = only_campaign(results)
    meta = load(folder / "campaign.json")
    assert (meta["workload"]["model"], meta["workload"]["task"]) == ("mnist-cnn", "train")
    for state in state_lines(folder):
        assert state["status"] == "ok"
        run = load(folder / "runs" / state["run_id"] / "run.json")
        assert (run["model"], run["task"]) == ("mnist-cnn", "train")
        assert [p["name"] for p in run["phases"]][2:4] == ["compile", "epoch_1"]
        result = load(folder / "runs" / state["run_id"] / "result.json")
        assert result["config"]["model"] == "mnist-cnn" and result["epochs"]
    r = cli(["analyze", str(folder), "--no-figures"], tmp_path)
    assert r.returncode == 0, r.stderr
    report = (folder / "report" / "report.md").read_text()
    assert "Framework energy report (training)" in report
    assert "Scope: training of mnist-cnn" in report
    assert "Inference: throughput" not in report
    assert "| identical_work.batch_order_sha256 |" in report


def test_resume_keeps_the_task_and_refuses_to_change_it(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    venvs = infer_venvs(tmp_path / "venvs", {"torch": 0.001})
    results = tmp_path / "results"
    r = cli(["campaign", "--data", str(tiny_dataset.path), "--results", str(results),
             "--runtime", "local", "--meter", "none", "--frameworks", "torch",
             "--iterations", "2", "--warmup", "0", "--idle", "0", *INFER], tmp_path,
            venvs=venvs)  # fmt: skip
    assert r.returncode == 0, r.stderr
    folder = only_campaign(results)
    # The last run lost (as a crash before its state line would lose it): resume redoes it.
    lines = (folder / "state.jsonl").read_text().splitlines(keepends=True)
    (folder / "state.jsonl").write_text("".join(lines[:-1]))
    redone = folder / "runs" / json.loads(lines[-1])["run_id"]
    (redone / "result.json").unlink()
    r = cli(["campaign", "--resume", str(folder), "--task", "train"], tmp_path, venvs=venvs)
    assert r.returncode == 2 and "drop --task" in r.stderr, r.stderr
    r = cli(["campaign", "--resume", str(folder)], tmp_path, venvs=venvs)
    assert r.returncode == 0, r.stderr
    assert load(redone / "run.json")["task"] == "infer"
    assert load(redone / "result.json")["task"] == "infer"
    # A campaign.json whose task is not a task is refused before anything runs: resume
    # would pass it to the workload as its sub-command.
    meta = load(folder / "campaign.json")
    meta["workload"]["task"] = "--help"
    (folder / "campaign.json").write_text(json.dumps(meta))
    r = cli(["campaign", "--resume", str(folder)], tmp_path, venvs=venvs)
    assert r.returncode == 2 and "task '--help' is unknown" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.frameworks
def test_a_real_inference_campaign_of_torch_and_jax(
    torch_installed: None, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    """The real `python -m workload infer` of two frameworks under the campaign: the same
    weights and logits, inference figures, and an inference report."""
    results = tmp_path / "results"
    r = cli(local_campaign(tiny_dataset.path, results, "--frameworks", "torch,jax",
                           "--iterations", "1", "--warmup", "0", "--idle", "0", *INFER),
            tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    folder = only_campaign(results)
    results_by_fw = {}
    for state in state_lines(folder):
        assert state["status"] == "ok", state
        run = load(folder / "runs" / state["run_id"] / "run.json")
        assert run["task"] == "infer" and "infer" in [p["name"] for p in run["phases"]]
        results_by_fw[state["framework"]] = load(folder / "runs" / state["run_id"] / "result.json")
    torch, jax = results_by_fw["torch"], results_by_fw["jax"]
    for result in (torch, jax):
        assert (result["task"], result["model"]) == ("infer", "mnist-cnn")
        assert result["inference"]["examples"] == 96 and result["inference"]["batches"] == 6
        assert result["inference"]["examples_per_s"] > 0
    assert torch["weights"]["sha256"] == jax["weights"]["sha256"]
    probe = [abs(a - b) for ra, rb in zip(torch["identical_work"]["probe_logits"],
                                          jax["identical_work"]["probe_logits"], strict=True)
             for a, b in zip(ra, rb, strict=True)]  # fmt: skip
    assert max(probe) < 1e-4
    r = cli(["analyze", str(folder)], tmp_path)
    assert r.returncode == 0, r.stderr
    report = (folder / "report" / "report.md").read_text()
    assert "Framework energy report (inference)" in report
    assert "| weights.sha256 |" in report and "Inference: throughput and latency" in report
