"""The registries of models and tasks a campaign or a study may name: which exist, and
which datasets each model reads. The study file is checked against them (orchestrator/study),
so a new model or task becomes a legal matrix value by one entry here.

The tasks are the workload entrypoint's sub-commands (`python -m workload train|infer`);
issue 14 adds the models `cifar-resnet` and `text-transformer`.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.data.registry import GREY_28_DATASETS, RGB_32_DATASETS, TOKEN_DATASETS
from orchestrator.errors import UserError


class WorkloadError(UserError):
    """A model or task name that the registry does not know."""


@dataclass(frozen=True)
class Model:
    name: str
    parameter_count: int  # the contract constant, the same in every framework
    datasets: tuple[str, ...]  # the prepared datasets it reads (orchestrator data prepare)


MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model("mnist-cnn", 268_298, GREY_28_DATASETS),  # the reference study's CNN (seeds/000)
        # ResNet-18 for 32x32x3 images (docs/models.md): cifar10, synthetic-cifar10
        Model("cifar-resnet", 11_173_962, RGB_32_DATASETS),
        # A small pre-norm transformer encoder on token ids (workload.models.text_transformer).
        Model("text-transformer", 2_965_508, TOKEN_DATASETS),
    )
}
DEFAULT_MODEL = "mnist-cnn"

# The workload entrypoint's sub-commands: `python -m workload TASK`. `infer` runs the test
# split through the model once (docs/workloads.md); it takes no training settings.
TASKS: tuple[str, ...] = ("train", "infer")
DEFAULT_TASK = "train"


def model(name: str) -> Model:
    found = MODELS.get(name)
    if found is None:
        raise WorkloadError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return found


def task(name: str) -> str:
    if name not in TASKS:
        raise WorkloadError(f"unknown task {name!r}; choose from {', '.join(TASKS)}")
    return name


def default_dataset(name: str) -> str:
    """The dataset a model reads when none is named: its first (mnist for mnist-cnn)."""
    found = MODELS.get(name)
    return found.datasets[0] if found is not None else MODELS[DEFAULT_MODEL].datasets[0]


def check_reads(name: str, dataset: str) -> None:
    """The model reads this prepared dataset (by the name its manifest gives), or one line
    saying which it reads."""
    found = model(name)
    if dataset not in found.datasets:
        raise WorkloadError(
            f"model {found.name} does not read dataset {dataset}; it reads "
            f"{', '.join(found.datasets)}: give --dataset with one of them, or another --model"
        )
