"""What each model provides in Keras: the model. Keras's layouts are the canonical ones
(workload.weights) and a Keras 3 variable's path less the model's name ("layer/kernel") is
its canonical name, unless a model renames some (`keras_names`)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import keras
import numpy as np
from workload.weights import Weights


class KerasModel(ABC):
    @abstractmethod
    def make(self) -> keras.Model:
        """The model, built (its variables exist), with Keras's own initialisation."""

    def keras_names(self) -> dict[str, str]:
        """Canonical name -> Keras variable path where they differ."""
        return {}

    @staticmethod
    def variables(model: keras.Model) -> dict[str, keras.Variable]:
        """The model's variables by path, less the prefix a Sequential model adds."""
        return {v.path.removeprefix(f"{model.name}/"): v for v in model.weights}

    def load(self, model: keras.Model, weights: Weights) -> None:
        by_path = self.variables(model)
        renamed = self.keras_names()
        if len(by_path) != len(weights.arrays):
            raise ValueError(f"{len(by_path)} Keras variables for {len(weights.arrays)} weights")
        for name, array in weights.arrays.items():
            by_path[renamed.get(name, name)].assign(array)

    def export(self, model: keras.Model, order: Weights) -> Weights:
        """The variables as canonical weights, in the order (and with the state names) of
        `order`, the model's shared weights."""
        by_path = self.variables(model)
        renamed = self.keras_names()
        arrays = {
            n: np.asarray(by_path[renamed.get(n, n)].numpy(), dtype=np.float32)
            for n in order.arrays
        }
        return Weights(arrays, order.state)
