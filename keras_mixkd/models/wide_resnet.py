"""Wide ResNets of RepDistiller (``wrn_16_1``, ``wrn_16_2``, ``wrn_40_1``,
``wrn_40_2``; official ``models/wrn.py``).

``wrn_<depth>_<k>`` has a 3x3 stem of 16 channels, three ``NetworkBlock``s
``block1``..``block3`` of ``(depth - 4) / 6`` pre-activation blocks with
widths 16k, 32k, 64k (strides 1, 2, 2), a final BatchNorm ``bn1`` + ReLU,
global average pooling and a linear layer ``fc``. Convolutions have no bias
and are initialized from ``N(0, 2 / (k * k * out_channels))``; BatchNorm with
gamma 1, beta 0; the linear layer keeps PyTorch's default weight init and a
zero bias.
"""

import keras

from keras_mixkd.models._blocks import TORCH_DEFAULT
from keras_mixkd.models._blocks import batch_norm
from keras_mixkd.models._blocks import classifier
from keras_mixkd.models._blocks import conv2d
from keras_mixkd.models._blocks import relu
from keras_mixkd.models._registry import register_variant


def wide_basic_block(x, out_planes, strides, prefix):
    """A pre-activation block (official ``wrn.BasicBlock``, no dropout).

    As in the official code, when the width changes the shortcut projection
    ``convShortcut`` is applied to the *activated* input ``relu(bn1(x))``;
    otherwise the identity shortcut takes the raw input.

    Args:
        x: input tensor (NHWC).
        out_planes: output channels.
        strides: stride of ``conv1`` and of ``convShortcut``.
        prefix: the block's module path (``"block1.layer.0"``).

    Returns:
        The block output.
    """
    equal_in_out = x.shape[-1] == out_planes
    activated = relu(batch_norm(x, f"{prefix}.bn1"), f"{prefix}.relu1")
    out = conv2d(activated, out_planes, 3, f"{prefix}.conv1", strides=strides,
                 padding=1)
    out = relu(batch_norm(out, f"{prefix}.bn2"), f"{prefix}.relu2")
    out = conv2d(out, out_planes, 3, f"{prefix}.conv2", padding=1)
    if equal_in_out:
        shortcut = x
    else:
        shortcut = conv2d(activated, out_planes, 1, f"{prefix}.convShortcut",
                          strides=strides)
    return keras.layers.Add(name=f"{prefix}.add")([shortcut, out])


def build_wide_resnet(name, num_classes, input_shape, depth, widen_factor):
    """Builds ``WideResNet(depth, num_classes, widen_factor)``.

    Args:
        name: the model name.
        num_classes: number of logits.
        input_shape: input image shape (NHWC, no batch dimension).
        depth: network depth, ``6n + 4``.
        widen_factor: width multiplier ``k``.

    Returns:
        A functional `keras.Model` mapping images to logits.
    """
    if (depth - 4) % 6:
        raise ValueError(f"depth should be 6n+4, got {depth}.")
    n = (depth - 4) // 6
    widths = (16 * widen_factor, 32 * widen_factor, 64 * widen_factor)
    inputs = keras.Input(shape=input_shape)
    x = conv2d(inputs, 16, 3, "conv1", padding=1)
    for stage, planes in enumerate(widths):
        for index in range(n):
            strides = 2 if stage > 0 and index == 0 else 1
            x = wide_basic_block(x, planes, strides,
                                 f"block{stage + 1}.layer.{index}")
    x = relu(batch_norm(x, "bn1"), "relu")
    # The official F.avg_pool2d(out, 8) pools the whole 8x8 map of a 32x32
    # input.
    outputs = classifier(x, num_classes, name="fc",
                         kernel_initializer=TORCH_DEFAULT,
                         bias_initializer="zeros")
    return keras.Model(inputs, outputs, name=name)


def _wrn(depth, widen_factor):
    """Registers ``wrn_<depth>_<widen_factor>``."""
    return register_variant(
        f"wrn_{depth}_{widen_factor}", build_wide_resnet,
        f"Builds ``wrn_{depth}_{widen_factor}``: Wide ResNet of depth "
        f"{depth}, widen factor {widen_factor}.",
        depth=depth, widen_factor=widen_factor)


wrn_16_1 = _wrn(16, 1)
wrn_16_2 = _wrn(16, 2)
wrn_40_1 = _wrn(40, 1)
wrn_40_2 = _wrn(40, 2)
