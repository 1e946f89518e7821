"""The registries of models and tasks a campaign or a study may name: which exist, and
which datasets each model reads. The study file is checked against them (orchestrator/study),
so a new model or task becomes a legal matrix value by one entry here.

Today the workload has one model and one task (`python -m workload train`, the CNN of the
reference study); issue 14 adds `cifar-resnet`, `text-transformer` and `infer`.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.data.registry import GREY_28_DATASETS, TOKEN_DATASETS
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
        # A small pre-norm transformer encoder on token ids (workload.models.text_transformer).
        Model("text-transformer", 2_965_508, TOKEN_DATASETS),
    )
}
DEFAULT_MODEL = "mnist-cnn"

# The workload entrypoint's sub-commands: `python -m workload TASK`.
TASKS: tuple[str, ...] = ("train",)
DEFAULT_TASK = "train"


def model(name: str) -> Model:
    found = MODELS.get(name)
    if found is None:
        raise WorkloadError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return found
