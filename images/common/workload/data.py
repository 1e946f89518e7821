"""The prepared dataset (docs/formats.md), read the same way by every framework.

Pixels are uint8 on disk and become float32 in [0, 1] here, in NumPy, so the three
frameworks receive bit-identical inputs (NHWC); token ids are int32 on disk and stay so.
None uses its own loader or preprocessing."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workload.errors import WorkloadInputError
from workload.models import IMAGE, ModelSpec

ARRAYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class Dataset:
    name: str
    sha256: str
    x_train: np.ndarray  # float32 (N, H, W, C) images, or int32 (N, length) token ids
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
    manifest: Manifest,
    spec: ModelSpec,
    limit_train: int | None = None,
    limit_test: int | None = None,
) -> Dataset:
    try:
        with np.load(manifest.path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ARRAYS}
    except (OSError, ValueError, KeyError) as exc:
        raise WorkloadInputError(
            f"{manifest.path} cannot be read as a prepared dataset ({exc})"
        ) from exc
    for split in ("train", "test"):
        _check_split(manifest, spec, split, arrays[f"x_{split}"], arrays[f"y_{split}"])
    n_train = _limit(len(arrays["x_train"]), limit_train, "--limit-train")
    n_test = _limit(len(arrays["x_test"]), limit_test, "--limit-test")
    inputs = _images if spec.input_kind == IMAGE else _tokens
    return Dataset(
        name=manifest.name,
        sha256=manifest.sha256,
        x_train=inputs(arrays["x_train"][:n_train], spec),
        y_train=arrays["y_train"][:n_train].astype(np.int32),
        x_test=inputs(arrays["x_test"][:n_test], spec),
        y_test=arrays["y_test"][:n_test].astype(np.int32),
    )


def _check_split(
    manifest: Manifest, spec: ModelSpec, split: str, x: np.ndarray, y: np.ndarray
) -> None:
    """The arrays against what --model reads: one line naming both on a mismatch."""
    dtype: np.dtype[Any]
    if spec.input_kind == IMAGE:
        dtype = np.dtype(np.uint8)
        # Grey images may be stored without their channel axis (the MNIST family).
        shapes = {spec.input_shape}
        if spec.input_shape[-1] == 1:
            shapes.add(spec.input_shape[:-1])
    else:
        dtype, shapes = np.dtype(np.int32), {spec.input_shape}
    if x.dtype != dtype or x.shape[1:] not in shapes or len(x) != len(y):
        raise WorkloadInputError(
            f"{manifest.path} ({manifest.name}): x_{split} is {x.dtype} {tuple(x.shape)} with "
            f"{len(y)} labels, but --model {spec.name} reads {dtype} (N, "
            f"{', '.join(map(str, spec.input_shape))}); prepare a dataset this model reads"
        )
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= spec.num_classes):
        raise WorkloadInputError(
            f"{manifest.path}: y_{split} has labels outside 0..{spec.num_classes - 1}, the "
            f"classes of --model {spec.name}"
        )
    if spec.vocab_size is not None and len(x) and (x.min() < 0 or x.max() >= spec.vocab_size):
        raise WorkloadInputError(
            f"{manifest.path}: x_{split} has token ids outside 0..{spec.vocab_size - 1}, the "
            f"vocabulary of --model {spec.name}"
        )


def _limit(available: int, limit: int | None, flag: str) -> int:
    if limit is None:
        return available
    if limit > available:
        raise WorkloadInputError(f"{flag} {limit} exceeds the {available} examples available")
    return limit


def _images(x: np.ndarray, spec: ModelSpec) -> np.ndarray:
    return (x.astype(np.float32) / np.float32(255.0)).reshape(len(x), *spec.input_shape)


def _tokens(x: np.ndarray, spec: ModelSpec) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.int32)
