"""`orchestrator data prepare`: get the arrays from IDX files, a download or the synthetic
generator, and write them as one prepared dataset."""

from __future__ import annotations

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


def _from_source(name: str, source: Path) -> tuple[Splits, dict[str, Any]]:
    files = idx.find_standard_files(source)
    splits = idx.read_splits(files)
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
