"""`cifar-resnet` in Keras: a functional model, NHWC, the canonical layout itself. A Keras
layer's name cannot hold "/", so each canonical path becomes one layer name with "_"
("stage2/block1/conv1" -> "stage2_block1_conv1"), and BatchNorm's variables have Keras's
names (gamma, beta, moving_mean, moving_variance): `keras_names` maps them."""

from __future__ import annotations

import keras
from workload.models.cifar_resnet import (
    BLOCKS,
    BN_EPSILON,
    BN_MOMENTUM_KEPT,
    DENSE,
    IMAGE_SHAPE,
    NUM_CLASSES,
    STEM,
    Block,
    ConvBN,
    conv_bns,
)

from workload_keras.models.base import KerasModel

# Canonical BatchNorm names -> Keras's.
_BN_NAMES = {"scale": "gamma", "bias": "beta", "mean": "moving_mean", "var": "moving_variance"}


def _layer(path: str) -> str:
    return path.replace("/", "_")


def _conv_bn(u: ConvBN, x: keras.KerasTensor) -> keras.KerasTensor:
    if u.padding:
        # Explicit symmetric padding: "same" pads a stride-2 convolution of an even input
        # by 0 before and 1 after, PyTorch's padding=1 by 1 on both sides.
        x = keras.layers.ZeroPadding2D(u.padding, name=f"{_layer(u.conv)}_pad")(x)
    x = keras.layers.Conv2D(
        u.filters, u.size, strides=u.stride, padding="valid", use_bias=False, name=_layer(u.conv)
    )(x)
    # Keras's momentum is the share of the running statistics kept (Flax's convention).
    return keras.layers.BatchNormalization(
        momentum=BN_MOMENTUM_KEPT, epsilon=BN_EPSILON, name=_layer(u.bn)
    )(x)


def _block(b: Block, x: keras.KerasTensor) -> keras.KerasTensor:
    out = keras.layers.ReLU(name=f"{_layer(b.name)}_relu1")(_conv_bn(b.conv1, x))
    out = _conv_bn(b.conv2, out)
    shortcut = _conv_bn(b.shortcut, x) if b.shortcut is not None else x
    out = keras.layers.Add(name=f"{_layer(b.name)}_add")([out, shortcut])
    return keras.layers.ReLU(name=f"{_layer(b.name)}_relu2")(out)


class CifarResnet(KerasModel):
    def make(self) -> keras.Model:
        inputs = keras.Input(IMAGE_SHAPE)
        x = keras.layers.ReLU(name="stem_relu")(_conv_bn(STEM, inputs))
        for b in BLOCKS:
            x = _block(b, x)
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
        logits = keras.layers.Dense(NUM_CLASSES, name=DENSE)(x)  # softmax lives in the loss
        return keras.Model(inputs, logits, name="cifar_resnet")

    def keras_names(self) -> dict[str, str]:
        names = {}
        for u in conv_bns():
            names[f"{u.conv}/kernel"] = f"{_layer(u.conv)}/kernel"
            for canonical, own in _BN_NAMES.items():
                names[f"{u.bn}/{canonical}"] = f"{_layer(u.bn)}/{own}"
        return names
