"""Read MNIST-style IDX files (gzipped or raw) into uint8 arrays, refusing anything malformed.

IDX: a 4-byte magic (two zero bytes, a type code, the number of dimensions), one big-endian
uint32 per dimension, then the values in C order. MNIST and Fashion-MNIST use unsigned bytes:
magic 2051 (0x00000803) for images (N, rows, cols) and 2049 (0x00000801) for labels (N,).
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from orchestrator.data.splits import IMAGE_SHAPE, NUM_CLASSES, Splits
from orchestrator.errors import DataError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049

# The four standard files, by role; each may also be present with a ".gz" suffix.
STANDARD_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_FIX = "re-download it (or delete it from the cache) and run the command again"


def parse_idx(data: bytes, *, expected_magic: int, label: str) -> np.ndarray:
    """Decode the bytes of one uncompressed IDX file of unsigned bytes; `label` names it in
    errors."""
    if len(data) < 4:
        raise DataError(f"{label}: {len(data)} bytes is too short for an IDX header; {_FIX}")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        kind = "images" if expected_magic == IMAGES_MAGIC else "labels"
        raise DataError(
            f"{label}: magic number {magic} (0x{magic:08x}) is not {expected_magic}, "
            f"so this is not an IDX {kind} file; check the file name or {_FIX}"
        )
    ndim = data[3]
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise DataError(f"{label}: truncated IDX header ({len(data)} bytes); {_FIX}")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected_bytes = header_bytes + math.prod(shape)
    if len(data) != expected_bytes:
        problem = "truncated" if len(data) < expected_bytes else "has trailing bytes"
        raise DataError(
            f"{label}: {problem}: header says shape {list(shape)} ({expected_bytes} bytes) "
            f"but the file has {len(data)} bytes; {_FIX}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_bytes).reshape(shape).copy()


def read_idx_bytes(path: Path) -> bytes:
    """The uncompressed content of an IDX file; gzip is recognised by its content, not its
    name, so a mislabelled file still reads or fails with a clear message."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror}); check the path") from exc
    if raw[:2] != b"\x1f\x8b":
        if path.suffix == ".gz":
            raise DataError(f"{path}: not a gzip file although named .gz; {_FIX}")
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError as exc:
        raise DataError(f"{path}: truncated gzip stream; {_FIX}") from exc
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: corrupt gzip data ({exc}); {_FIX}") from exc


def read_images(path: Path) -> np.ndarray:
    images = parse_idx(read_idx_bytes(path), expected_magic=IMAGES_MAGIC, label=str(path))
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DataError(
            f"{path}: images have shape {list(images.shape)}, expected [N, 28, 28]; "
            "only 28x28 MNIST-style images are supported"
        )
    return images


def read_labels(path: Path) -> np.ndarray:
    labels = parse_idx(read_idx_bytes(path), expected_magic=LABELS_MAGIC, label=str(path))
    if labels.ndim != 1:
        raise DataError(f"{path}: labels have shape {list(labels.shape)}, expected [N]; {_FIX}")
    if labels.size and int(labels.max()) >= NUM_CLASSES:
        raise DataError(
            f"{path}: label {int(labels.max())} is outside 0..{NUM_CLASSES - 1}; {_FIX}"
        )
    return labels


def find_standard_files(source_dir: Path) -> dict[str, Path]:
    """Role -> path of the four standard files in `source_dir`; the uncompressed name wins
    when both exist, as it is what a user who unpacked the files meant."""
    if not source_dir.is_dir():
        raise DataError(
            f"--source {source_dir}: not a directory; give the folder holding the IDX files"
        )
    found: dict[str, Path] = {}
    missing: list[str] = []
    for role, name in STANDARD_FILES.items():
        for candidate in (source_dir / name, source_dir / f"{name}.gz"):
            if candidate.is_file():
                found[role] = candidate
                break
        else:
            missing.append(f"{name} or {name}.gz")
    if missing:
        raise DataError(
            f"--source {source_dir}: missing {', '.join(missing)}; "
            "put the four standard IDX files there (gzipped or not)"
        )
    return found


def _pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_images(images_path), read_labels(labels_path)
    if len(images) != len(labels):
        raise DataError(
            f"{images_path.name} has {len(images)} images but {labels_path.name} has "
            f"{len(labels)} labels; the files do not belong together, fetch a matching pair"
        )
    return images, labels


def read_splits(files: dict[str, Path]) -> Splits:
    x_train, y_train = _pair(files["train_images"], files["train_labels"])
    x_test, y_test = _pair(files["test_images"], files["test_labels"])
    return Splits(x_train, y_train, x_test, y_test)
