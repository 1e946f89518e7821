"""The shared workload contract, without any framework: model, weights, batch order, events,
CLI validation. Runs on the host environment with images/common on the path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from workload.batches import batch_slices, epoch_order, orders_sha256
from workload.events import EventLog
from workload.models.mnist_cnn import (
    PARAMETER_COUNT,
    dense_kernel_chw,
    dense_kernel_hwc,
    shared_weights,
)

from tests.conftest import REPO

PUBLISHED_SEED0_SHA256 = "5a6534cac5afcc87d609afa7bee552776a6af692e90bdeb384a0ae1b8975be5c"


def test_shared_weights_have_the_reference_parameter_count():
    assert shared_weights(0).parameter_count() == PARAMETER_COUNT == 268_298


def test_shared_weights_are_glorot_uniform_with_zero_biases():
    w = shared_weights(3).arrays
    kernel = w["conv2/kernel"]
    limit = np.sqrt(6.0 / (5 * 5 * 64 + 5 * 5 * 128))
    assert np.abs(kernel).max() <= limit
    # A uniform draw of 204,800 values fills its range: not a narrower distribution.
    assert np.abs(kernel).max() > 0.99 * limit
    assert abs(float(kernel.std()) - limit / np.sqrt(3)) < 0.01 * limit
    assert not any(w[f"{layer}/bias"].any() for layer in ("conv1", "conv2", "dense"))
    assert all(a.dtype == np.float32 for a in w.values())


def test_the_canonical_weights_keep_the_published_hash():
    # The hash recorded by every earlier campaign for seed 0 (kernel, bias of each layer in
    # order): moving to named canonical weights must not change what was recorded.
    assert list(shared_weights(0).arrays) == [
        "conv1/kernel", "conv1/bias", "conv2/kernel", "conv2/bias", "dense/kernel", "dense/bias"
    ]  # fmt: skip
    assert shared_weights(0).sha256() == PUBLISHED_SEED0_SHA256


def test_same_seed_same_weights_other_seed_other_weights():
    assert shared_weights(7).sha256() == shared_weights(7).sha256()
    assert shared_weights(7).sha256() != shared_weights(8).sha256()


def test_dense_kernel_chw_reorders_rows_for_an_nchw_flatten():
    w = shared_weights(1)
    features = np.random.default_rng(0).normal(size=(7, 7, 128)).astype(np.float32)
    nhwc_out = features.reshape(-1) @ w.arrays["dense/kernel"]
    nchw_out = features.transpose(2, 0, 1).reshape(-1) @ dense_kernel_chw(w)
    np.testing.assert_allclose(nhwc_out, nchw_out, rtol=1e-5, atol=1e-5)
    assert np.array_equal(dense_kernel_hwc(dense_kernel_chw(w)), w.arrays["dense/kernel"])


@given(st.integers(0, 2**31), st.integers(1, 5), st.integers(1, 500))
def test_epoch_order_is_a_reproducible_permutation(seed, epoch, n):
    order = epoch_order(seed, epoch, n)
    assert sorted(order.tolist()) == list(range(n))
    assert np.array_equal(order, epoch_order(seed, epoch, n))


def test_epochs_get_different_orders_and_the_hash_covers_them():
    assert not np.array_equal(epoch_order(0, 1, 1000), epoch_order(0, 2, 1000))
    assert orders_sha256(0, 2, 1000) != orders_sha256(0, 3, 1000)
    assert orders_sha256(0, 2, 1000) == orders_sha256(0, 2, 1000)


@given(st.integers(1, 1000), st.integers(1, 128))
def test_batches_cover_every_example_once_with_a_partial_last_batch(n, batch):
    slices = batch_slices(n, batch)
    covered = [i for s in slices for i in range(s.start, s.stop)]
    assert covered == list(range(n))
    assert all(s.stop - s.start == batch for s in slices[:-1])


def test_event_log_holds_events_until_opened_then_flushes_each_one(tmp_path):
    log = EventLog()
    log.emit("process_start", t=1.5)
    path = tmp_path / "events.jsonl"
    log.open(path)
    assert json.loads(path.read_text()) == {"event": "process_start", "t": 1.5}
    log.emit("epoch_end", epoch=1, mean_loss=0.5)
    # Readable by another process before close: flushed, not buffered.
    lines = path.read_text().splitlines()
    assert json.loads(lines[1])["epoch"] == 1
    log.close()
    assert log.first("epoch_end", epoch=1) is not None
    assert log.first("epoch_end", epoch=2) is None


def _workload(*args: str, framework: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "images" / "common")}
    env.pop("WORKLOAD_FRAMEWORK", None)
    if framework:
        env["WORKLOAD_FRAMEWORK"] = framework
    return subprocess.run(
        [sys.executable, "-m", "workload", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
    )


def _prepared(tmp_path: Path) -> Path:
    from orchestrator.data import prepare_dataset

    out = tmp_path / "synthetic"
    prepare_dataset("synthetic", out, None, progress=False, train_count=64, test_count=16)
    return out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--epochs", "0"], "--epochs must be a positive integer"),
        (["--batch-size", "-3"], "--batch-size must be a positive integer"),
        (["--learning-rate", "2"], "--learning-rate must be between 0 and 1"),
        (["--device", "tpu"], "invalid choice"),
        (["--epochs", "three"], "invalid int value"),
        (["--limit-train", "65"], "--limit-train 65 exceeds the 64 examples"),
        (["--threads", "4096"], "--threads 4096 exceeds"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(tmp_path, extra, message):
    data = _prepared(tmp_path)
    out = tmp_path / "out"
    proc = _workload("train", "--data", str(data), "--out", str(out), *extra)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not out.exists()


def test_tampered_dataset_is_refused(tmp_path):
    data = _prepared(tmp_path)
    with (data / "dataset.npz").open("r+b") as f:
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 0xFF]))
    proc = _workload("train", "--data", str(data), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "the file changed; prepare the data again" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_missing_dataset_is_refused(tmp_path):
    proc = _workload("train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert "made by `orchestrator data prepare`" in proc.stderr.strip()


def test_an_existing_result_is_never_overwritten(tmp_path):
    data = _prepared(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "result.json").write_text("{}")
    # Refused before the framework is even imported.
    proc = _workload("train", "--data", str(data), "--out", str(out), framework="torch")
    assert proc.returncode == 2 and "already holds a result.json" in proc.stderr
    assert (out / "result.json").read_text() == "{}"


def test_without_a_framework_environment_it_says_how_to_get_one(tmp_path):
    data = _prepared(tmp_path)
    proc = _workload("train", "--data", str(data), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "make venvs" in proc.stderr
