"""`mnist-cnn` in Flax: NHWC convolutions, the canonical layout itself."""

from __future__ import annotations

import flax.linen as nn
import jax
from workload.models.mnist_cnn import CONVS, DENSE, NUM_CLASSES, POOL

from workload_jax.models.base import JaxModel


class CNN(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        window = (POOL, POOL)
        for c in CONVS:
            x = nn.relu(nn.Conv(c.filters, (c.size, c.size), padding="SAME", name=c.name)(x))
            x = nn.max_pool(x, window, strides=window)
        x = x.reshape((x.shape[0], -1))  # NHWC flatten: the canonical dense-kernel layout
        return nn.Dense(NUM_CLASSES, name=DENSE)(x)  # logits; softmax lives in the loss


class MnistCnn(JaxModel):
    def make(self) -> nn.Module:
        return CNN()
