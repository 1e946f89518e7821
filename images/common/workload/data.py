"""The prepared dataset (docs/formats.md), read the same way by every framework.

Pixels are uint8 on disk and become float32 in [0, 1] here, in NumPy, so the three
frameworks receive bit-identical inputs (NHWC); none uses its own loader or preprocessing."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workload.errors import WorkloadInputError

ARRAYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class Dataset:
    name: str
    sha256: str
    x_train: np.ndarray  # float32 (N, 28, 28, 1)
    y_train: np.ndarray  # int32 (N,)
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class Manifest:
    name: str
    sha256: str
    path: Path
    train_count: int
    test_count: int

    def check_limits(
        self, limit_train: int | None, limit_test: int | None, batch_size: int | None = None
    ) -> None:
        n_train = _limit(self.train_count, limit_train, "--limit-train")
        _limit(self.test_count, limit_test, "--limit-test")
        # A batch larger than the data is one partial batch per epoch: not the training the
        # batch size names, and a compiled framework would never take its regular step.
        if batch_size is not None and batch_size > n_train:
            raise WorkloadInputError(
                f"--batch-size {batch_size} exceeds the {n_train} training examples; "
                "give a smaller batch or more data"
            )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_dataset(data_dir: Path) -> Manifest:
    """Validate dataset.json and the file's SHA-256 before anything is written or imported."""
    manifest_path = data_dir / "dataset.json"
    if not manifest_path.is_file():
        raise WorkloadInputError(
            f"{manifest_path} not found: --data must be a folder made by "
            "`orchestrator data prepare`"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        name, expected, file = manifest["name"], manifest["sha256"], manifest["file"]
        counts = int(manifest["train_count"]), int(manifest["test_count"])
    except (ValueError, KeyError, TypeError) as exc:
        raise WorkloadInputError(
            f"{manifest_path} is not a valid dataset manifest ({exc}); prepare the data again"
        ) from exc
    if manifest.get("schema") != "fwenergy.dataset" or manifest.get("schema_version") != 1:
        raise WorkloadInputError(
            f"{manifest_path}: unsupported schema {manifest.get('schema')!r} "
            f"v{manifest.get('schema_version')}; prepare the data again with this version"
        )
    path = data_dir / file
    if not path.is_file():
        raise WorkloadInputError(f"{path} not found; prepare the data again")
    actual = _sha256(path)
    if actual != expected:
        raise WorkloadInputError(
            f"{path} has SHA-256 {actual[:16]}..., its manifest says {expected[:16]}...: "
            "the file changed; prepare the data again"
        )
    return Manifest(name, actual, path, *counts)


def load_dataset(
    manifest: Manifest, limit_train: int | None = None, limit_test: int | None = None
) -> Dataset:
    try:
        with np.load(manifest.path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ARRAYS}
    except (OSError, ValueError, KeyError) as exc:
        raise WorkloadInputError(
            f"{manifest.path} cannot be read as a prepared dataset ({exc})"
        ) from exc
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) != len(y):
            raise WorkloadInputError(
                f"{manifest.path}: x_{split} must be uint8 (N, 28, 28) with one label per "
                f"image, got {x.dtype} {x.shape} and {len(y)} labels"
            )
    n_train = _limit(len(arrays["x_train"]), limit_train, "--limit-train")
    n_test = _limit(len(arrays["x_test"]), limit_test, "--limit-test")
    return Dataset(
        name=manifest.name,
        sha256=manifest.sha256,
        x_train=_images(arrays["x_train"][:n_train]),
        y_train=arrays["y_train"][:n_train].astype(np.int32),
        x_test=_images(arrays["x_test"][:n_test]),
        y_test=arrays["y_test"][:n_test].astype(np.int32),
    )


def _limit(available: int, limit: int | None, flag: str) -> int:
    if limit is None:
        return available
    if limit > available:
        raise WorkloadInputError(f"{flag} {limit} exceeds the {available} examples available")
    return limit


def _images(x: np.ndarray) -> np.ndarray:
    return (x.astype(np.float32) / np.float32(255.0))[..., np.newaxis]
