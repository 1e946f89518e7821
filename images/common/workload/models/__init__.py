"""The models every framework builds (`--model`), each with its contract: the input it reads,
its classes, its parameter count and its shared initial weights. The layer sizes live in the
model's own module here (workload.models.<name>); each framework's implementation builds its
layers from them (images/<framework>/workload_<framework>/models/).

The host's registry (orchestrator/workloads.py) is pinned to this one by a test."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from workload.errors import WorkloadInputError
from workload.models import cifar_resnet, mnist_cnn, text_transformer
from workload.weights import Weights

IMAGE = "image"  # uint8 pixels on disk, float32 in [0, 1] HWC for the model
TOKENS = "tokens"  # int32 token ids, 0 = padding


@dataclass(frozen=True)
class ModelSpec:
    name: str
    input_kind: str  # IMAGE or TOKENS
    input_shape: tuple[int, ...]  # one example as the model receives it (HWC, or (length,))
    num_classes: int
    # The reference count of the public contract: trainable parameters, the same in every
    # framework. The runner refuses a model that differs, so a change to the layers must
    # change this number on purpose.
    parameter_count: int
    shared_weights: Callable[[int], Weights]  # seed -> the canonical initial weights
    vocab_size: int | None = None  # token models: ids must be below it

    def layout(self) -> Weights:
        """The canonical names, shapes, order and state names of the model's weights: its
        shared weights of seed 0, drawn once per process (what exports and checks of
        another model's file compare against; the values do not matter)."""
        return _layout(self.name)


MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec(
            "mnist-cnn",
            IMAGE,
            mnist_cnn.IMAGE_SHAPE,
            mnist_cnn.NUM_CLASSES,
            mnist_cnn.PARAMETER_COUNT,
            mnist_cnn.shared_weights,
        ),
        ModelSpec(
            "cifar-resnet",
            IMAGE,
            cifar_resnet.IMAGE_SHAPE,
            cifar_resnet.NUM_CLASSES,
            cifar_resnet.PARAMETER_COUNT,
            cifar_resnet.shared_weights,
        ),
        ModelSpec(
            "text-transformer",
            TOKENS,
            (text_transformer.SEQUENCE_LENGTH,),
            text_transformer.NUM_CLASSES,
            text_transformer.PARAMETER_COUNT,
            text_transformer.shared_weights,
            vocab_size=text_transformer.VOCAB_SIZE,
        ),
    )
}
DEFAULT_MODEL = "mnist-cnn"
PROBE_SIZE = 8  # test examples whose pre-training logits are recorded as evidence


@functools.cache
def _layout(name: str) -> Weights:
    return MODELS[name].shared_weights(0)


def model_spec(name: str) -> ModelSpec:
    found = MODELS.get(name)
    if found is None:
        raise WorkloadInputError(f"--model {name!r} is not one of {', '.join(MODELS)}")
    return found
