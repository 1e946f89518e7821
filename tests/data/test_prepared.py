"""The prepared-dataset folder: exact format, reproducible bytes, atomic and idempotent
writes, and a reader that refuses anything changed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from orchestrator.data import PreparedDataset, prepare_dataset, read_prepared
from orchestrator.errors import DataError
from tests.conftest import FASHION_MNIST, require
from tests.data.conftest import TINY, run_cli
from tests.data.idxfiles import sample_arrays, write_source


def test_round_trip_from_idx_source(tmp_path: Path) -> None:
    arrays = sample_arrays(train=40, test=12)
    src = write_source(tmp_path / "src", arrays, gz=False)
    out = tmp_path / "out"
    result = run_cli("--dataset", "mnist", "--source", src, "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    with np.load(out / "dataset.npz", allow_pickle=False) as npz:
        assert list(npz.keys()) == ["x_train", "y_train", "x_test", "y_test"]
        for name, array in arrays.items():
            assert npz[name].dtype == np.uint8
            np.testing.assert_array_equal(npz[name], array)
    meta = json.loads((out / "dataset.json").read_text())
    assert {k: meta[k] for k in ("schema", "schema_version", "name", "file")} == {
        "schema": "fwenergy.dataset",
        "schema_version": 1,
        "name": "mnist",
        "file": "dataset.npz",
    }
    assert (meta["train_count"], meta["test_count"]) == (40, 12)
    assert meta["image_shape"] == [28, 28] and meta["num_classes"] == 10
    assert meta["source"]["kind"] == "local"
    for name, entry in meta["source"]["files"].items():
        data = (src / name).read_bytes()
        assert entry["size_bytes"] == len(data)
        assert entry["matches_published"] is False
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "dataset.npz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_zip_members_have_fixed_metadata(tmp_path: Path) -> None:
    prepared = prepare_dataset("synthetic", tmp_path / "d", train_count=30, test_count=10)
    with zipfile.ZipFile(prepared.path / "dataset.npz") as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["x_train.npy", "y_train.npy", "x_test.npy", "y_test.npy"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}


def test_same_input_gives_the_same_bytes(tmp_path: Path) -> None:
    src = write_source(tmp_path / "src", sample_arrays())
    a = run_cli("--dataset", "fashion-mnist", "--source", src, "--out", tmp_path / "a", "--json")
    b = run_cli("--dataset", "fashion-mnist", "--source", src, "--out", tmp_path / "b", "--json")
    assert a.returncode == b.returncode == 0
    assert json.loads(a.stdout)["sha256"] == json.loads(b.stdout)["sha256"]
    assert (tmp_path / "a" / "dataset.npz").read_bytes() == (
        tmp_path / "b" / "dataset.npz"
    ).read_bytes()


def test_gzipped_and_raw_sources_give_the_same_dataset(tmp_path: Path) -> None:
    arrays = sample_arrays()
    gz = prepare_dataset("mnist", tmp_path / "a", write_source(tmp_path / "gz", arrays, gz=True))
    raw = prepare_dataset("mnist", tmp_path / "b", write_source(tmp_path / "raw", arrays, gz=False))
    assert gz.sha256 == raw.sha256


def test_debians_fashion_mnist_prepares_with_its_provenance(tmp_path: Path) -> None:
    require(FASHION_MNIST.is_dir(), f"Debian's dataset-fashion-mnist ({FASHION_MNIST})")
    prepared = prepare_dataset("fashion-mnist", tmp_path / "f", FASHION_MNIST, progress=False)
    assert (prepared.train_count, prepared.test_count) == (60000, 10000)
    assert read_prepared(tmp_path / "f") == prepared
    # The identity of prepared Fashion-MNIST on every machine (docs/data.md): a change here
    # means the file format changed and every published hash with it.
    assert prepared.sha256 == "cfb1f7c5bbecc82f5ec41e829d4d574695764821a684b196fd5ead54c6387ed6"
    files = json.loads((tmp_path / "f" / "dataset.json").read_text())["source"]["files"]
    assert files["t10k-labels-idx1-ubyte.gz"]["sha256"] == (
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"
    )


def test_existing_same_data_is_kept_and_other_data_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = prepare_dataset("synthetic", out, seed=1, train_count=50, test_count=20)
    mtime = (out / "dataset.npz").stat().st_mtime_ns
    again = prepare_dataset("synthetic", out, seed=1, train_count=50, test_count=20)
    assert again == first
    assert (out / "dataset.npz").stat().st_mtime_ns == mtime  # untouched

    other = ("--dataset", "synthetic", "--seed", "2", "--train-count", "50", "--test-count", "20")
    refused = run_cli(*other, "--out", out)
    assert refused.returncode == 2
    assert len(refused.stderr_lines) == 1
    assert f"holds another dataset (synthetic, sha256 {first.sha256[:12]}" in refused.stderr
    assert read_prepared(out) == first

    forced = run_cli(*other, "--out", out, "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    assert read_prepared(out).sha256 == json.loads(forced.stdout)["sha256"] != first.sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_empty_existing_folder_is_used(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    prepared = prepare_dataset("synthetic", tmp_path / "out", train_count=10, test_count=10)
    assert read_prepared(tmp_path / "out") == prepared


def test_summary_goes_to_stderr_without_json(tmp_path: Path) -> None:
    result = run_cli(
        *TINY,
        "--out",
        tmp_path / "s",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "prepared synthetic: 10 train, 10 test images" in result.stderr
    assert read_prepared(tmp_path / "s").sha256 in result.stderr


@pytest.fixture
def prepared(tmp_path: Path) -> PreparedDataset:
    return prepare_dataset("synthetic", tmp_path / "d", seed=5, train_count=20, test_count=10)


def test_read_prepared_accepts_the_folder_or_its_json(prepared: PreparedDataset) -> None:
    assert read_prepared(prepared.path) == prepared
    assert read_prepared(prepared.path / "dataset.json") == prepared


def test_read_prepared_detects_a_changed_file(prepared: PreparedDataset) -> None:
    data = bytearray((prepared.path / "dataset.npz").read_bytes())
    data[-1] ^= 0xFF
    (prepared.path / "dataset.npz").write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"does not match dataset\.json"):
        read_prepared(prepared.path)


def _edit(prepared: PreparedDataset, **changes: object) -> None:
    meta_path = prepared.path / "dataset.json"
    meta = json.loads(meta_path.read_text())
    meta.update(changes)
    meta_path.write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"schema": "other"}, "is not fwenergy.dataset 1"),
        ({"schema_version": 2}, "is not fwenergy.dataset 1"),
        ({"train_count": "20"}, "'train_count' is missing or not a int"),
        ({"train_count": 21}, r"x_train is uint8 \[20, 28, 28\], expected uint8 \[21, 28, 28\]"),
        ({"file": "../dataset.npz"}, "must be a plain file name"),
        ({"sha256": "abc"}, "not 64 lowercase hex"),
        ({"image_shape": [32, 32]}, "only 28x28"),
    ],
)
def test_read_prepared_refuses_bad_metadata(
    prepared: PreparedDataset, changes: dict[str, object], message: str
) -> None:
    _edit(prepared, **changes)
    with pytest.raises(DataError, match=message):
        read_prepared(prepared.path)


def test_read_prepared_refuses_missing_files(prepared: PreparedDataset) -> None:
    (prepared.path / "dataset.npz").unlink()
    with pytest.raises(DataError, match=r"dataset.npz: missing"):
        read_prepared(prepared.path)
    (prepared.path / "dataset.json").unlink()
    with pytest.raises(DataError, match=r"dataset.json: missing; prepare the dataset"):
        read_prepared(prepared.path)


def test_damaged_dataset_in_out_is_replaced_only_with_force(prepared: PreparedDataset) -> None:
    (prepared.path / "dataset.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="holds a damaged prepared dataset; pass --force"):
        prepare_dataset("synthetic", prepared.path, seed=5, train_count=20, test_count=10)
    repaired = prepare_dataset(
        "synthetic", prepared.path, seed=5, train_count=20, test_count=10, force=True
    )
    assert repaired == prepared
