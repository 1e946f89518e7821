"""Which prepared dataset a campaign uses: `--data DIR`, or `--dataset NAME [--source DIR]`
prepared on the fly into a cache and reused next time."""

from __future__ import annotations

import hashlib
from pathlib import Path

from orchestrator.data import PreparedDataset, prepare_dataset, read_prepared
from orchestrator.errors import DataError
from orchestrator.paths import cache_root


def resolve_dataset(
    data: Path | None, name: str | None, source: Path | None, seed: int = 0
) -> PreparedDataset:
    if data is not None:
        if name is not None or source is not None:
            raise DataError("give either --data DIR or --dataset NAME [--source DIR], not both")
        return read_prepared(data)
    if name is None:
        raise DataError("no dataset: give --data DIR (orchestrator data prepare) or --dataset NAME")
    # One cache entry per (name, source): a different source folder never reuses another's.
    key = hashlib.sha256(str(source.resolve() if source else "").encode()).hexdigest()[:12]
    out = cache_root() / "prepared" / f"{name}-{key}"
    if (out / "dataset.json").exists():
        try:
            return read_prepared(out)
        except DataError:
            pass  # a damaged cache entry is prepared again below
    return prepare_dataset(name, out, source, seed=seed, progress=False)
