"""The prepared format for each input kind: what dataset.json says, what read_prepared
accepts and refuses; and the registry the model table reads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from orchestrator.data import DATASETS, prepare_dataset, read_prepared
from orchestrator.data.prepared import npz_bytes
from orchestrator.data.registry import (
    GREY_28_DATASETS,
    RGB_32_DATASETS,
    SPECS,
    TOKEN_DATASETS,
    VOCAB_SIZE,
)
from orchestrator.data.splits import Splits
from orchestrator.errors import DataError
from orchestrator.workloads import MODELS
from tests.data.conftest import run_cli


def test_the_registry_lists_every_dataset_by_what_a_model_reads() -> None:
    assert DATASETS == (
        "mnist", "fashion-mnist", "synthetic", "cifar10", "synthetic-cifar10", "ag-news",
        "synthetic-text",
    )  # fmt: skip
    assert GREY_28_DATASETS == ("mnist", "fashion-mnist", "synthetic")
    assert RGB_32_DATASETS == ("cifar10", "synthetic-cifar10")
    assert TOKEN_DATASETS == ("ag-news", "synthetic-text")
    assert MODELS["mnist-cnn"].datasets == GREY_28_DATASETS
    assert {s.obtained for s in SPECS.values()} == {"download", "synthetic"}


def _prepared(tmp_path: Path, name: str) -> Path:
    return prepare_dataset(name, tmp_path / name, train_count=40, test_count=8).path


def test_the_mnist_family_gains_only_the_input_key(tmp_path: Path) -> None:
    meta = json.loads((_prepared(tmp_path, "synthetic") / "dataset.json").read_text())
    assert meta["input"] == "image" and meta["image_shape"] == [28, 28]
    assert meta["num_classes"] == 10 and "sequence_length" not in meta


def test_a_manifest_from_before_the_input_key_still_reads(tmp_path: Path) -> None:
    folder = _prepared(tmp_path, "synthetic")
    meta = json.loads((folder / "dataset.json").read_text())
    del meta["input"]
    (folder / "dataset.json").write_text(json.dumps(meta))
    assert read_prepared(folder).train_count == 40


def _replace_arrays(folder: Path, splits: Splits) -> None:
    """New arrays in dataset.npz, with the manifest's hash updated: only the value checks
    can catch them."""
    data = npz_bytes(splits)
    (folder / "dataset.npz").write_bytes(data)
    meta = json.loads((folder / "dataset.json").read_text())
    meta["sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "dataset.json").write_text(json.dumps(meta))


def test_token_ids_outside_the_vocabulary_are_refused(tmp_path: Path) -> None:
    folder = _prepared(tmp_path, "synthetic-text")
    with np.load(folder / "dataset.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["x_test"][3, 0] = VOCAB_SIZE
    _replace_arrays(folder, Splits(**arrays))
    with pytest.raises(DataError, match=r"x_test holds a token id outside 0\.\.19999") as exc:
        read_prepared(folder)
    assert "\n" not in str(exc.value)


def test_labels_outside_the_classes_are_refused(tmp_path: Path) -> None:
    folder = _prepared(tmp_path, "synthetic-cifar10")
    with np.load(folder / "dataset.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["y_train"][0] = 10
    _replace_arrays(folder, Splits(**arrays))
    with pytest.raises(DataError, match=r"y_train holds a label outside 0\.\.9"):
        read_prepared(folder)


def test_images_where_tokens_belong_are_refused(tmp_path: Path) -> None:
    folder = _prepared(tmp_path, "synthetic-text")
    _replace_arrays(
        folder, Splits(*(np.zeros(s, np.uint8) for s in ((40, 64), (40,), (8, 64), (8,))))
    )
    with pytest.raises(DataError, match=r"x_train is uint8 \[40, 64\], expected int32 \[40, 64\]"):
        read_prepared(folder)


@pytest.mark.parametrize(
    ("name", "changes", "message"),
    [
        ("synthetic-text", {"sequence_length": 128}, "tokens with .* are not supported"),
        ("synthetic-text", {"vocab_size": 30000}, "tokens with .* are not supported"),
        ("synthetic-text", {"input": "audio"}, "input 'audio' is not 'image' or 'tokens'"),
        ("synthetic-cifar10", {"image_shape": [32, 32]}, "only 28x28 grey or 32x32x3 RGB"),
        ("synthetic-cifar10", {"image_shape": [28, 28]}, r"x_train is uint8 \[40, 32, 32, 3\]"),
        ("synthetic-cifar10", {"num_classes": 100}, "only 28x28 grey or 32x32x3 RGB"),
    ],
)
def test_manifests_of_unsupported_shapes_are_refused(
    tmp_path: Path, name: str, changes: dict[str, object], message: str
) -> None:
    folder = _prepared(tmp_path, name)
    meta = json.loads((folder / "dataset.json").read_text())
    meta.update(changes)
    (folder / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=message):
        read_prepared(folder)


def test_the_command_help_names_every_dataset() -> None:
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    help_text = " ".join(result.stdout.split()).replace("- ", "-")
    for name in DATASETS:
        assert name in help_text, name
