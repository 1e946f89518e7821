"""`cifar-resnet` in Flax: NHWC, the canonical layout itself. The module tree is the
canonical names' (stage2/block1/conv1/kernel), with the BatchNorm statistics under
"batch_stats"."""

from __future__ import annotations

import flax.linen as nn
import jax
from workload.models.cifar_resnet import (
    BN_EPSILON,
    BN_MOMENTUM_KEPT,
    DENSE,
    NUM_CLASSES,
    STAGES,
    STEM,
    Block,
    ConvBN,
)

from workload_jax.models.base import JaxModel


def _leaf(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _conv(u: ConvBN) -> nn.Conv:
    # Explicit symmetric padding: "SAME" pads a stride-2 convolution of an even input by 0
    # before and 1 after, PyTorch's padding=1 by 1 on both sides.
    pad = (u.padding, u.padding)
    return nn.Conv(
        u.filters, (u.size, u.size), strides=u.stride, padding=(pad, pad), use_bias=False,
        name=_leaf(u.conv),
    )  # fmt: skip


def _bn(u: ConvBN, train: bool) -> nn.BatchNorm:
    # Flax's momentum is the share of the running statistics kept (Keras's convention).
    # The two-pass variance (mean of squared deviations), as PyTorch and Keras compute it,
    # rather than Flax's default E[x^2] - E[x]^2.
    return nn.BatchNorm(
        use_running_average=not train, momentum=BN_MOMENTUM_KEPT, epsilon=BN_EPSILON,
        use_fast_variance=False, name=_leaf(u.bn),
    )  # fmt: skip


class Pair(nn.Module):
    """A stem or a shortcut: `conv` then `bn`."""

    unit: ConvBN

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        return _bn(self.unit, train)(_conv(self.unit)(x))


class BasicBlock(nn.Module):
    block: Block

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        b = self.block
        out = nn.relu(_bn(b.conv1, train)(_conv(b.conv1)(x)))
        out = _bn(b.conv2, train)(_conv(b.conv2)(out))
        if b.shortcut is not None:
            x = Pair(b.shortcut, name="shortcut")(x, train)
        return nn.relu(out + x)


class Stage(nn.Module):
    blocks: tuple[Block, ...]

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        for b in self.blocks:
            x = BasicBlock(b, name=_leaf(b.name))(x, train)
        return x


class ResNet(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        x = nn.relu(Pair(STEM, name=STEM.conv.split("/")[0])(x, train))
        for stage in STAGES:
            x = Stage(stage, name=stage[0].name.split("/")[0])(x, train)
        x = x.mean(axis=(1, 2))  # global average pooling
        return nn.Dense(NUM_CLASSES, name=DENSE)(x)  # logits; softmax lives in the loss


class CifarResnet(JaxModel):
    has_stats = True

    def make(self) -> nn.Module:
        return ResNet()
