"""MobileNetV2 of RepDistiller (``MobileNetV2``, the official ``mobile_half``).

A port of ``models/mobilenetv2.py``: width multiplier 0.5 and expansion
factor 6, a stride-2 3x3 stem ``conv1``, seven stages ``blocks.0`` ...
``blocks.6`` of inverted residual blocks with plain ReLU (not ReLU6), a
1x1 convolution ``conv2`` to 1280 channels and a linear layer
``classifier.0``. Unlike torchvision, every block keeps its 1x1 expansion
convolution, even in the first stage whose expansion factor is 1.

Layer names follow the official ``nn.Sequential`` indices, so that
``blocks.1.0.conv.3`` is the depthwise convolution of the first block of
the second stage. Convolutions are initialized with
``normal(0, sqrt(2 / (k * k * out_channels)))`` and the linear layer with
``normal(0, 0.01)`` and a zero bias, as in the official code.
"""

import keras

from keras_mixkd.models._blocks import batch_norm
from keras_mixkd.models._blocks import classifier
from keras_mixkd.models._blocks import conv2d
from keras_mixkd.models._blocks import depthwise_conv2d
from keras_mixkd.models._blocks import relu
from keras_mixkd.models._registry import register_variant

#: ``(expansion t, channels c, blocks n, first stride s)`` of each stage.
INVERTED_RESIDUAL_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _conv_bn_relu(x, filters, kernel_size, prefix, strides=1):
    """The official ``conv_bn`` / ``conv_1x1_bn``: conv, BN, ReLU."""
    x = conv2d(x, filters, kernel_size, f"{prefix}.0", strides=strides,
               padding=kernel_size // 2)
    x = batch_norm(x, f"{prefix}.1")
    return relu(x, f"{prefix}.2")


def inverted_residual(x, filters, strides, expand_ratio, prefix):
    """The official ``InvertedResidual`` block.

    1x1 expansion conv, BN, ReLU; 3x3 depthwise conv, BN, ReLU; 1x1 linear
    projection, BN; plus the input when the stride is 1 and the width is
    unchanged.

    Args:
        x: input tensor (NHWC).
        filters: output channels.
        strides: stride of the depthwise convolution.
        expand_ratio: expansion factor of the hidden width.
        prefix: the block's module path (``"blocks.1.0"``).

    Returns:
        The block output.
    """
    hidden = x.shape[-1] * expand_ratio
    name = f"{prefix}.conv"
    out = conv2d(x, hidden, 1, f"{name}.0")
    out = relu(batch_norm(out, f"{name}.1"), f"{name}.2")
    out = depthwise_conv2d(out, 3, f"{name}.3", strides=strides, padding=1)
    out = relu(batch_norm(out, f"{name}.4"), f"{name}.5")
    out = conv2d(out, filters, 1, f"{name}.6")
    out = batch_norm(out, f"{name}.7")
    if strides == 1 and x.shape[-1] == filters:
        out = keras.layers.Add(name=f"{prefix}.add")([x, out])
    return out


def build_mobilenet_v2(num_classes, input_shape, width_mult=0.5,
                       expand_ratio=6, name="MobileNetV2"):
    """Builds the official CIFAR MobileNetV2 (``mobilenetv2_T_w``).

    Args:
        num_classes: number of logits.
        input_shape: input image shape (NHWC, no batch dimension).
        width_mult: width multiplier of the stem and of every stage.
        expand_ratio: expansion factor ``T`` of the stages after the first
            (whose factor is always 1).
        name: the model name.

    Returns:
        A functional `keras.Model` mapping images to logits.
    """
    inputs = keras.Input(shape=input_shape)
    x = _conv_bn_relu(inputs, int(32 * width_mult), 3, "conv1", strides=2)
    for stage, (t, c, n, s) in enumerate(INVERTED_RESIDUAL_SETTING):
        t = t if stage == 0 else expand_ratio
        for index in range(n):
            strides = s if index == 0 else 1
            x = inverted_residual(x, int(c * width_mult), strides, t,
                                  f"blocks.{stage}.{index}")
    last_channel = int(1280 * width_mult) if width_mult > 1.0 else 1280
    x = _conv_bn_relu(x, last_channel, 1, "conv2")
    # The official AvgPool2d(input_size // 16, ceil_mode=True) pools the
    # whole 2x2 map of a 32x32 input.
    outputs = classifier(
        x, num_classes, name="classifier.0",
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.01))
    return keras.Model(inputs, outputs, name=name)


mobilenet_v2 = register_variant(
    "MobileNetV2",
    lambda name, **kwargs: build_mobilenet_v2(name=name, **kwargs),
    "Builds ``MobileNetV2``: the official ``mobile_half`` (T=6, width 0.5).")
