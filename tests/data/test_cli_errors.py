"""Every kind of bad input, through the real command: exit 2, one line on stderr naming the
problem, and nothing written where a dataset would be."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.data.conftest import TINY, Cli, run_cli
from tests.data.idxfiles import NAMES, idx_bytes, sample_arrays, write_source


def assert_refused(result: Cli, parent: Path, out: Path, *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert len(result.stderr_lines) == 1, result.stderr
    line = result.stderr_lines[0]
    assert line.startswith("error: ")
    for needle in needles:
        assert needle in line, line
    assert result.stdout == ""
    assert not out.exists()
    # No temporary or half-written folder next to it either.
    assert not [p.name for p in parent.iterdir() if p.name.startswith(f".{out.name}")]


def _replace(name: str, data: bytes) -> Callable[[Path], None]:
    def change(src: Path) -> None:
        (src / f"{name}.gz").write_bytes(data)

    return change


def _truncate_gzip(src: Path) -> None:
    path = src / f"{NAMES['train_images']}.gz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_crc(src: Path) -> None:
    path = src / f"{NAMES['test_images']}.gz"
    data = bytearray(path.read_bytes())
    data[-8] ^= 0xFF
    path.write_bytes(bytes(data))


def _remove(name: str) -> Callable[[Path], None]:
    def change(src: Path) -> None:
        (src / f"{name}.gz").unlink()

    return change


ARR = sample_arrays()
BAD_SOURCES = {
    "wrong magic": (
        _replace(NAMES["train_images"], gzip.compress(idx_bytes(ARR["x_train"], magic=2049))),
        ["train-images-idx3-ubyte.gz", "magic number 2049", "not 2051"],
    ),
    "labels where images belong": (
        _replace(NAMES["test_images"], gzip.compress(idx_bytes(ARR["y_test"]))),
        ["t10k-images-idx3-ubyte.gz", "not an IDX images file"],
    ),
    "truncated idx": (
        _replace(NAMES["train_labels"], gzip.compress(idx_bytes(ARR["y_train"])[:-3])),
        ["train-labels-idx1-ubyte.gz", "truncated", "re-download"],
    ),
    "truncated gzip": (_truncate_gzip, ["train-images-idx3-ubyte.gz", "truncated gzip"]),
    "corrupt gzip": (_flip_crc, ["t10k-images-idx3-ubyte.gz", "corrupt gzip"]),
    "not gzip": (
        _replace(NAMES["test_labels"], b"<html>Not Found</html>"),
        ["t10k-labels-idx1-ubyte.gz", "not a gzip file"],
    ),
    "missing file": (
        _remove(NAMES["test_labels"]),
        ["missing t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz"],
    ),
    "count mismatch": (
        _replace(NAMES["train_labels"], gzip.compress(idx_bytes(ARR["y_train"][:-1]))),
        ["20 images", "19 labels"],
    ),
    "label out of range": (
        _replace(NAMES["test_labels"], gzip.compress(idx_bytes(np.full(10, 12, np.uint8)))),
        ["label 12 is outside 0..9"],
    ),
    "wrong image size": (
        _replace(NAMES["train_images"], gzip.compress(idx_bytes(np.zeros((20, 8, 8))))),
        ["[20, 8, 8]", "expected [N, 28, 28]"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_SOURCES))
def test_bad_idx_source(tmp_path: Path, case: str) -> None:
    change, needles = BAD_SOURCES[case]
    src = write_source(tmp_path / "src", ARR)
    change(src)
    out = tmp_path / "prepared"
    result = run_cli("--dataset", "fashion-mnist", "--source", src, "--out", out)
    assert_refused(result, tmp_path, out, *needles)


def test_source_folder_missing(tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    result = run_cli("--dataset", "mnist", "--source", tmp_path / "nowhere", "--out", out)
    assert_refused(result, tmp_path, out, "nowhere", "not a directory")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--dataset", "imagenet"], ["unknown dataset 'imagenet'", "synthetic"]),
        (["--dataset", "mnist", "--seed", "3"], ["--seed is for synthetic"]),
        (["--dataset", "synthetic", "--source", "."], ["--source and --mirror"]),
        (["--dataset", "fashion-mnist", "--train-count", "5"], ["--train-count"]),
        (["--dataset", "synthetic", "--train-count", "0"], ["--train-count 0 is out of range"]),
        (["--dataset", "synthetic", "--seed", "-1"], ["--seed -1 is negative"]),
        (["--dataset", "mnist", "--mirror", "ftp://example.org/"], ["not an http(s) URL"]),
    ],
)
def test_bad_options(tmp_path: Path, args: list[str], needles: list[str]) -> None:
    out = tmp_path / "prepared"
    result = run_cli(*args, "--out", out, "--cache-dir", tmp_path / "cache")
    assert_refused(result, tmp_path, out, *needles)
    assert not (tmp_path / "cache").exists()


def test_unreachable_mirror(tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    result = run_cli(
        "--dataset",
        "mnist",
        "--mirror",
        "http://127.0.0.1:9/",
        "--out",
        out,
        "--cache-dir",
        tmp_path / "cache",
    )
    assert_refused(result, tmp_path, out, "cannot reach http://127.0.0.1:9/train-images")
    assert list((tmp_path / "cache").rglob("*")) in ([], [tmp_path / "cache" / "mnist"])


def test_out_holding_other_files_is_refused_even_with_force(tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    for extra in ([], ["--force"]):
        result = run_cli(
            *TINY,
            "--out",
            out,
            *extra,
        )
        assert result.returncode == 2
        assert len(result.stderr_lines) == 1
        assert "not a prepared dataset (notes.txt)" in result.stderr
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    out.write_text("x")
    result = run_cli(*TINY, "--out", out)
    assert result.returncode == 2
    assert "is not a directory" in result.stderr
    assert out.read_text() == "x"


def test_cache_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "prepared"
    result = run_cli(
        "--dataset", "mnist", "--cache-dir", tmp_path / "afile" / "cache", "--out", out
    )
    assert_refused(result, tmp_path, out, "cannot write to the dataset cache", "--cache-dir")


def test_out_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    result = run_cli(*TINY, "--out", tmp_path / "afile" / "prepared")
    assert result.returncode == 2
    assert result.stderr_lines == [
        f"error: --out {tmp_path / 'afile' / 'prepared'}: {tmp_path / 'afile'} is not a "
        "directory; choose another --out"
    ]
