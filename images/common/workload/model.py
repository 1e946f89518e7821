"""The model every framework builds, and its shared initial weights.

Conv(64, 3x3, same, ReLU) -> MaxPool 2x2 -> Conv(128, 5x5, same, ReLU) -> MaxPool 2x2 ->
Flatten -> Dense(10) -> softmax: 268,298 parameters. The softmax is applied inside the loss
(cross-entropy from logits) in all three frameworks: the same function as a softmax layer
followed by cross-entropy, computed the numerically stable way each framework recommends.

Shared weights are drawn once in NumPy, in the canonical layout (Keras's: kernels HWIO,
dense kernel (in, out) with the flatten order of an NHWC tensor), then converted to each
framework's layout by the framework itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConvLayer:
    """A square convolution, stride 1, same padding, ReLU, then a POOL x POOL max-pool."""

    name: str  # the layer's name in every framework's parameters
    size: int
    in_channels: int
    filters: int

    @property
    def kernel_shape(self) -> tuple[int, int, int, int]:
        """HWIO, the canonical layout."""
        return (self.size, self.size, self.in_channels, self.filters)


# The one definition of the architecture: every trainer builds its layers from these.
IMAGE_SHAPE = (28, 28, 1)  # HWC of one input image
NUM_CLASSES = 10
POOL = 2
CONV1 = ConvLayer("conv1", size=3, in_channels=IMAGE_SHAPE[-1], filters=64)
CONV2 = ConvLayer("conv2", size=5, in_channels=CONV1.filters, filters=128)
CONVS = (CONV1, CONV2)
DENSE = "dense"  # Dense(NUM_CLASSES) on the flattened output of the last pool
# HWC after the last pool: each pool halves the height and width (floor, as "valid" pooling).
FLAT_SHAPE = (
    IMAGE_SHAPE[0] // POOL ** len(CONVS),
    IMAGE_SHAPE[1] // POOL ** len(CONVS),
    CONVS[-1].filters,
)
FLAT = FLAT_SHAPE[0] * FLAT_SHAPE[1] * FLAT_SHAPE[2]
# The reference count of the public contract; the runner refuses a model that differs, so a
# change to the layers above must change this number on purpose.
PARAMETER_COUNT = 268_298
PROBE_SIZE = 8  # test images whose pre-training logits are recorded as evidence


@dataclass(frozen=True)
class SharedWeights:
    """Kernels in HWIO / (in, out) layout, float32."""

    conv1_kernel: np.ndarray
    conv1_bias: np.ndarray
    conv2_kernel: np.ndarray
    conv2_bias: np.ndarray
    dense_kernel: np.ndarray
    dense_bias: np.ndarray

    def layers(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Layer name -> (kernel, bias), canonical layout, in the model's order."""
        return {
            CONV1.name: (self.conv1_kernel, self.conv1_bias),
            CONV2.name: (self.conv2_kernel, self.conv2_bias),
            DENSE: (self.dense_kernel, self.dense_bias),
        }

    def arrays(self) -> list[np.ndarray]:
        """Kernel, bias of each layer in order: Keras's `set_weights` order."""
        return [a for pair in self.layers().values() for a in pair]

    def parameter_count(self) -> int:
        return sum(a.size for a in self.arrays())

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for a in self.arrays():
            digest.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
        return digest.hexdigest()

    def dense_kernel_chw(self) -> np.ndarray:
        """The dense kernel for a flatten of an NCHW tensor (PyTorch's layout), (in, out)."""
        hwc = self.dense_kernel.reshape(*FLAT_SHAPE, NUM_CLASSES)
        return np.ascontiguousarray(hwc.transpose(2, 0, 1, 3).reshape(FLAT, NUM_CLASSES))


def _glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # Keras's default kernel initializer: U(-l, l), l = sqrt(6 / (fan_in + fan_out)), where
    # a conv kernel's fans are its receptive field times the input or output channels.
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def shared_weights(seed: int) -> SharedWeights:
    rng = np.random.default_rng([seed, 0x1417])
    zeros = lambda n: np.zeros(n, dtype=np.float32)  # noqa: E731  (Keras's bias default)
    return SharedWeights(
        conv1_kernel=_glorot_uniform(rng, CONV1.kernel_shape),
        conv1_bias=zeros(CONV1.filters),
        conv2_kernel=_glorot_uniform(rng, CONV2.kernel_shape),
        conv2_bias=zeros(CONV2.filters),
        dense_kernel=_glorot_uniform(rng, (FLAT, NUM_CLASSES)),
        dense_bias=zeros(NUM_CLASSES),
    )
