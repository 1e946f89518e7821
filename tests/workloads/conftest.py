"""Helpers for the workload tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np


def prepared(
    tmp_path: Path,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    name: str,
) -> Path:
    """A prepared-dataset folder (docs/formats.md: dataset.npz and dataset.json) holding the
    given arrays as they are, for a model whose data `orchestrator data prepare` may not make
    yet. The workload checks the arrays against the model itself."""
    folder = tmp_path / name
    folder.mkdir(parents=True)
    npz = folder / "dataset.npz"
    np.savez(npz, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    manifest = {
        "schema": "fwenergy.dataset",
        "schema_version": 1,
        "name": name,
        "file": npz.name,
        "sha256": hashlib.sha256(npz.read_bytes()).hexdigest(),
        "train_count": len(y_train),
        "test_count": len(y_test),
        "image_shape": list(x_train.shape[1:]),
        "num_classes": int(max(y_train.max(), y_test.max())) + 1,
        "source": {"kind": "test"},
    }
    (folder / "dataset.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder
