"""Each model of workload.models as a torch module (one module per model here)."""

from __future__ import annotations

from workload_torch.models.base import TorchModel
from workload_torch.models.cifar_resnet import CifarResnet
from workload_torch.models.mnist_cnn import MnistCnn
from workload_torch.models.text_transformer import TextTransformer

MODELS: dict[str, type[TorchModel]] = {
    "mnist-cnn": MnistCnn,
    "cifar-resnet": CifarResnet,
    "text-transformer": TextTransformer,
}
