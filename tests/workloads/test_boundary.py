"""The deliberate copies across the container boundary. The images cannot import the host's
code (they hold only images/common and a framework), so a few small pieces exist on both
sides; each pair is pinned here so the two can never drift apart:

* the SHA-256 of a dataset file (orchestrator/data/hashing.py, workload/data.py);
* the check of a prepared dataset against its manifest (orchestrator/data/prepared.py,
  workload/data.py);
* the workload's defaults (plan.WorkloadSettings, workload.config.TrainConfig):
  tests/campaign/test_options.py;
* the framework names (runtimes/variants.py, workload/__init__.py):
  tests/campaign/test_variants.py;
* the models' parameter counts and the entrypoint's tasks (orchestrator/workloads.py,
  workload/models and workload/cli.py), below.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from workload import cli as workload_cli
from workload import data as workload_data
from workload import models as workload_models
from workload.errors import WorkloadInputError
from workload.models import MODELS as WORKLOAD_MODELS

from orchestrator.data import prepare_dataset
from orchestrator.data.hashing import sha256_file
from orchestrator.data.prepared import read_prepared
from orchestrator.errors import DataError
from orchestrator.workloads import MODELS, TASKS


def test_both_sides_hash_a_file_alike(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(3 * (1 << 20) + 17))  # several read blocks and a remainder
    assert workload_data._sha256(path) == sha256_file(path)


def test_both_sides_accept_the_same_dataset_and_refuse_the_same_tampering(
    tmp_path: Path,
) -> None:
    prepared = prepare_dataset(
        "synthetic", tmp_path / "d", progress=False, train_count=64, test_count=32
    )
    folder = Path(prepared.path)
    assert read_prepared(folder).sha256 == workload_data.check_dataset(folder).sha256
    npz = folder / "dataset.npz"
    raw = bytearray(npz.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    npz.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="SHA-256") as host:
        read_prepared(folder)
    with pytest.raises(WorkloadInputError, match="SHA-256") as image:
        workload_data.check_dataset(folder)
    for exc in (host.value, image.value):
        assert "dataset.npz" in str(exc) and "\n" not in str(exc)


def test_the_model_and_task_registry_matches_the_workload() -> None:
    assert set(MODELS) == set(WORKLOAD_MODELS)
    for name, model in MODELS.items():
        assert model.parameter_count == WORKLOAD_MODELS[name].parameter_count
    parser = workload_cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    # every task is a sub-command (the others, such as `devices`, are checks, not work)
    assert set(TASKS) <= set(commands.choices)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("dataset", "kind", "shape", "classes", "vocab"),
    [
        ("synthetic-cifar10", workload_models.IMAGE, (32, 32, 3), 10, None),
        ("synthetic-text", workload_models.TOKENS, (64,), 4, 20000),
    ],
)
def test_the_workload_reads_the_new_kinds_as_the_host_writes_them(
    tmp_path: Path,
    dataset: str,
    kind: str,
    shape: tuple[int, ...],
    classes: int,
    vocab: int | None,
) -> None:
    """The host's prepared format for 32x32x3 images and tokens (orchestrator/data/registry.py)
    is what the workload's reader accepts for a model of that input."""
    from orchestrator.data.registry import SPECS

    host = SPECS[dataset]
    assert (host.input, host.shape, host.num_classes) == (kind, shape, classes)
    prepared = prepare_dataset(
        dataset, tmp_path / "d", progress=False, train_count=40, test_count=8
    )
    spec = workload_models.ModelSpec(
        "probe",
        kind,
        shape,
        classes,
        0,
        lambda seed: None,
        vocab_size=vocab,
    )
    data = workload_data.load_dataset(workload_data.check_dataset(Path(prepared.path)), spec)
    assert data.x_train.shape[1:] == shape and len(data.y_test) == 8
