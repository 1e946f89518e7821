"""Each model of workload.models as a Flax module (one module per model here)."""

from __future__ import annotations

from workload_jax.models.base import JaxModel
from workload_jax.models.cifar_resnet import CifarResnet
from workload_jax.models.mnist_cnn import MnistCnn
from workload_jax.models.text_transformer import TextTransformer

MODELS: dict[str, type[JaxModel]] = {
    "mnist-cnn": MnistCnn,
    "cifar-resnet": CifarResnet,
    "text-transformer": TextTransformer,
}
