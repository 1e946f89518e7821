"""`orchestrator data prepare`: get the arrays from IDX files, a download or the synthetic
generator, and write them as one prepared dataset."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.data import download, idx, synthetic
from orchestrator.data.hashing import sha256_file
from orchestrator.data.prepared import PreparedDataset, write_prepared
from orchestrator.data.splits import Splits
from orchestrator.errors import DataError

DATASETS = ("mnist", "fashion-mnist", "synthetic")


def _published_sha256(name: str) -> dict[str, str]:
    return {f.name: f.sha256 for f in download.REMOTE[name].files}


# How each known set is recognised from its content, whatever the packaging (Debian's and
# other repackaged copies differ in their .gz bytes): Fashion-MNIST by the SHA-256 of its
# training labels (measured on the real files), MNIST by its famous first training labels.
FASHION_TRAIN_LABELS_SHA256 = "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7"
MNIST_FIRST_TRAIN_LABELS = (5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 3, 5, 3, 6, 1, 7, 2, 8, 6, 9)


def recognise(splits: Splits, gz_sha256: set[str]) -> str | None:
    """Which known dataset these are, or None."""
    for name in ("mnist", "fashion-mnist"):
        if gz_sha256 & set(_published_sha256(name).values()):
            return name
    if hashlib.sha256(splits.y_train.tobytes()).hexdigest() == FASHION_TRAIN_LABELS_SHA256:
        return "fashion-mnist"
    first = tuple(int(v) for v in splits.y_train[: len(MNIST_FIRST_TRAIN_LABELS)])
    if len(splits.y_train) == 60000 and first == MNIST_FIRST_TRAIN_LABELS:
        return "mnist"
    return None


def _from_source(name: str, source: Path) -> tuple[Splits, dict[str, Any]]:
    files = idx.find_standard_files(source)
    splits = idx.read_splits(files)
    actual = recognise(splits, {sha256_file(p) for p in files.values()})
    if actual is not None and actual != name:
        # A campaign labelled with the wrong dataset would publish wrong results.
        raise DataError(
            f"the IDX files in {source} are {actual}, not {name}: use --dataset {actual}"
        )
    published = _published_sha256(name)
    described = {}
    for path in files.values():
        sha256 = sha256_file(path)
        described[path.name] = {
            "sha256": sha256,
            "size_bytes": path.stat().st_size,
            # Repackaged copies (Debian's, an unpacked folder) are fine but differ in bytes.
            "matches_published": published.get(path.name) == sha256,
        }
    return splits, {"kind": "local", "dir": str(source.absolute()), "files": described}


def _from_download(
    name: str, cache_dir: Path | None, mirror: str | None, progress: bool
) -> tuple[Splits, dict[str, Any]]:
    cached = download.ensure_cached(
        download.REMOTE[name], cache_dir=cache_dir, mirror=mirror, progress=progress
    )
    by_name = {c.path.name: c for c in cached}
    files = {role: by_name[f"{stem}.gz"].path for role, stem in idx.STANDARD_FILES.items()}
    described = {
        c.path.name: {"url": c.url, "sha256": c.sha256, "size_bytes": c.size_bytes} for c in cached
    }
    return idx.read_splits(files), {"kind": "download", "files": described}


def prepare_dataset(
    name: str,
    out_dir: Path,
    source: Path | None = None,
    *,
    cache_dir: Path | None = None,
    mirror: str | None = None,
    seed: int = 0,
    progress: bool = True,
    force: bool = False,
    train_count: int | None = None,
    test_count: int | None = None,
) -> PreparedDataset:
    """Prepare `name` into `out_dir`: from IDX files in `source`, else downloaded (mnist,
    fashion-mnist), or generated from `seed` (synthetic). Idempotent for the same data."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "synthetic":
        if source is not None or mirror is not None:
            raise DataError("--source and --mirror are for mnist and fashion-mnist, not synthetic")
        splits = synthetic.make_synthetic(
            seed,
            synthetic.DEFAULT_TRAIN_COUNT if train_count is None else train_count,
            synthetic.DEFAULT_TEST_COUNT if test_count is None else test_count,
        )
        origin: dict[str, Any] = {
            "kind": "synthetic",
            "generator": synthetic.GENERATOR,
            "seed": seed,
            "numpy": np.__version__,
        }
    else:
        if train_count is not None or test_count is not None:
            raise DataError(f"--train-count and --test-count are for synthetic, not {name}")
        if source is not None and mirror is not None:
            raise DataError("--mirror is for downloads; drop it when reading --source DIR")
        if source is not None:
            splits, origin = _from_source(name, source)
        else:
            splits, origin = _from_download(name, cache_dir, mirror, progress)
    return write_prepared(out_dir, splits, name=name, source=origin, force=force)
