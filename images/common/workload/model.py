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

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
CONV1 = (3, 3, 1, 64)
CONV2 = (5, 5, 64, 128)
FLAT = 7 * 7 * 128
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

    def arrays(self) -> list[np.ndarray]:
        return [
            self.conv1_kernel,
            self.conv1_bias,
            self.conv2_kernel,
            self.conv2_bias,
            self.dense_kernel,
            self.dense_bias,
        ]

    def parameter_count(self) -> int:
        return sum(a.size for a in self.arrays())

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for a in self.arrays():
            digest.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
        return digest.hexdigest()

    def dense_kernel_chw(self) -> np.ndarray:
        """The dense kernel for a flatten of an NCHW tensor (PyTorch's layout), (in, out)."""
        hwc = self.dense_kernel.reshape(7, 7, 128, NUM_CLASSES)
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
        conv1_kernel=_glorot_uniform(rng, CONV1),
        conv1_bias=zeros(CONV1[-1]),
        conv2_kernel=_glorot_uniform(rng, CONV2),
        conv2_bias=zeros(CONV2[-1]),
        dense_kernel=_glorot_uniform(rng, (FLAT, NUM_CLASSES)),
        dense_bias=zeros(NUM_CLASSES),
    )
