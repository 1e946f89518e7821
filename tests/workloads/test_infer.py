"""`python -m workload infer` and `train --save-weights`, as real processes.

Every framework trains a few steps on synthetic data and saves its weights; each saved file
is then run through every framework's inference path: the weights file is framework-neutral,
so the logits agree across frameworks whoever trained. Bad input is refused in one line with
exit 2 before anything is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from workload.inference import loss_and_accuracy, summarize
from workload.models import IMAGE, MODELS, ModelSpec
from workload.weights import Weights, load_weights

from tests.conftest import FRAMEWORKS, REPO, run_workload
from tests.workloads.conftest import prepared

EVENT_ORDER = [
    "process_start",
    "imports_done",
    "data_loaded",
    "model_built",
    "data_on_device",
    "infer_start",
    "first_batch_end",
    "infer_end",
    "done",
]
# result.json of `infer`: train's keys less the training ones, plus inference's own.
INFER_KEYS = {
    "schema", "schema_version", "task", "model", "framework", "framework_version",
    "implementation", "versions", "device", "threads", "numerics", "config", "parameter_count",
    "model_settings", "input_pipeline", "dataset", "inference", "weights", "identical_work",
    "test_accuracy", "test_loss", "peak_rss_bytes", "phases", "started_at", "ended_at",
}  # fmt: skip


def _prepared(tmp_path: Path, train_count: int = 256, test_count: int = 128) -> Path:
    from orchestrator.data import prepare_dataset

    out = tmp_path / "synthetic"
    prepare_dataset(
        "synthetic", out, None, progress=False, train_count=train_count, test_count=test_count
    )
    return out


def _finish(procs: dict[str, subprocess.Popen[str]], outs: dict[str, Path]) -> dict[str, Any]:
    done: dict[str, Any] = {}
    for key, proc in procs.items():
        _, stderr = proc.communicate(timeout=900)
        assert proc.returncode == 0, f"{key} failed:\n{stderr[-3000:]}"
        done[key] = {
            "result": json.loads((outs[key] / "result.json").read_text()),
            "events": [json.loads(line) for line in (outs[key] / "events.jsonl").open()],
        }
    return done


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Trained weights of every framework, each inferred in every framework, and inference
    from the shared initial weights: 3 trainings and 12 inferences, three at a time."""
    base = tmp_path_factory.mktemp("infer")
    data = _prepared(base)
    common = ["--threads", "1", "--seed", "3", "--batch-size", "32"]
    outs = {f: base / f"train-{f}" for f in FRAMEWORKS}
    train_args = [*common, "--epochs", "1"]
    procs = {
        f: run_workload(
            f, data, outs[f], *train_args, "--save-weights", str(base / f"{f}.npz"), wait=False
        )
        for f in FRAMEWORKS
    }
    train = _finish(procs, outs)
    infer: dict[tuple[str, str], Any] = {}
    for source in (*FRAMEWORKS, "shared"):
        weights = [] if source == "shared" else ["--weights", str(base / f"{source}.npz")]
        outs = {f: base / f"infer-{source}-{f}" for f in FRAMEWORKS}
        procs = {
            f: run_workload(f, data, outs[f], *common, *weights, wait=False, task="infer")
            for f in FRAMEWORKS
        }
        for f, run in _finish(procs, outs).items():
            infer[(source, f)] = run
    return {"base": base, "train": train, "infer": infer}


def _logits(run: dict[str, Any]) -> np.ndarray:
    return np.array(run["result"]["identical_work"]["probe_logits"])


@pytest.mark.frameworks
@pytest.mark.slow
def test_any_frameworks_weights_give_the_same_logits_in_every_framework(runs):
    for source in FRAMEWORKS:
        results = {f: runs["infer"][(source, f)] for f in FRAMEWORKS}
        reference = _logits(results["torch"])
        assert reference.shape == (8, 10) and np.abs(reference).max() > 1e-3
        accuracies = {r["result"]["test_accuracy"] for r in results.values()}
        assert len(accuracies) == 1, (source, accuracies)
        for run in results.values():
            np.testing.assert_allclose(_logits(run), reference, atol=1e-4, rtol=0)
            assert run["result"]["weights"]["source"] == "file"
            # The file as saved is the file as loaded, in every framework.
            saved = load_weights(runs["base"] / f"{source}.npz")
            assert run["result"]["weights"]["sha256"] == saved.sha256()
            assert run["result"]["identical_work"]["initial_weights_sha256"] == saved.sha256()
    # Trained weights are not the initial ones: the checkpoint holds the training.
    trained = _logits(runs["infer"][("torch", "torch")])
    assert np.abs(trained - _logits(runs["infer"][("shared", "torch")])).max() > 1e-3


@pytest.mark.frameworks
@pytest.mark.slow
def test_shared_weights_infer_the_logits_train_probed_before_training(runs):
    for f in FRAMEWORKS:
        run = runs["infer"][("shared", f)]
        train = runs["train"][f]["result"]
        np.testing.assert_allclose(
            _logits(run), np.array(train["identical_work"]["probe_logits"]), atol=1e-4, rtol=0
        )
        assert run["result"]["weights"]["source"] == "shared"
        assert (
            run["result"]["weights"]["sha256"]
            == run["result"]["identical_work"]["initial_weights_sha256"]
            == train["identical_work"]["initial_weights_sha256"]
        )


@pytest.mark.frameworks
@pytest.mark.slow
def test_inference_results_and_events_follow_the_contract(runs):
    for (source, f), run in runs["infer"].items():
        result, events = run["result"], run["events"]
        assert set(result) == INFER_KEYS, (source, f, set(result) ^ INFER_KEYS)
        assert result["task"] == "infer" and result["model"] == "mnist-cnn"
        assert result["framework"] == f and result["parameter_count"] == 268_298
        assert not {"epochs", "learning_rate", "limit_train", "weights"} & set(result["config"])
        inference = result["inference"]
        assert (inference["batch_size"], inference["batches"], inference["examples"]) == (
            32, 4, 128
        )  # fmt: skip
        assert inference["examples_per_s"] > 0 and inference["first_batch_s"] > 0
        latency = inference["latency_ms"]
        assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
        assert latency["mean"] <= latency["max"]
        assert result["identical_work"]["batch_order_sha256"] is None
        assert result["input_pipeline"] == {}  # batches given as tensors: no pipeline
        assert result["identical_work"]["logits_sha256"] is None
        assert 0 <= result["test_accuracy"] <= 1 and result["test_loss"] > 0
        assert [e["event"] for e in events] == EVENT_ORDER
        times = [e["t"] for e in events]
        assert times == sorted(times)
        phases = result["phases"]
        assert set(phases) == {"startup_s", "data_to_device_s", "compile_s", "infer_s", "total_s"}
        assert phases["compile_s"] <= phases["infer_s"] <= phases["total_s"]
        assert phases["compile_s"] == pytest.approx(inference["first_batch_s"], abs=0.05)


@pytest.mark.frameworks
@pytest.mark.slow
def test_train_results_name_their_task_and_model(runs):
    for f in FRAMEWORKS:
        result = runs["train"][f]["result"]
        assert result["task"] == "train" and result["model"] == "mnist-cnn"
        assert "save_weights" not in result["config"]
        saved = load_weights(runs["base"] / f"{f}.npz")
        assert list(saved.arrays) == list(MODELS["mnist-cnn"].shared_weights(0).arrays)
        assert saved.sha256() != result["identical_work"]["initial_weights_sha256"]
        # The saved weights are the ones evaluated: inference from them scores the same.
        inferred = runs["infer"][(f, f)]["result"]
        assert inferred["test_accuracy"] == result["test_accuracy"]
        assert inferred["test_loss"] == pytest.approx(result["test_loss"], rel=1e-4)


@pytest.mark.frameworks
@pytest.mark.slow
def test_native_init_infers_and_records_the_frameworks_own_weights(tmp_path):
    data = _prepared(tmp_path, 64, 64)
    outs = {f: tmp_path / f for f in FRAMEWORKS}
    args = ["--init", "native", "--batch-size", "16", "--threads", "1"]
    procs = {f: run_workload(f, data, outs[f], *args, wait=False, task="infer") for f in FRAMEWORKS}
    shared = MODELS["mnist-cnn"].shared_weights(0).sha256()
    hashes = set()
    for run in _finish(procs, outs).values():
        result = run["result"]
        assert result["weights"]["source"] == "native"
        assert result["identical_work"]["initial_weights_sha256"] is None
        assert result["config"]["init"] == "native"
        hashes.add(result["weights"]["sha256"])
    # Each framework's own initialisation: neither the shared weights nor one another's.
    assert len(hashes) == len(FRAMEWORKS) and shared not in hashes


def _random_inputs(spec: ModelSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """Inputs as prepared data holds them for the model: uint8 pixels or int32 token ids."""
    if spec.input_kind == IMAGE:
        return rng.integers(0, 256, size=(n, *spec.input_shape), dtype=np.uint8)
    assert spec.vocab_size is not None
    return rng.integers(0, spec.vocab_size, size=(n, *spec.input_shape), dtype=np.int32)


@pytest.mark.frameworks
@pytest.mark.slow
@pytest.mark.parametrize("model", list(MODELS))
def test_every_model_infers_the_same_logits_in_every_framework(tmp_path, model):
    spec = MODELS[model]
    rng = np.random.default_rng(11)
    labels = rng.integers(0, spec.num_classes, size=48, dtype=np.int32)
    x = _random_inputs(spec, 48, rng)
    data = prepared(tmp_path, x[:16], labels[:16], x, labels, f"random-{model}")
    outs = {f: tmp_path / f for f in FRAMEWORKS}
    args = ["--model", model, "--batch-size", "16", "--threads", "1", "--seed", "2"]
    procs = {f: run_workload(f, data, outs[f], *args, wait=False, task="infer") for f in FRAMEWORKS}
    runs = _finish(procs, outs)
    reference = _logits(runs["torch"])
    assert reference.shape == (8, spec.num_classes) and np.abs(reference).max() > 1e-3
    for run in runs.values():
        assert run["result"]["parameter_count"] == spec.parameter_count
        assert run["result"]["inference"]["batches"] == 3
        np.testing.assert_allclose(_logits(run), reference, atol=1e-4, rtol=0)
    assert len({r["result"]["test_accuracy"] for r in runs.values()}) == 1
    assert len({r["result"]["weights"]["sha256"] for r in runs.values()}) == 1


# ---- bad input: refused by the common code before any framework is imported ---------------


def _workload(*args: str) -> subprocess.CompletedProcess[str]:
    # WORKLOAD_FRAMEWORK names a framework this interpreter cannot import: every refusal
    # below must happen before the framework is needed.
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "images" / "common"),
        "WORKLOAD_FRAMEWORK": "torch",
    }
    return subprocess.run(
        [sys.executable, "-m", "workload", *args],
        capture_output=True, text=True, env=env, cwd=REPO, check=False,
    )  # fmt: skip


def _refused(proc: subprocess.CompletedProcess[str], message: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def _weights_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    other = tmp_path / "other-model.npz"
    # A model of another shape (a softmax regression over the same images).
    rng = np.random.default_rng(0)
    Weights(
        {"dense/kernel": rng.normal(size=(784, 10)).astype(np.float32),
         "dense/bias": np.zeros(10, np.float32)}
    ).save(other)  # fmt: skip
    text = tmp_path / "notes.npz"
    text.write_text("not a weights file\n")
    plain = tmp_path / "plain.npz"
    np.savez(plain, **MODELS["mnist-cnn"].shared_weights(0).arrays)  # no state list
    return {
        "another model": (other, "does not fit this model"),
        "not a weights file": (text, "cannot be read as a weights file"),
        "an npz of something else": (plain, "was not written by `train --save-weights`"),
        "missing": (tmp_path / "nowhere.npz", "not found; give a file written by"),
    }


@pytest.mark.parametrize(
    "case", ["another model", "not a weights file", "an npz of something else", "missing"]
)
def test_bad_weights_are_refused_before_anything_is_written(tmp_path, case):
    path, message = _weights_files(tmp_path)[case]
    data = _prepared(tmp_path, 64, 128)
    out = tmp_path / "out"
    _refused(
        _workload("infer", "--data", str(data), "--out", str(out), "--weights", str(path)), message
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--batch-size", "128"], "--batch-size 128 makes one batch of the 128 test examples"),
        (["--limit-test", "129"], "--limit-test 129 exceeds the 128 examples"),
        (["--epochs", "1"], "unrecognized arguments: --epochs 1"),
        (["--init", "native", "--weights", "w.npz"], "--weights and --init native"),
        (["--batch-size", "0"], "--batch-size must be a positive integer"),
    ],
)
def test_bad_infer_arguments_exit_2_with_one_line(tmp_path, extra, message):
    data = _prepared(tmp_path, 64, 128)
    out = tmp_path / "out"
    _refused(_workload("infer", "--data", str(data), "--out", str(out), *extra), message)
    assert not out.exists()


def test_save_weights_never_overwrites_a_file_nor_makes_folders(tmp_path):
    data = _prepared(tmp_path, 64, 128)
    out = tmp_path / "out"
    existing = tmp_path / "trained.npz"
    existing.write_bytes(b"earlier")
    proc = _workload(
        "train", "--data", str(data), "--out", str(out), "--save-weights", str(existing)
    )
    _refused(proc, f"--save-weights {existing} exists; choose a new file name")
    assert existing.read_bytes() == b"earlier" and not out.exists()
    missing = tmp_path / "no-such-folder" / "w.npz"
    proc = _workload(
        "train", "--data", str(data), "--out", str(out), "--save-weights", str(missing)
    )
    _refused(proc, "does not exist; create it first")
    assert not out.exists() and not missing.parent.exists()


# ---- the figures, from latencies and logits ------------------------------------------------


@given(st.lists(st.floats(1e-6, 10.0), min_size=2, max_size=200), st.integers(1, 512))
def test_percentiles_are_ordered_and_the_first_batch_is_left_out(latencies_s, batch_size):
    sizes = [batch_size] * len(latencies_s)
    summary = summarize(latencies_s, sizes, steady_wall_s=sum(latencies_s[1:]))
    latency = summary["latency_ms"]
    assert latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    assert latency["max"] == pytest.approx(max(latencies_s[1:]) * 1e3)
    assert summary["first_batch_s"] == latencies_s[0]
    assert summary["examples"] == batch_size * len(latencies_s)
    expected = batch_size * (len(latencies_s) - 1) / sum(latencies_s[1:])
    assert summary["examples_per_s"] == pytest.approx(expected)


def test_a_slow_first_batch_changes_neither_throughput_nor_percentiles():
    steady = summarize([0.01, 0.01, 0.02], [64, 64, 10], steady_wall_s=0.03)
    compiled = summarize([30.0, 0.01, 0.02], [64, 64, 10], steady_wall_s=0.03)
    assert steady["latency_ms"] == compiled["latency_ms"]
    assert steady["examples_per_s"] == compiled["examples_per_s"] == pytest.approx(74 / 0.03)
    assert (compiled["batches"], compiled["examples"], compiled["batch_size"]) == (3, 138, 64)


def test_loss_and_accuracy_from_logits():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 5.0], [1.0, 1.0, 1.0]], np.float32)
    labels = np.array([0, 1, 2])
    loss, accuracy = loss_and_accuracy(logits, labels)
    expected = -np.mean(
        [np.log(np.exp(2) / (np.exp(2) + 2)), np.log(1 / (2 + np.exp(5))), np.log(1 / 3)]
    )
    assert loss == pytest.approx(expected)
    assert accuracy == pytest.approx(1 / 3)  # the tie counts for the first class (argmax)
    # Large logits: computed stably, not overflowed.
    assert np.isfinite(loss_and_accuracy(logits * 1e4, labels)[0])
