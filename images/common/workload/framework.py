"""What each framework implementation provides (images/<framework>/workload_<framework>).

The runner owns everything that is not the framework: data, the models' layer sizes
(workload.models), initial weights, batch order, events, result. An implementation only builds
config.model from its module's constants (images/<framework>/workload_<framework>/models/),
places the training data on its device, trains one
epoch in a given order, evaluates, and reports its versions and settings; for inference, it
builds the same model without an optimizer and computes the logits of one batch at a time
through its own fast inference path."""

from __future__ import annotations

import importlib
import importlib.util
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from workload import FRAMEWORKS, IMPLEMENTATIONS
from workload.config import RunConfig
from workload.errors import WorkloadInputError
from workload.training import Training
from workload.weights import Weights


@dataclass(frozen=True)
class Setup:
    """What a framework really applied (result.json's `device` and `threads`)."""

    device_used: str  # the framework's own name for the kind of device, e.g. "cpu"
    device_name: str
    intra_op_threads: int
    inter_op_threads: int | None  # None where the framework has no such pool
    # The float32 numerics the framework really uses (result.json's `numerics`), read back
    # from it where it can say: precision, TF32 for matmul and convolution, the cuDNN
    # algorithm choice, GPU memory preallocation. Compared across frameworks.
    numerics: dict[str, Any] = field(default_factory=dict)

    def device(self) -> dict[str, str]:
        return {"used": self.device_used, "name": self.device_name}

    def threads(self) -> dict[str, int | None]:
        return {"intra_op": self.intra_op_threads, "inter_op": self.inter_op_threads}


def no_gpu(seen_by: str) -> WorkloadInputError:
    """The refusal of --device gpu where the framework finds no GPU (exit 2, no output)."""
    return WorkloadInputError(f"--device gpu: {seen_by} sees no GPU")


class Framework(ABC):
    name: ClassVar[str]

    def __init__(self, config: RunConfig) -> None:
        # A TrainConfig for `build` and training, an InferConfig for the inference methods.
        self.config = config
        # config.implementation is resolved (implementation_name) before a trainer is made.
        self.implementation: str = config.implementation or IMPLEMENTATIONS[self.name][0]

    @abstractmethod
    def versions(self) -> dict[str, str]:
        """The framework's version and its numeric libraries' versions."""

    @abstractmethod
    def setup(self) -> Setup:
        """Apply thread and device settings; return what is really used. Raise `no_gpu(...)`
        when --device gpu finds no GPU."""

    @staticmethod
    @abstractmethod
    def gpus() -> list[str]:
        """The names of the GPUs this framework's build can use here (empty for a CPU build or
        a machine without a GPU): what `python -m workload devices` reports, so that the
        orchestrator can refuse a GPU campaign before it starts."""

    @abstractmethod
    def build(self, weights: Weights | None) -> int:
        """Create config.model and the optimizer (the given canonical weights, or the
        framework's own init when None, seeded from config.seed); return the number of
        trainable parameters."""

    @abstractmethod
    def weights(self) -> Weights:
        """The model's current weights in the canonical form (workload.weights): what
        `--save-weights` writes and any framework can load."""

    @abstractmethod
    def training(self) -> Training:
        """After `build`: the optimizer's hyperparameters, the loss and the training metrics,
        read back from the framework's own objects."""

    def input_pipeline(self) -> dict[str, Any]:
        """After the task: the settings of the input pipeline the framework was given, read
        back from it (result.json's `input_pipeline`); {} where batches are indexed from
        arrays already on the device, with nothing to set. Not compared across frameworks:
        each feeds its batches its own way."""
        return {}

    @abstractmethod
    def model_settings(self) -> dict[str, Any]:
        """After `build`: the settings of the model's layers that frameworks default
        differently (BatchNorm's epsilon and momentum), read back from the framework's own
        layers: result.json's `model_settings` (workload.model_settings)."""

    @abstractmethod
    def logits(self, x: np.ndarray) -> np.ndarray:
        """Pre-softmax outputs for a batch of inputs (NHWC float32 images or int32 token
        ids), as a NumPy array."""

    @abstractmethod
    def to_device(self, x: np.ndarray, y: np.ndarray) -> None:
        """Place the training set (inputs as for `logits`, integer labels) where the train steps
        read it, once, before the first epoch; return when the copy has finished, so that
        the runner times it as its own phase and no epoch pays for it."""

    @abstractmethod
    def train_epoch(self, order: np.ndarray, first_step_done: Callable[[], Any]) -> float:
        """One epoch over the training set placed by `to_device`, visited in `order`, in
        batches of config.batch_size (the last one partial). Call `first_step_done` once the
        first step's update has finished. Return the mean training loss over the epoch's
        examples."""

    @abstractmethod
    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """(mean loss, accuracy) on the test set."""

    @abstractmethod
    def build_inference(self, weights: Weights | None) -> int:
        """Create config.model for inference only (the given canonical weights, or the
        framework's own init when None), in its inference mode (no optimizer, no dropout or
        batch statistics updates) and through the fast path config.implementation names;
        return the number of trainable parameters."""

    @abstractmethod
    def inference_to_device(self, batches: list[np.ndarray]) -> None:
        """Place the test inputs, already cut into batches, where `infer_batch` reads them,
        once; return when the copy has finished (the runner times it as its own phase)."""

    @abstractmethod
    def infer_batch(self, index: int) -> np.ndarray:
        """The logits of placed batch `index`, as a NumPy array in host memory: return only
        once they are there, since the runner times this call as the batch's latency (what
        a serving loop pays, from dispatch to the logits on the host)."""


def framework_name() -> str:
    """The framework this environment runs: $WORKLOAD_FRAMEWORK (set in every image), else
    the one implementation importable here."""
    chosen = os.environ.get("WORKLOAD_FRAMEWORK")
    if chosen:
        if chosen not in FRAMEWORKS:
            raise WorkloadInputError(
                f"WORKLOAD_FRAMEWORK={chosen!r} is not one of {', '.join(FRAMEWORKS)}"
            )
        return chosen
    found = [f for f in FRAMEWORKS if importlib.util.find_spec(f"workload_{f}") is not None]
    if len(found) != 1:
        raise WorkloadInputError(
            f"found {len(found)} framework implementations ({', '.join(found) or 'none'}); "
            "set WORKLOAD_FRAMEWORK or run from a framework environment (make venvs)"
        )
    return found[0]


def load_framework(name: str) -> type[Framework]:
    module = importlib.import_module(f"workload_{name}")
    cls: type[Framework] = module.FRAMEWORK
    return cls


def implementation_name(framework: str, requested: str | None) -> str:
    """--implementation, checked against the framework's list; the default when not given."""
    known = IMPLEMENTATIONS[framework]
    if requested is None:
        return known[0]
    if requested not in known:
        raise WorkloadInputError(
            f"--implementation {requested!r} is not one of {framework}'s: {', '.join(known)}"
        )
    return requested
