"""`mnist-cnn`, the reference study's model (seeds/000), and its shared initial weights.

Conv(64, 3x3, same, ReLU) -> MaxPool 2x2 -> Conv(128, 5x5, same, ReLU) -> MaxPool 2x2 ->
Flatten -> Dense(10) -> softmax: 268,298 parameters. The softmax is applied inside the loss
(cross-entropy from logits) in all three frameworks: the same function as a softmax layer
followed by cross-entropy, computed the numerically stable way each framework recommends.

Shared weights are drawn once in NumPy, in the canonical layout (Keras's: kernels HWIO,
dense kernel (in, out) with the flatten order of an NHWC tensor), then converted to each
framework's layout by the framework itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workload.weights import Weights


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


def dense_kernel_chw(weights: Weights) -> np.ndarray:
    """The dense kernel for a flatten of an NCHW tensor (PyTorch's layout), (in, out)."""
    hwc = weights.arrays[f"{DENSE}/kernel"].reshape(*FLAT_SHAPE, NUM_CLASSES)
    return np.ascontiguousarray(hwc.transpose(2, 0, 1, 3).reshape(FLAT, NUM_CLASSES))


def dense_kernel_hwc(chw_kernel: np.ndarray) -> np.ndarray:
    """The inverse of dense_kernel_chw: a PyTorch-flatten dense kernel (in, out) back to the
    canonical NHWC-flatten layout."""
    chw = chw_kernel.reshape(FLAT_SHAPE[2], FLAT_SHAPE[0], FLAT_SHAPE[1], NUM_CLASSES)
    return np.ascontiguousarray(chw.transpose(1, 2, 0, 3).reshape(FLAT, NUM_CLASSES))


def layer_names() -> list[str]:
    """The layers with a kernel and a bias, in the model's order."""
    return [c.name for c in CONVS] + [DENSE]


def _glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # Keras's default kernel initializer: U(-l, l), l = sqrt(6 / (fan_in + fan_out)), where
    # a conv kernel's fans are its receptive field times the input or output channels.
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def shared_weights(seed: int) -> Weights:
    rng = np.random.default_rng([seed, 0x1417])
    kernels = [c.kernel_shape for c in CONVS] + [(FLAT, NUM_CLASSES)]
    arrays: dict[str, np.ndarray] = {}
    for name, shape in zip(layer_names(), kernels, strict=True):
        arrays[f"{name}/kernel"] = _glorot_uniform(rng, shape)
        arrays[f"{name}/bias"] = np.zeros(shape[-1], dtype=np.float32)  # Keras's bias default
    return Weights(arrays)
