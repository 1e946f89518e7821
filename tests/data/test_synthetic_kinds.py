"""synthetic-cifar10 and synthetic-text: deterministic from the seed, the real datasets'
shapes and dtypes, and learnable; and `synthetic` unchanged byte for byte."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from orchestrator.data import read_prepared
from orchestrator.data.prepared import npz_bytes
from orchestrator.data.registry import PAD_ID, SEQUENCE_LENGTH, UNKNOWN_ID, VOCAB_SIZE
from orchestrator.data.synthetic import make_synthetic, make_synthetic_cifar10
from orchestrator.data.synthetic_text import make_synthetic_text
from tests.data.conftest import run_cli
from tests.data.test_cli_errors import assert_refused


def test_synthetic_is_byte_identical_to_before_the_new_kinds() -> None:
    # Measured with the generator before synthetic-cifar10 shared its code.
    assert hashlib.sha256(npz_bytes(make_synthetic(3, 3000, 500))).hexdigest() == (
        "8ed48415b5f839105489b998d731571e505be3d8d5c4c8a315ebf5cf44476188"
    )


@pytest.mark.parametrize("name", ["synthetic-cifar10", "synthetic-text"])
def test_same_seed_same_file_through_the_cli(tmp_path: Path, name: str) -> None:
    args = ["--dataset", name, "--seed", "4", "--train-count", "300", "--test-count", "50"]
    a = run_cli(*args, "--json", "--out", tmp_path / "a")
    b = run_cli(*args, "--json", "--out", tmp_path / "b")
    c = run_cli(*args[:3], "5", *args[4:], "--json", "--out", tmp_path / "c")
    assert a.returncode == b.returncode == c.returncode == 0, a.stderr + b.stderr + c.stderr
    assert json.loads(a.stdout)["sha256"] == json.loads(b.stdout)["sha256"]
    assert json.loads(a.stdout)["sha256"] != json.loads(c.stdout)["sha256"]
    assert read_prepared(tmp_path / "a").train_count == 300
    meta = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert meta["source"]["kind"] == "synthetic" and meta["source"]["seed"] == 4
    assert meta["source"]["generator"].startswith(f"fwenergy.{name} v1")
    if name == "synthetic-text":
        assert (meta["input"], meta["sequence_length"], meta["num_classes"]) == ("tokens", 64, 4)
    else:
        assert (meta["input"], meta["image_shape"], meta["num_classes"]) == (
            "image", [32, 32, 3], 10,
        )  # fmt: skip


def test_synthetic_cifar10_has_cifar10s_shapes_and_is_learnable() -> None:
    s = make_synthetic_cifar10(0, 2000, 1000)
    assert s.x_train.shape == (2000, 32, 32, 3) and s.x_train.dtype == np.uint8
    assert s.x_test.shape == (1000, 32, 32, 3) and s.y_test.dtype == np.uint8
    assert np.bincount(s.y_train).tolist() == [200] * 10
    x = s.x_train.reshape(len(s.x_train), -1).astype(np.float32) / 255
    xt = s.x_test.reshape(len(s.x_test), -1).astype(np.float32) / 255
    means = np.stack([x[s.y_train == c].mean(axis=0) for c in range(10)])
    distances = (xt**2).sum(1)[:, None] - 2 * xt @ means.T + (means**2).sum(1)[None]
    accuracy = float((distances.argmin(axis=1) == s.y_test).mean())
    assert accuracy > 0.6  # chance is 0.1
    # The colour carries information: channels differ.
    assert not np.array_equal(s.x_train[..., 0], s.x_train[..., 1])


def test_synthetic_text_has_ag_news_shapes_and_is_learnable() -> None:
    s = make_synthetic_text(0, 4000, 1000)
    assert s.x_train.shape == (4000, SEQUENCE_LENGTH) and s.x_train.dtype == np.int32
    assert np.bincount(s.y_train).tolist() == [1000] * 4
    assert int(s.x_train.min()) == PAD_ID and int(s.x_train.max()) < VOCAB_SIZE
    assert UNKNOWN_ID in s.x_train
    # Right-padded: after the first padding id in a row, only padding.
    pad = s.x_train == PAD_ID
    assert (np.diff(pad.astype(np.int8), axis=1) >= 0).all()
    assert pad[:, 0].sum() == 0 and pad[:, -1].sum() > 0

    # Nearest class mean on bags of words: ||b - m||^2 = |b|^2 - 2 b.m + |m|^2.
    def bags(x: np.ndarray) -> list[np.ndarray]:
        return [row[row != PAD_ID] for row in x]

    means = np.zeros((4, VOCAB_SIZE))
    for doc, label in zip(bags(s.x_train), s.y_train, strict=True):
        np.add.at(means[label], doc, 1.0)
    means /= np.bincount(s.y_train)[:, None]
    predictions = [
        int(np.argmin((means**2).sum(1) - 2 * means[:, doc].sum(1))) for doc in bags(s.x_test)
    ]
    accuracy = float((np.array(predictions) == s.y_test).mean())
    assert accuracy > 0.6  # chance is 0.25


def test_synthetic_text_test_split_ignores_train_count() -> None:
    a, b = make_synthetic_text(2, 100, 40), make_synthetic_text(2, 250, 40)
    np.testing.assert_array_equal(a.x_test, b.x_test)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--dataset", "synthetic-text", "--source", "."], ["--source and --mirror"]),
        (["--dataset", "synthetic-cifar10", "--test-count", "0"], ["--test-count 0"]),
        (["--dataset", "cifar10", "--seed", "1"], ["--seed is for synthetic"]),
        (["--dataset", "ag-news", "--train-count", "5"], ["--train-count"]),
    ],
)
def test_bad_options_are_one_line(tmp_path: Path, args: list[str], needles: list[str]) -> None:
    out = tmp_path / "out"
    assert_refused(run_cli(*args, "--out", out), tmp_path, out, *needles)
