"""Each model of workload.models as a Keras model (one module per model here)."""

from __future__ import annotations

from workload_keras.models.base import KerasModel
from workload_keras.models.cifar_resnet import CifarResnet
from workload_keras.models.mnist_cnn import MnistCnn
from workload_keras.models.text_transformer import TextTransformer

MODELS: dict[str, type[KerasModel]] = {
    "mnist-cnn": MnistCnn,
    "cifar-resnet": CifarResnet,
    "text-transformer": TextTransformer,
}
