"""What each model provides in JAX: the Flax module. Flax's layouts are the canonical ones
(workload.weights), so a canonical name "layer/kernel" is the variable at that path: the
parameters under "params", the statistics (BatchNorm's running mean and variance) under
"batch_stats"."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import flax.linen as nn
import numpy as np
from flax.traverse_util import flatten_dict, unflatten_dict
from workload.weights import Weights

PARAMS = "params"
STATS = "batch_stats"


class JaxModel(ABC):
    @abstractmethod
    def make(self) -> nn.Module:
        """The Flax module; called as `module.apply(variables, x, train=...)` when
        `has_stats`, else `module.apply(variables, x)`."""

    has_stats = False  # True when the module keeps statistics (BatchNorm) in STATS

    def to_variables(self, weights: Weights) -> dict[str, Any]:
        params = {n: a for n, a in weights.arrays.items() if n not in weights.state}
        stats = {n: a for n, a in weights.arrays.items() if n in weights.state}
        variables = {PARAMS: unflatten_dict(params, sep="/")}
        if self.has_stats:
            variables[STATS] = unflatten_dict(stats, sep="/")
        return variables

    def from_variables(self, variables: dict[str, Any], order: Weights) -> Weights:
        """The variables as canonical weights, in the order (and with the state names) of
        `order`, the model's shared weights."""
        flat = flatten_dict(dict(variables[PARAMS]), sep="/")
        if self.has_stats:
            flat.update(flatten_dict(dict(variables[STATS]), sep="/"))
        arrays = {n: np.asarray(flat[n], dtype=np.float32) for n in order.arrays}
        return Weights(arrays, order.state)
