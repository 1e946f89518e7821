"""CIFAR-10 from its binary version (cifar-10-binary.tar.gz), parsed in NumPy.

Layout (https://www.cs.toronto.edu/~kriz/cifar.html, "Binary version"): the archive holds
`cifar-10-batches-bin/data_batch_1.bin` .. `data_batch_5.bin`, `test_batch.bin` and
`batches.meta.txt`. Each batch is 10,000 records of 3,073 bytes: one label byte (0..9), then
the 32x32 image as 1,024 red, 1,024 green and 1,024 blue bytes, each channel row-major. We
store it HWC (N, 32, 32, 3), the layout of the prepared format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.data.archive import read_members
from orchestrator.data.hashing import sha256_file
from orchestrator.data.registry import IMAGE_CLASSES, RGB_32
from orchestrator.data.splits import Splits
from orchestrator.errors import DataError

ARCHIVE = "cifar-10-binary.tar.gz"
# As published in tensorflow/datasets, tensorflow_datasets/url_checksums/cifar10.txt, for
# https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz: the binary version (the python
# version is pickled, and nothing read from a file is ever unpickled here).
PUBLISHED_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
PUBLISHED_SIZE_BYTES = 170052171
FOLDER = "cifar-10-batches-bin"
TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_BATCH = "test_batch.bin"
RECORD_BYTES = 1 + 32 * 32 * 3
RECORDS_PER_BATCH = 10000
_FIX = "download it again (or delete it from the cache), or give --source the real files"


def parse_batch(data: bytes, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 32, 32, 3) and labels uint8 (N,) of one batch file's bytes."""
    if not data or len(data) % RECORD_BYTES or len(data) > RECORDS_PER_BATCH * RECORD_BYTES:
        raise DataError(
            f"{label}: {len(data)} bytes is not 1..{RECORDS_PER_BATCH} whole records of "
            f"{RECORD_BYTES} bytes (truncated or not a CIFAR-10 binary batch); {_FIX}"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0].copy()
    if int(labels.max()) >= IMAGE_CLASSES:
        raise DataError(
            f"{label}: label byte {int(labels.max())} is outside 0..{IMAGE_CLASSES - 1}, so "
            f"this is not a CIFAR-10 binary batch; {_FIX}"
        )
    chw = records[:, 1:].reshape(-1, RGB_32[2], RGB_32[0], RGB_32[1])
    return np.ascontiguousarray(chw.transpose(0, 2, 3, 1)), labels


def _splits(batches: dict[str, bytes], where: str, *, real: bool) -> Splits:
    missing = [n for n in (*TRAIN_BATCHES, TEST_BATCH) if n not in batches]
    if missing:
        raise DataError(
            f"{where}: missing {', '.join(missing)}; give the binary version "
            f"({ARCHIVE}, or its {FOLDER}/ folder)"
        )
    train = [parse_batch(batches[n], f"{where}: {n}") for n in TRAIN_BATCHES]
    x_test, y_test = parse_batch(batches[TEST_BATCH], f"{where}: {TEST_BATCH}")
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    if real and (len(y_train), len(y_test)) != (5 * RECORDS_PER_BATCH, RECORDS_PER_BATCH):
        raise DataError(f"{where}: {len(y_train)} + {len(y_test)} images, not 50000 + 10000")
    return Splits(x_train, y_train, x_test, y_test)


def read_archive(path: Path, sha256: str) -> Splits:
    """The splits in the archive at `path` (whose SHA-256 is `sha256`). The published file
    must hold exactly 50,000 + 10,000 images; others (tests, subsets) any whole batches."""
    real = sha256 == PUBLISHED_SHA256
    limit = RECORDS_PER_BATCH * RECORD_BYTES
    wanted = {f"{FOLDER}/{n}": limit for n in (*TRAIN_BATCHES, TEST_BATCH)}
    members = read_members(path, wanted, fix=_FIX)
    return _splits({k.split("/", 1)[1]: v for k, v in members.items()}, str(path), real=real)


def from_source(source: Path) -> tuple[Splits, dict[str, Any]]:
    """--source DIR holding the archive, its extracted folder, or the batch files."""
    if not source.is_dir():
        raise DataError(f"--source {source}: not a directory; give the folder holding {ARCHIVE}")
    archive = source / ARCHIVE
    if archive.is_file():
        sha256 = sha256_file(archive)
        files = {
            ARCHIVE: {
                "sha256": sha256,
                "size_bytes": archive.stat().st_size,
                "matches_published": sha256 == PUBLISHED_SHA256,
            }
        }
        splits = read_archive(archive, sha256)
    else:
        folder = source / FOLDER if (source / FOLDER).is_dir() else source
        paths = [folder / n for n in (*TRAIN_BATCHES, TEST_BATCH)]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise DataError(
                f"--source {source}: holds neither {ARCHIVE} nor the binary batches "
                f"(missing {', '.join(missing)}); download the binary version of CIFAR-10"
            )
        limit = RECORDS_PER_BATCH * RECORD_BYTES
        batches = {}
        for p in paths:
            if p.stat().st_size > limit:
                raise DataError(f"{p}: {p.stat().st_size} bytes is more than one batch; {_FIX}")
            batches[p.name] = p.read_bytes()
        files = {p.name: {"sha256": sha256_file(p), "size_bytes": p.stat().st_size} for p in paths}
        splits = _splits(batches, str(folder), real=False)
    return splits, {"kind": "local", "dir": str(source.absolute()), "files": files}
