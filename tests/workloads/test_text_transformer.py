"""`text-transformer` (workload.models.text_transformer): its contract constants, and the three
frameworks doing identical work on it. Each framework's logits are checked against a plain
NumPy forward pass of the canonical weights on the texts WITHOUT their padding, so padding,
LayerNorm, the attention's layout and scale and the exact GELU are all checked at once; then
one real 1-epoch run per framework on 512 texts of the host's synthetic-text (8 to 64 tokens)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import numpy as np
import pytest
from scipy.special import erf
from workload.models import MODELS, TOKENS
from workload.models import text_transformer as tt
from workload.weights import Weights

from orchestrator.data import prepare_dataset, registry
from orchestrator.workloads import MODELS as HOST_MODELS
from tests.conftest import FRAMEWORKS, framework_python, require, run_workload, workload_env

MODEL = "text-transformer"


def test_the_parameter_count_is_derived_from_the_sizes_and_pinned_everywhere():
    # 2.57M embeddings, 2 x 198,272 per encoder layer, 256 final LN, 516 classifier
    assert tt.derived_parameter_count() == tt.PARAMETER_COUNT == 2_965_508
    assert tt.shared_weights(0).parameter_count() == tt.PARAMETER_COUNT
    spec = MODELS[MODEL]
    assert (spec.input_kind, spec.input_shape, spec.num_classes) == (TOKENS, (64,), 4)
    assert spec.vocab_size == 20_000 and spec.parameter_count == tt.PARAMETER_COUNT
    assert HOST_MODELS[MODEL].parameter_count == tt.PARAMETER_COUNT
    assert set(HOST_MODELS[MODEL].datasets) == {"ag-news", "synthetic-text"}
    # what the host's token datasets hold (orchestrator/data/registry.py)
    assert (registry.SEQUENCE_LENGTH, registry.VOCAB_SIZE, registry.PAD_ID) == (
        tt.SEQUENCE_LENGTH, tt.VOCAB_SIZE, tt.PAD,
    )  # fmt: skip
    assert registry.TEXT_CLASSES == tt.NUM_CLASSES


def test_shared_weights_are_in_the_canonical_per_head_layout():
    w = tt.shared_weights(0).arrays
    assert w["token_embedding/embedding"].shape == (20_000, 128)
    assert w["position_embedding/embedding"].shape == (64, 128)
    for i in range(tt.LAYERS):
        attention = f"encoder_{i}/attention"
        for p in ("query", "key", "value"):
            assert w[f"{attention}/{p}/kernel"].shape == (128, 4, 32)
            assert w[f"{attention}/{p}/bias"].shape == (4, 32)
        assert w[f"{attention}/out/kernel"].shape == (4, 32, 128)
        assert w[f"encoder_{i}/mlp_in/kernel"].shape == (128, 512)
        assert w[f"encoder_{i}/mlp_out/kernel"].shape == (512, 128)
        np.testing.assert_array_equal(w[f"encoder_{i}/attention_norm/scale"], 1.0)
    assert w["classifier/kernel"].shape == (128, 4)
    assert all(a.dtype == np.float32 for a in w.values())
    assert tt.shared_weights(3).sha256() == tt.shared_weights(3).sha256()
    assert tt.shared_weights(3).sha256() != tt.shared_weights(4).sha256()


# --- the forward pass, against a NumPy reference ---------------------------------------------


def _layer_norm(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    normal = (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + tt.LAYER_NORM_EPSILON)
    return normal * w[f"{name}/scale"] + w[f"{name}/bias"]


def reference_logits(weights: Weights, text: np.ndarray) -> np.ndarray:
    """The model on one text's tokens alone (no padding, so no mask), in float64."""
    w = {k: a.astype(np.float64) for k, a in weights.arrays.items()}
    if len(text) == 0:  # nothing to pool: the classifier's bias
        return w["classifier/bias"]
    x = w["token_embedding/embedding"][text] + w["position_embedding/embedding"][: len(text)]
    for i in range(tt.LAYERS):
        a = f"encoder_{i}/attention"
        h = _layer_norm(x, w, f"encoder_{i}/attention_norm")
        q, k, v = (
            np.einsum("td,dhk->thk", h, w[f"{a}/{p}/kernel"]) + w[f"{a}/{p}/bias"]
            for p in ("query", "key", "value")
        )
        scores = np.einsum("thk,shk->hts", q, k) / np.sqrt(tt.HEAD_DIM)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        heads = np.einsum("hts,shk->thk", probs, v)
        x = x + np.einsum("thk,hkd->td", heads, w[f"{a}/out/kernel"]) + w[f"{a}/out/bias"]
        h = _layer_norm(x, w, f"encoder_{i}/mlp_norm")
        h = h @ w[f"encoder_{i}/mlp_in/kernel"] + w[f"encoder_{i}/mlp_in/bias"]
        h = 0.5 * h * (1 + erf(h / np.sqrt(2)))  # exact GELU
        x = x + h @ w[f"encoder_{i}/mlp_out/kernel"] + w[f"encoder_{i}/mlp_out/bias"]
    pooled = _layer_norm(x, w, "final_norm").mean(0)
    return pooled @ w["classifier/kernel"] + w["classifier/bias"]


def _perturbed_weights(seed: int) -> Weights:
    """The shared weights with every bias, scale and kernel moved at random: zero biases and
    unit scales would hide a bias or scale put in the wrong place."""
    rng = np.random.default_rng(seed)
    shared = tt.shared_weights(seed)
    return Weights(
        {n: (a + rng.normal(0, 0.1, a.shape)).astype(np.float32) for n, a in shared.arrays.items()}
    )


def _probe_texts() -> tuple[np.ndarray, list[np.ndarray]]:
    """Texts of many lengths (1 token to all 64, and one of padding only), padded with 0."""
    rng = np.random.default_rng(11)
    lengths = [64, 1, 17, 0, 40, 63, 5, 32]
    texts = [rng.integers(1, tt.VOCAB_SIZE, n).astype(np.int32) for n in lengths]
    ids = np.zeros((len(texts), tt.SEQUENCE_LENGTH), np.int32)
    for row, text in zip(ids, texts, strict=True):
        row[: len(text)] = text
    return ids, texts


# Runs in the framework's environment: the perturbed weights loaded, the probe's logits.
LOGITS = """
import json, sys
from pathlib import Path
import numpy as np
from workload.config import TrainConfig
from workload.framework import load_framework
from workload.weights import load_weights

name, weights, ids = sys.argv[1], load_weights(Path(sys.argv[2])), np.load(sys.argv[3])
config = TrainConfig(data=Path("."), out=Path("."), model="text-transformer", threads=1)
fw = load_framework(name)(config)
fw.setup()
fw.build(weights)
print(json.dumps({"logits": fw.logits(ids).astype(float).tolist(),
                  "count": fw.build(None)}))
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("probe")
    weights = _perturbed_weights(3)
    weights.save(base / "weights.npz")
    ids, texts = _probe_texts()
    np.save(base / "ids.npy", ids)
    procs = {}
    for f in FRAMEWORKS:
        python = framework_python(f)
        require(python.exists(), f"{python} missing: run `make venvs`")
        cmd = [str(python), "-c", LOGITS, f, str(base / "weights.npz"), str(base / "ids.npy")]
        procs[f] = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=workload_env(f)
        )
    out: dict[str, Any] = {}
    for f, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{f} failed:\n{stderr[-3000:]}"
        out[f] = json.loads(stdout.strip().splitlines()[-1])
    reference = np.array([reference_logits(weights, t) for t in texts])
    return {"runs": out, "reference": reference, "weights": weights}


@pytest.mark.frameworks
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_padding_does_not_change_a_texts_logits(framework, probe):
    """The padded texts in the framework give the logits of the texts alone, unpadded."""
    logits = np.array(probe["runs"][framework]["logits"])
    assert logits.shape == (8, 4) and np.isfinite(logits).all()
    assert np.abs(probe["reference"]).max() > 0.1  # real logits, not zeros
    np.testing.assert_allclose(logits, probe["reference"], atol=1e-4, rtol=0)


@pytest.mark.frameworks
def test_a_text_of_padding_only_gives_the_classifiers_bias_in_every_framework(probe):
    bias = probe["weights"].arrays["classifier/bias"]
    for f, run in probe["runs"].items():
        np.testing.assert_allclose(run["logits"][3], bias, atol=1e-6, err_msg=f)


@pytest.mark.frameworks
def test_native_initialisation_has_the_contract_parameter_count(probe):
    assert {f: r["count"] for f, r in probe["runs"].items()} == dict.fromkeys(
        FRAMEWORKS, tt.PARAMETER_COUNT
    )


# --- one real training run per framework ---------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("text")
    # The host's own synthetic AG News (texts of 8 to 64 tokens), prepared as a user would.
    data = prepare_dataset(
        "synthetic-text", base / "data", progress=False, train_count=512, test_count=128
    ).path
    args = ["--model", MODEL, "--epochs", "1", "--batch-size", "32", "--seed", "7"]
    # Started together, one thread each: the two cores are shared, the results are not timed.
    procs = {
        f: run_workload(f, data, base / f, *args, "--threads", "1", wait=False) for f in FRAMEWORKS
    }
    out: dict[str, Any] = {}
    for f, proc in procs.items():
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{f} failed:\n{stderr[-3000:]}"
        out[f] = json.loads((base / f / "result.json").read_text())
    return out


@pytest.mark.frameworks
@pytest.mark.slow
def test_same_parameters_initial_weights_batch_order_and_data(runs):
    assert {f: r["parameter_count"] for f, r in runs.items()} == dict.fromkeys(
        FRAMEWORKS, tt.PARAMETER_COUNT
    )
    for key in ("initial_weights_sha256", "batch_order_sha256"):
        values = {r["identical_work"][key] for r in runs.values()}
        assert len(values) == 1 and None not in values, key
    assert runs["torch"]["identical_work"]["initial_weights_sha256"] == (
        tt.shared_weights(7).sha256()
    )
    assert len({json.dumps(r["dataset"], sort_keys=True) for r in runs.values()}) == 1


@pytest.mark.frameworks
@pytest.mark.slow
def test_same_probe_logits_before_training(runs):
    probes = {f: np.array(r["identical_work"]["probe_logits"]) for f, r in runs.items()}
    assert probes["torch"].shape == (8, 4) and np.abs(probes["torch"]).max() > 1e-2
    for f in FRAMEWORKS:
        np.testing.assert_allclose(probes[f], probes["torch"], atol=1e-4, rtol=0, err_msg=f)


@pytest.mark.frameworks
@pytest.mark.slow
def test_epoch_1_losses_agree_within_two_percent_and_the_model_learned(runs):
    losses = {f: r["epochs"][0]["mean_loss"] for f, r in runs.items()}
    reference = np.median(list(losses.values()))
    for loss in losses.values():
        assert abs(loss - reference) / reference < 0.02, losses
    assert max(losses.values()) < 1.3, losses  # chance is ln(4) = 1.39
    for f, r in runs.items():
        assert r["test_accuracy"] > 0.6, f  # chance is 0.25; measured 0.88
