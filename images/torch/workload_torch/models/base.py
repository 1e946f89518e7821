"""What each model provides in PyTorch: the module and the conversions between PyTorch's
layouts and the canonical weights (workload.weights)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch
from torch import nn
from workload.weights import Weights


class TorchModel(ABC):
    @abstractmethod
    def make(self) -> nn.Module:
        """The module, with torch's own initialisation (seeded by the caller)."""

    @abstractmethod
    def to_torch(self, weights: Weights) -> dict[str, np.ndarray]:
        """Canonical weights -> the module's state dict, in PyTorch's layouts."""

    @abstractmethod
    def from_torch(self, state: dict[str, np.ndarray]) -> Weights:
        """The module's state dict -> canonical weights (the inverse of to_torch)."""

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """The runner's inputs in the module's layout (identity unless overridden)."""
        return x

    def load(self, module: nn.Module, weights: Weights) -> None:
        state = {
            k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.to_torch(weights).items()
        }
        module.load_state_dict(state)

    def export(self, module: nn.Module) -> Weights:
        return self.from_torch(
            {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}
        )
