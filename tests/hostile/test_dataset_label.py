"""A dataset is called what it is: Fashion-MNIST files given as `--dataset mnist` are
refused with the right name (issue 12)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from orchestrator.data.prepare import MNIST_FIRST_TRAIN_LABELS
from tests.campaign.helpers import cli
from tests.conftest import FASHION_MNIST, require
from tests.data.idxfiles import write_source


def test_fashion_mnist_files_are_not_labelled_mnist(tmp_path: Path) -> None:
    require(
        FASHION_MNIST.is_dir(), f"{FASHION_MNIST} missing: apt-get install dataset-fashion-mnist"
    )
    out = tmp_path / "data"
    r = cli(["data", "prepare", "--dataset", "mnist", "--source", str(FASHION_MNIST),
             "--out", str(out)], tmp_path)  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"error: the IDX files in {FASHION_MNIST} are fashion-mnist, not mnist: use "
        "--dataset fashion-mnist"
    ]
    assert not out.exists()
    results = tmp_path / "results"
    r = cli(["campaign", "--dataset", "mnist", "--source", str(FASHION_MNIST), "--runtime",
             "local", "--meter", "none", "--results", str(results)], tmp_path)  # fmt: skip
    assert r.returncode == 2 and "are fashion-mnist, not mnist" in r.stderr
    assert not results.exists()


def test_mnist_shaped_files_are_not_labelled_fashion(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y_train = rng.integers(0, 10, 60000, dtype=np.uint8)
    y_train[: len(MNIST_FIRST_TRAIN_LABELS)] = MNIST_FIRST_TRAIN_LABELS
    arrays = {
        "x_train": np.zeros((60000, 28, 28), np.uint8), "y_train": y_train,
        "x_test": np.zeros((100, 28, 28), np.uint8),
        "y_test": rng.integers(0, 10, 100, dtype=np.uint8),
    }  # fmt: skip
    src = write_source(tmp_path / "src", arrays, gz=True)
    r = cli(["data", "prepare", "--dataset", "fashion-mnist", "--source", str(src), "--out",
             str(tmp_path / "out")], tmp_path)  # fmt: skip
    assert r.returncode == 2 and "are mnist, not fashion-mnist" in r.stderr
