"""`cifar-resnet` in PyTorch: NCHW (oneDNN's fast path on CPU), torchvision's BasicBlock
layout. The module tree mirrors the canonical names (stage2.block1.conv1 holds
"stage2/block1/conv1/kernel"), so the state dict and the canonical weights map name by name."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from workload.models import model_spec
from workload.models.cifar_resnet import (
    BLOCKS,
    BN_EPSILON,
    BN_MOMENTUM_KEPT,
    DENSE,
    FEATURES,
    NUM_CLASSES,
    STAGES,
    STEM,
    Block,
    ConvBN,
)
from workload.weights import Weights

from workload_torch.models.base import TorchModel

# Canonical BatchNorm names -> PyTorch's.
_BN_NAMES = {"scale": "weight", "bias": "bias", "mean": "running_mean", "var": "running_var"}
_TRACKED = "num_batches_tracked"  # torch's step counter: used only with momentum=None


def _conv(u: ConvBN) -> nn.Conv2d:
    return nn.Conv2d(
        u.in_channels, u.filters, u.size, stride=u.stride, padding=u.padding, bias=False
    )


def _bn(u: ConvBN) -> nn.BatchNorm2d:
    # torch's momentum is the share of the batch's statistics: 1 - the share kept.
    return nn.BatchNorm2d(u.filters, eps=BN_EPSILON, momentum=1 - BN_MOMENTUM_KEPT)


class ConvBNPair(nn.Module):
    """A stem or a shortcut: `conv` then `bn`, the two names of the canonical path."""

    def __init__(self, u: ConvBN) -> None:
        super().__init__()
        self.conv, self.bn = _conv(u), _bn(u)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.bn(self.conv(x))
        return out


class BasicBlock(nn.Module):
    def __init__(self, b: Block) -> None:
        super().__init__()
        self.conv1, self.bn1 = _conv(b.conv1), _bn(b.conv1)
        self.conv2, self.bn2 = _conv(b.conv2), _bn(b.conv2)
        self.shortcut = ConvBNPair(b.shortcut) if b.shortcut is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (self.shortcut(x) if self.shortcut is not None else x))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = ConvBNPair(STEM)
        for stage in STAGES:
            stage_name = stage[0].name.split("/")[0]
            blocks = {b.name.split("/")[1]: BasicBlock(b) for b in stage}
            self.add_module(stage_name, nn.ModuleDict(blocks))
        self.dense = nn.Linear(FEATURES, NUM_CLASSES)
        self._blocks = [self.get_submodule(b.name.replace("/", ".")) for b in BLOCKS]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        for block in self._blocks:
            x = block(x)
        return self.dense(x.mean(dim=(2, 3)))  # global average pooling; logits


def _torch_name(name: str) -> str:
    """A canonical weight name -> its state-dict key."""
    path, leaf = name.rsplit("/", 1)
    if leaf == "kernel":
        leaf = "weight"
    elif path.rsplit("/", 1)[-1].startswith("bn"):
        leaf = _BN_NAMES[leaf]
    return f"{path}.{leaf}".replace("/", ".")


class CifarResnet(TorchModel):
    def make(self) -> nn.Module:
        return Net()

    def to_torch(self, weights: Weights) -> dict[str, np.ndarray]:
        state: dict[str, np.ndarray] = {}
        for name, array in weights.arrays.items():
            if name == f"{DENSE}/kernel":
                state[_torch_name(name)] = array.T  # (in, out) -> (out, in)
            elif name.endswith("/kernel"):
                state[_torch_name(name)] = array.transpose(3, 2, 0, 1)  # HWIO -> OIHW
            else:
                state[_torch_name(name)] = array
        for name in weights.state:
            if name.endswith("/mean"):  # one counter per BatchNorm, not canonical: from 0
                state[_torch_name(name).replace("running_mean", _TRACKED)] = np.zeros((), np.int64)
        return state

    def from_torch(self, state: dict[str, np.ndarray]) -> Weights:
        order = model_spec("cifar-resnet").layout()  # canonical names, order, state names
        arrays = {}
        for name in order.arrays:
            array = state[_torch_name(name)]
            if name == f"{DENSE}/kernel":
                array = array.T
            elif name.endswith("/kernel"):
                array = array.transpose(2, 3, 1, 0)  # OIHW -> HWIO
            arrays[name] = np.ascontiguousarray(array, dtype=np.float32)
        return Weights(arrays, order.state)

    def inputs(self, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # NHWC -> NCHW
