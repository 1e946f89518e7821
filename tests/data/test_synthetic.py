"""The synthetic dataset: deterministic, MNIST-shaped, balanced and learnable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from orchestrator.data.synthetic import make_synthetic
from tests.data.conftest import run_cli


def test_same_seed_same_file_through_the_cli(tmp_path: Path) -> None:
    args = [
        "--dataset",
        "synthetic",
        "--seed",
        "7",
        "--train-count",
        "3000",
        "--test-count",
        "500",
        "--json",
    ]
    a = run_cli(*args, "--out", tmp_path / "a")
    b = run_cli(*args, "--out", tmp_path / "b")
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr
    assert json.loads(a.stdout)["sha256"] == json.loads(b.stdout)["sha256"]
    assert (tmp_path / "a" / "dataset.npz").read_bytes() == (
        tmp_path / "b" / "dataset.npz"
    ).read_bytes()
    meta = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert meta["source"]["seed"] == 7 and meta["source"]["kind"] == "synthetic"


def test_default_shapes_are_mnists() -> None:
    s = make_synthetic()
    assert s.x_train.shape == (60000, 28, 28) and s.y_train.shape == (60000,)
    assert s.x_test.shape == (10000, 28, 28) and s.y_test.shape == (10000,)
    assert {a.dtype for a in s.arrays().values()} == {np.dtype(np.uint8)}
    assert np.bincount(s.y_train).tolist() == [6000] * 10
    assert np.bincount(s.y_test).tolist() == [1000] * 10


def test_seeds_differ_and_test_split_ignores_train_count() -> None:
    a, b = make_synthetic(1, 200, 100), make_synthetic(2, 200, 100)
    assert not np.array_equal(a.x_train, b.x_train)
    c = make_synthetic(1, 350, 100)
    np.testing.assert_array_equal(a.x_test, c.x_test)
    np.testing.assert_array_equal(a.y_test, c.y_test)


def test_classes_are_learnable_but_not_trivial() -> None:
    s = make_synthetic(0, 2000, 1000)
    x = s.x_train.reshape(len(s.x_train), -1).astype(np.float32) / 255
    xt = s.x_test.reshape(len(s.x_test), -1).astype(np.float32) / 255
    centroids = np.stack([x[s.y_train == c].mean(axis=0) for c in range(10)])
    distances = ((xt[:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    accuracy = float((distances.argmin(axis=1) == s.y_test).mean())
    # A nearest-centroid classifier, far weaker than the CNN, is already well above the 10%
    # of chance; noise keeps images of one class from being identical.
    assert accuracy > 0.8
    assert len({img.tobytes() for img in s.x_train[s.y_train == 0]}) == (s.y_train == 0).sum()
