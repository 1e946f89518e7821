"""Test-side IDX and gzip writers, written from the format's description and independent of
the code under test, so a shared misunderstanding cannot make a test pass."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """Unsigned-byte IDX: magic 0x0000 0x08 ndim, big-endian uint32 dims, C-order data."""
    arr = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 | arr.ndim
    return struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def sample_arrays(train: int = 20, test: int = 10, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, size=(train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, size=train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, size=(test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, size=test, dtype=np.uint8),
    }


def write_source(folder: Path, arrays: dict[str, np.ndarray], *, gz: bool = True) -> Path:
    """The four standard files of `arrays` in `folder`, gzipped or raw."""
    folder.mkdir(parents=True, exist_ok=True)
    content = {
        "train_images": idx_bytes(arrays["x_train"]),
        "train_labels": idx_bytes(arrays["y_train"]),
        "test_images": idx_bytes(arrays["x_test"]),
        "test_labels": idx_bytes(arrays["y_test"]),
    }
    for role, data in content.items():
        name = NAMES[role] + (".gz" if gz else "")
        (folder / name).write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return folder


def official_gzip(debian_file: Path, original_name: str, mtime: int) -> bytes:
    """The publisher's .gz file rebuilt from Debian's copy of it.

    Debian's dataset-fashion-mnist ships the same deflate stream and trailer but a header
    without the original file name and with another timestamp (RFC 1952: ID1 ID2 CM FLG
    MTIME XFL OS, then the zero-terminated FNAME when FLG.FNAME is set). Putting back the
    name and the publisher's timestamp gives the published bytes exactly, checked against
    the published SHA-256 by the tests that use it.
    """
    data = debian_file.read_bytes()
    assert data[:3] == b"\x1f\x8b\x08" and data[3] == 0, "unexpected Debian gzip header"
    fname_flag = 0x08
    header = bytes([0x1F, 0x8B, 0x08, fname_flag]) + struct.pack("<I", mtime) + data[8:10]
    return header + original_name.encode() + b"\0" + data[10:]


# The publisher's timestamps, found by matching the published SHA-256 (2017-08-31 UTC).
FASHION_MTIMES = {
    "train-images-idx3-ubyte": 1504176606,
    "train-labels-idx1-ubyte": 1504176606,
    "t10k-images-idx3-ubyte": 1504176627,
    "t10k-labels-idx1-ubyte": 1504176627,
}
