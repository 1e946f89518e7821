"""`orchestrator data prepare`: get the arrays from local files, a download or a synthetic
generator, and write them as one prepared dataset. What each dataset is: registry.py."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.data import agnews, cifar, download, idx, synthetic, synthetic_text
from orchestrator.data.hashing import sha256_file
from orchestrator.data.prepared import PreparedDataset, write_prepared
from orchestrator.data.registry import DATASETS, SYNTHETIC, spec
from orchestrator.data.splits import Splits
from orchestrator.errors import DataError

__all__ = ["DATASETS", "prepare_dataset"]

# name -> (generator, its name in dataset.json, default train and test counts)
_GENERATORS = {
    "synthetic": (
        synthetic.make_synthetic,
        synthetic.GENERATOR,
        synthetic.DEFAULT_TRAIN_COUNT,
        synthetic.DEFAULT_TEST_COUNT,
    ),
    "synthetic-cifar10": (
        synthetic.make_synthetic_cifar10,
        synthetic.CIFAR_GENERATOR,
        50000,
        10000,
    ),
    "synthetic-text": (
        synthetic_text.make_synthetic_text,
        synthetic_text.GENERATOR,
        synthetic_text.DEFAULT_TRAIN_COUNT,
        synthetic_text.DEFAULT_TEST_COUNT,
    ),
}


def _published_sha256(name: str) -> dict[str, str]:
    return {f.name: f.sha256 for f in download.REMOTE[name].files if f.sha256 is not None}


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
) -> tuple[Splits, dict[str, Any], dict[str, Any]]:
    """The splits from the cached (or now downloaded) published files, where they came from,
    and extra dataset.json keys."""
    remote = download.REMOTE[name]
    cached = download.ensure_cached(remote, cache_dir=cache_dir, mirror=mirror, progress=progress)
    described = {
        c.path.name: {"url": c.url, "sha256": c.sha256, "size_bytes": c.size_bytes} for c in cached
    }
    origin = {"kind": "download", "files": described}
    if name == "cifar10":
        return cifar.read_archive(cached[0].path, cached[0].sha256), origin, {}
    if name == "ag-news":
        splits, tokenizer = agnews.read_archive(cached[0].path)
        return splits, origin, {"tokenizer": tokenizer}
    by_name = {c.path.name: c for c in cached}
    files = {role: by_name[f"{stem}.gz"].path for role, stem in idx.STANDARD_FILES.items()}
    return idx.read_splits(files), origin, {}


def _from_local(name: str, source: Path) -> tuple[Splits, dict[str, Any], dict[str, Any]]:
    if name == "cifar10":
        return (*cifar.from_source(source), {})
    if name == "ag-news":
        splits, origin, tokenizer = agnews.from_source(source)
        return splits, origin, {"tokenizer": tokenizer}
    return (*_from_source(name, source), {})


def _generated(
    name: str, seed: int, train_count: int | None, test_count: int | None
) -> tuple[Splits, dict[str, Any]]:
    make, generator, default_train, default_test = _GENERATORS[name]
    splits = make(
        seed,
        default_train if train_count is None else train_count,
        default_test if test_count is None else test_count,
    )
    return splits, {
        "kind": "synthetic",
        "generator": generator,
        "seed": seed,
        "numpy": np.__version__,
    }


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
    """Prepare `name` into `out_dir`: from the files in `source`, else downloaded, or
    generated from `seed` (the synthetic ones). Idempotent for the same data."""
    ds = spec(name)
    extra: dict[str, Any] = {}
    if ds.obtained == SYNTHETIC:
        if source is not None or mirror is not None:
            raise DataError(f"--source and --mirror are for downloaded datasets, not {name}")
        splits, origin = _generated(name, seed, train_count, test_count)
    else:
        if train_count is not None or test_count is not None:
            raise DataError(
                f"--train-count and --test-count are for the synthetic datasets, not {name}"
            )
        if source is not None and mirror is not None:
            raise DataError("--mirror is for downloads; drop it when reading --source DIR")
        if source is not None:
            splits, origin, extra = _from_local(name, source)
        else:
            splits, origin, extra = _from_download(name, cache_dir, mirror, progress)
    return write_prepared(out_dir, splits, name=name, source=origin, force=force, extra=extra)
