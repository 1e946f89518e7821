"""Helpers of the workload tests."""

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
    """A prepared-dataset folder (docs/formats.md) holding these arrays, as the workload
    reads it: for inputs `orchestrator data prepare` has no source of here."""
    folder = tmp_path / name
    folder.mkdir(parents=True)
    npz = folder / "dataset.npz"
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    np.savez(npz, **arrays)  # type: ignore[arg-type]  # uncompressed, members in this order
    manifest = {
        "schema": "fwenergy.dataset",
        "schema_version": 1,
        "name": name,
        "file": npz.name,
        "sha256": hashlib.sha256(npz.read_bytes()).hexdigest(),
        "train_count": len(y_train),
        "test_count": len(y_test),
        "source": {"kind": "synthetic", "generator": "tests"},
    }
    (folder / "dataset.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder
