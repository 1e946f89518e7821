"""`mnist-cnn` in PyTorch: NCHW convolutions (oneDNN's fast path on CPU)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from workload.models.mnist_cnn import (
    CONVS,
    DENSE,
    FLAT,
    NUM_CLASSES,
    POOL,
    dense_kernel_chw,
    dense_kernel_hwc,
    layer_names,
)
from workload.weights import Weights

from workload_torch.models.base import TorchModel


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleDict(
            {c.name: nn.Conv2d(c.in_channels, c.filters, c.size, padding="same") for c in CONVS}
        )
        self.pool = nn.MaxPool2d(POOL)
        self.dense = nn.Linear(FLAT, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs.values():
            x = self.pool(torch.relu(conv(x)))
        return self.dense(torch.flatten(x, 1))  # logits; softmax lives in the loss


class MnistCnn(TorchModel):
    def make(self) -> nn.Module:
        return Net()

    def to_torch(self, weights: Weights) -> dict[str, np.ndarray]:
        # HWIO -> OIHW for convolutions; (in, out) -> (out, in) for the dense layer, whose
        # inputs come from an NCHW flatten.
        state = {
            "dense.weight": dense_kernel_chw(weights).T,
            "dense.bias": weights.arrays[f"{DENSE}/bias"],
        }
        for c in CONVS:
            state[f"convs.{c.name}.weight"] = weights.arrays[f"{c.name}/kernel"].transpose(
                3, 2, 0, 1
            )
            state[f"convs.{c.name}.bias"] = weights.arrays[f"{c.name}/bias"]
        return state

    def from_torch(self, state: dict[str, np.ndarray]) -> Weights:
        arrays = {}
        for name in layer_names():
            if name == DENSE:
                arrays[f"{name}/kernel"] = dense_kernel_hwc(state["dense.weight"].T)
                arrays[f"{name}/bias"] = state["dense.bias"]
            else:
                arrays[f"{name}/kernel"] = state[f"convs.{name}.weight"].transpose(2, 3, 1, 0)
                arrays[f"{name}/bias"] = state[f"convs.{name}.bias"]
        return Weights({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()})

    def inputs(self, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # NHWC -> NCHW
