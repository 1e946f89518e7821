"""Inference runs next to training runs in the pure parts: phases from the events, the tidy
row, the identical-work evidence; results written before `task` existed read as training."""

from __future__ import annotations

from typing import Any

from analysis.evidence import gather
from analysis.load import tidy_row
from orchestrator.meters.energy import phases_from_events

INFER_EVENTS = [
    {"event": "process_start", "t": 100.0},
    {"event": "imports_done", "t": 101.0},
    {"event": "data_loaded", "t": 101.5, "train_count": 10, "test_count": 8},
    {"event": "model_built", "t": 102.0, "parameter_count": 268298},
    {"event": "data_on_device", "t": 102.5},
    {"event": "infer_start", "t": 103.0},
    {"event": "first_batch_end", "t": 103.4},
    {"event": "infer_end", "t": 105.0},
    {"event": "done", "t": 105.1},
]
RUN = {"run_id": "001-1-torch", "framework": "torch", "status": "ok", "duration_s": 5.0,
       "energy": {}, "phases": [], "meters": []}  # fmt: skip


def _result(task: str | None, weights: str = "w", probe: float = 0.5) -> dict[str, Any]:
    r: dict[str, Any] = {
        "framework": "torch", "parameter_count": 268298, "model": "mnist-cnn",
        "identical_work": {"initial_weights_sha256": weights, "probe_logits": [[probe]],
                           "batch_order_sha256": "b" if task != "infer" else None},
    }  # fmt: skip
    if task is not None:
        r["task"] = task
    if task == "infer":
        r["weights"] = {"source": "shared", "sha256": weights}
        r["identical_work"]["logits_sha256"] = None
        r["inference"] = {"batch_size": 4, "batches": 2, "examples": 8, "examples_per_s": 800.0,
                          "latency_ms": {"mean": 5.0, "p50": 5.0, "p90": 6.0, "p99": 6.5,
                                         "max": 6.6}, "first_batch_s": 0.4}  # fmt: skip
    return r


def test_an_inference_run_has_the_infer_phase_with_compile_inside_it() -> None:
    phases = {p.name: (p.start_s, p.end_s) for p in phases_from_events(INFER_EVENTS)}
    assert phases == {"startup": (100.0, 102.0), "data_to_device": (102.0, 102.5),
                      "compile": (103.0, 103.4), "infer": (103.0, 105.0)}  # fmt: skip


def test_a_crashed_inference_run_has_no_infer_phase() -> None:
    cut = [e for e in INFER_EVENTS if e["event"] not in ("infer_end", "done")]
    assert [p.name for p in phases_from_events(cut)] == ["startup", "data_to_device", "compile"]


def test_tidy_rows_carry_task_model_and_inference_figures() -> None:
    row = tidy_row(RUN, _result("infer"))
    assert (row["task"], row["model"]) == ("infer", "mnist-cnn")
    assert (row["examples_per_s"], row["latency_p99_ms"], row["first_batch_s"]) == (800, 6.5, 0.4)
    old = tidy_row(RUN, {"framework": "torch"})  # written before `task` and `model`
    assert (old["task"], old["model"]) == ("train", "mnist-cnn")
    assert old["examples_per_s"] != old["examples_per_s"]  # NaN: a training run has none
    assert tidy_row({**RUN, "task": "infer"}, None)["task"] == "infer"  # run.json's, no result


def test_inference_evidence_compares_weights_and_logits_not_batches() -> None:
    ev = gather({"torch": [_result("infer")], "jax": [_result("infer", probe=0.50001)]})
    names = {c.name: c for c in ev.checks}
    assert ev.task == "infer" and names["weights.sha256"].identical and names["task"].identical
    assert "identical_work.batch_order_sha256" not in names
    assert "identical_work.logits_sha256" not in names
    assert abs(ev.probe_max_abs_diff[("torch", "jax")] - 1e-5) < 1e-9
    differ = gather({"torch": [_result("infer")], "jax": [_result("infer", weights="v")]})
    assert not {c.name: c for c in differ.checks}["weights.sha256"].identical


def test_training_evidence_still_compares_the_batch_order() -> None:
    ev = gather({"torch": [_result(None)], "jax": [_result("train")]})
    names = {c.name: c for c in ev.checks}
    assert ev.task == "train" and names["identical_work.batch_order_sha256"].identical
    # a result without `task` and `model` is the reference CNN's training
    assert names["task"].identical and names["task"].values["torch"] == ["train"]
    assert names["model"].identical
