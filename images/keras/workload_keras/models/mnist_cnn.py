"""`mnist-cnn` in Keras: a Sequential model, NHWC, the canonical layout itself."""

from __future__ import annotations

import keras
from workload.models.mnist_cnn import CONVS, DENSE, IMAGE_SHAPE, NUM_CLASSES, POOL

from workload_keras.models.base import KerasModel


class MnistCnn(KerasModel):
    def make(self) -> keras.Model:
        model = keras.Sequential([keras.Input(IMAGE_SHAPE)])
        for c in CONVS:
            model.add(
                keras.layers.Conv2D(
                    c.filters, c.size, padding="same", activation="relu", name=c.name
                )
            )
            model.add(keras.layers.MaxPooling2D(POOL))
        model.add(keras.layers.Flatten())
        model.add(keras.layers.Dense(NUM_CLASSES, name=DENSE))  # logits; softmax in the loss
        return model
