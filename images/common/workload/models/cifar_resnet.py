"""`cifar-resnet`: ResNet-18 adapted to 32x32x3 images (He et al. 2016, the CIFAR variant
most studies train), and its shared initial weights.

3x3 stem convolution (64, stride 1, no bias) + BatchNorm + ReLU, no max-pool; four stages
of two basic blocks (64, 128, 256, 512 filters; stride 2 in the first block of stages 2-4),
each block conv3x3-BN-ReLU-conv3x3-BN plus its shortcut (identity, or a 1x1 stride-2
convolution + BatchNorm where the shape changes), then ReLU; global average pooling;
Dense(10) logits (the softmax lives in the loss, as for mnist-cnn). 11,173,962 trainable
parameters.

Padding is explicit and symmetric (one pixel on every side of a 3x3 convolution, none for
a 1x1): "same" padding in TensorFlow/Keras and Flax pads a stride-2 convolution of an even
input by 0 before and 1 after, PyTorch's padding=1 by 1 on both sides, so "same" would make
the three compute different functions.

BatchNorm is set explicitly in every framework (their defaults differ: Keras momentum 0.99
and epsilon 1e-3, Flax momentum 0.99): epsilon 1e-5, and the running statistics keep 0.9 of
their value at each training step (running = 0.9 * running + 0.1 * batch; PyTorch calls
this momentum=0.1, Keras and Flax momentum=0.9). One difference remains and is recorded
(result.json `model_settings`): PyTorch updates the running variance with the unbiased
batch variance (n / (n - 1) times the biased one), Keras and Flax with the biased one. Both
normalise a training batch with its biased variance, so training is the same function; only
the statistics used after training (evaluation, inference) differ, by a factor of about
1 + 1/(n - 1) in the variance of a layer that sees n values per channel in a batch.

Shared weights, in the canonical layout (kernels HWIO, dense (in, out), NHWC), drawn in
NumPy from the seed as torchvision initialises its ResNets: convolutions He-normal with the
fan-out (std sqrt(2 / (k * k * filters))), BatchNorm scale 1 and bias 0, running mean 0 and
variance 1, and the dense layer as PyTorch's nn.Linear default, U(-1/sqrt(512), 1/sqrt(512))
for its kernel and its bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workload.weights import Weights

IMAGE_SHAPE = (32, 32, 3)  # HWC of one input image
NUM_CLASSES = 10
STEM_FILTERS = 64
STAGE_FILTERS = (64, 128, 256, 512)
BLOCKS_PER_STAGE = 2
BN_EPSILON = 1e-5
BN_MOMENTUM_KEPT = 0.9  # the share of the running statistics kept at each training step
DENSE = "dense"
# The reference count of the public contract; the runner refuses a model that differs, so a
# change to the layers above must change this number on purpose.
PARAMETER_COUNT = 11_173_962

# The canonical names of a BatchNorm's variables (Flax's): the parameters, then the running
# statistics (Weights.state: in checkpoints and the hash, not in the parameter count).
BN_PARAMS = ("scale", "bias")
BN_STATS = ("mean", "var")


@dataclass(frozen=True)
class ConvBN:
    """A convolution without bias, then BatchNorm; `conv` and `bn` are the canonical paths
    of the two layers ("stage2/block1/conv1", "stage2/block1/bn1")."""

    conv: str
    bn: str
    size: int
    in_channels: int
    filters: int
    stride: int

    @property
    def kernel_shape(self) -> tuple[int, int, int, int]:
        """HWIO, the canonical layout."""
        return (self.size, self.size, self.in_channels, self.filters)

    @property
    def padding(self) -> int:
        """Pixels of zeros on each side: symmetric, so every framework computes the same."""
        return self.size // 2


@dataclass(frozen=True)
class Block:
    """A basic block: conv1-bn1-ReLU-conv2-bn2, plus the shortcut, then ReLU."""

    name: str  # "stage2/block1"
    conv1: ConvBN
    conv2: ConvBN
    shortcut: ConvBN | None  # None: the identity


def _block(name: str, in_channels: int, filters: int, stride: int) -> Block:
    shortcut = None
    if stride != 1 or in_channels != filters:
        shortcut = ConvBN(
            f"{name}/shortcut/conv", f"{name}/shortcut/bn", 1, in_channels, filters, stride
        )
    return Block(
        name,
        ConvBN(f"{name}/conv1", f"{name}/bn1", 3, in_channels, filters, stride),
        ConvBN(f"{name}/conv2", f"{name}/bn2", 3, filters, filters, 1),
        shortcut,
    )


def _stages() -> tuple[tuple[Block, ...], ...]:
    stages = []
    channels = STEM_FILTERS
    for s, filters in enumerate(STAGE_FILTERS, start=1):
        blocks = []
        for b in range(1, BLOCKS_PER_STAGE + 1):
            stride = 2 if s > 1 and b == 1 else 1
            blocks.append(_block(f"stage{s}/block{b}", channels, filters, stride))
            channels = filters
        stages.append(tuple(blocks))
    return tuple(stages)


# The one definition of the architecture: every framework builds its layers from these.
STEM = ConvBN("stem/conv", "stem/bn", 3, IMAGE_SHAPE[-1], STEM_FILTERS, 1)
STAGES = _stages()
BLOCKS = tuple(b for stage in STAGES for b in stage)
FEATURES = STAGE_FILTERS[-1]  # the dense layer's input: the last stage's channels, pooled


def conv_bns() -> list[ConvBN]:
    """Every convolution + BatchNorm pair, in the model's order."""
    out = [STEM]
    for block in BLOCKS:
        out += [block.conv1, block.conv2]
        if block.shortcut is not None:
            out.append(block.shortcut)
    return out


def _he_normal_fan_out(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # torchvision's ResNet: kaiming_normal_(mode="fan_out", nonlinearity="relu"); the fan-out
    # of an HWIO kernel is its receptive field times its output channels.
    fan_out = int(np.prod(shape[:-2])) * shape[-1]
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_out)).astype(np.float32)


def shared_weights(seed: int) -> Weights:
    rng = np.random.default_rng([seed, 0x1418])
    arrays: dict[str, np.ndarray] = {}
    state = set()
    for unit in conv_bns():
        arrays[f"{unit.conv}/kernel"] = _he_normal_fan_out(rng, unit.kernel_shape)
        ones, zeros = np.ones(unit.filters, np.float32), np.zeros(unit.filters, np.float32)
        for name, value in zip((*BN_PARAMS, *BN_STATS), (ones, zeros, zeros, ones), strict=True):
            arrays[f"{unit.bn}/{name}"] = value.copy()
        state |= {f"{unit.bn}/{name}" for name in BN_STATS}
    # PyTorch's nn.Linear default, as torchvision leaves it: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    limit = 1.0 / np.sqrt(FEATURES)
    arrays[f"{DENSE}/kernel"] = rng.uniform(-limit, limit, (FEATURES, NUM_CLASSES)).astype(
        np.float32
    )
    arrays[f"{DENSE}/bias"] = rng.uniform(-limit, limit, NUM_CLASSES).astype(np.float32)
    return Weights(arrays, frozenset(state))
