"""The IDX reader on Debian's real Fashion-MNIST files and on files written here."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from orchestrator.data import idx
from orchestrator.errors import DataError
from tests.conftest import FASHION_MNIST, require
from tests.data.idxfiles import idx_bytes, sample_arrays, write_source


def test_reads_debians_fashion_mnist() -> None:
    require(FASHION_MNIST.is_dir(), f"Debian's dataset-fashion-mnist ({FASHION_MNIST})")
    splits = idx.read_splits(idx.find_standard_files(FASHION_MNIST))
    assert splits.x_train.shape == (60000, 28, 28)
    assert splits.x_test.shape == (10000, 28, 28)
    assert splits.x_train.dtype == splits.y_train.dtype == np.uint8
    # Fashion-MNIST is balanced: 6000 and 1000 images per class.
    assert np.bincount(splits.y_train).tolist() == [6000] * 10
    assert np.bincount(splits.y_test).tolist() == [1000] * 10
    # Real pictures on a black background, not noise: corners dark, full range used.
    assert splits.x_train[:, 0, 0].mean() < 5
    assert splits.x_train.max() == 255


@pytest.mark.parametrize("gz", [True, False])
def test_generated_files_read_back_exactly(tmp_path: Path, gz: bool) -> None:
    data = sample_arrays(train=33, test=7)
    splits = idx.read_splits(idx.find_standard_files(write_source(tmp_path, data, gz=gz)))
    for name, array in splits.arrays().items():
        np.testing.assert_array_equal(array, data[name])


def test_uncompressed_name_wins_when_both_exist(tmp_path: Path) -> None:
    write_source(tmp_path, sample_arrays(train=5, seed=1), gz=True)
    raw = sample_arrays(train=6, seed=2)
    write_source(tmp_path, raw, gz=False)
    splits = idx.read_splits(idx.find_standard_files(tmp_path))
    np.testing.assert_array_equal(splits.x_train, raw["x_train"])


@settings(max_examples=40, deadline=None)
@given(
    array=arrays(
        np.uint8,
        st.tuples(st.integers(0, 6), st.integers(0, 5), st.integers(0, 5)),
    ),
    compress=st.booleans(),
)
def test_idx_round_trip_of_any_shape(
    tmp_path_factory: pytest.TempPathFactory, array: np.ndarray, compress: bool
) -> None:
    path = tmp_path_factory.mktemp("idx") / ("a.gz" if compress else "a")
    raw = idx_bytes(array)
    path.write_bytes(gzip.compress(raw) if compress else raw)
    decoded = idx.parse_idx(idx.read_idx_bytes(path), expected_magic=0x0803, label="a")
    assert decoded.shape == array.shape
    np.testing.assert_array_equal(decoded, array)


@settings(max_examples=40, deadline=None)
@given(
    array=arrays(np.uint8, st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))),
    cut=st.integers(1, 200),
)
def test_any_truncation_is_refused(array: np.ndarray, cut: int) -> None:
    raw = idx_bytes(array)
    short = raw[: max(0, len(raw) - cut)]
    with pytest.raises(DataError, match=r"truncated|too short"):
        idx.parse_idx(short, expected_magic=0x0803, label="x")


def test_trailing_bytes_are_refused() -> None:
    raw = idx_bytes(np.zeros((2, 3), dtype=np.uint8)) + b"\0"
    with pytest.raises(DataError, match="trailing bytes"):
        idx.parse_idx(raw, expected_magic=0x0802, label="x")


def test_wrong_magic_names_both_numbers() -> None:
    raw = idx_bytes(np.zeros(4, dtype=np.uint8))
    with pytest.raises(DataError, match=r"magic number 2049 .* is not 2051"):
        idx.parse_idx(raw, expected_magic=idx.IMAGES_MAGIC, label="x")


def test_little_endian_header_is_refused() -> None:
    # A writer that forgot IDX is big-endian: the magic reads as a huge number.
    raw = (2051).to_bytes(4, "little") + b"\0" * 12
    with pytest.raises(DataError, match="magic number"):
        idx.parse_idx(raw, expected_magic=idx.IMAGES_MAGIC, label="x")


def test_wrong_image_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros((3, 32, 32), dtype=np.uint8)))
    with pytest.raises(DataError, match=r"shape \[3, 32, 32\], expected \[N, 28, 28\]"):
        idx.read_images(path)


def test_label_out_of_range_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(idx_bytes(np.array([0, 3, 10], dtype=np.uint8)))
    with pytest.raises(DataError, match=r"label 10 is outside 0\.\.9"):
        idx.read_labels(path)


def test_corrupt_gzip_checksum_is_refused(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(idx_bytes(np.arange(50, dtype=np.uint8)), mtime=0))
    data[-8] ^= 0xFF  # the CRC-32 of the trailer
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="corrupt gzip"):
        idx.read_idx_bytes(path)
