"""ShuffleNets of RepDistiller (``ShuffleV1``, ``ShuffleV2``).

Ports of ``models/ShuffleNetv1.py`` and ``models/ShuffleNetv2.py``, both
with a 1x1 stem ``conv1``/``bn1`` of 24 channels for 32x32 inputs, three
stages ``layer1`` ... ``layer3`` that each halve the resolution, and a
linear layer ``linear``. Both keep PyTorch's default initialization.

Channel shuffle and split act on the channel axis exactly as the official
NCHW code orders channels, so imported weights give identical outputs; both
are built from Keras's own layers, so a saved model loads anywhere.
"""

import keras

from keras_mixkd.models._blocks import TORCH_DEFAULT
from keras_mixkd.models._blocks import batch_norm
from keras_mixkd.models._blocks import classifier
from keras_mixkd.models._blocks import conv2d
from keras_mixkd.models._blocks import depthwise_conv2d
from keras_mixkd.models._blocks import relu
from keras_mixkd.models._registry import register_variant


def channel_shuffle(x, groups, name):
    """The official ``ShuffleBlock``: interleaves ``groups`` channel groups.

    Channels ``(g, C / g)`` are transposed to ``(C / g, g)``, as
    ``x.view(N, g, C // g, H, W).permute(0, 2, 1, 3, 4)`` does in NCHW. Built
    from `keras.layers.Reshape` and `keras.layers.Permute` only, so a saved
    model loads with plain Keras.

    Args:
        x: input tensor (NHWC, static height, width and channels).
        groups: number of channel groups.
        name: the block's name (``"layer1.0.shuffle"``).

    Returns:
        The shuffled tensor, of the input's shape.

    Example:

    >>> x = keras.Input((1, 1, 4))  # channels [0, 1, 2, 3] -> [0, 2, 1, 3]
    >>> y = channel_shuffle(x, 2, "shuffle")
    """
    height, width, channels = x.shape[1:]
    x = keras.layers.Reshape((height, width, groups, channels // groups),
                             name=f"{name}.groups")(x)
    x = keras.layers.Permute((1, 2, 4, 3), name=f"{name}.transpose")(x)
    return keras.layers.Reshape((height, width, channels), name=name)(x)


def channel_split(x, ratio, name):
    """The official ``SplitBlock``: the first ``int(C * ratio)`` channels.

    The channel axis is cropped with `keras.layers.Cropping3D` on a view of
    the map with a trailing axis of 1 (built-in layers only, so a saved model
    loads with plain Keras).

    Args:
        x: input tensor (NHWC, static height, width and channels).
        ratio: fraction of the channels in the first output.
        name: the block's name (``"layer1.1.split"``).

    Returns:
        ``(first, rest)``: the first ``int(C * ratio)`` channels, the others.

    Example:

    >>> x1, x2 = channel_split(keras.Input((4, 4, 6)), 0.5, "split")  # 3 + 3
    """
    height, width, channels = x.shape[1:]
    split = int(channels * ratio)
    x = keras.layers.Reshape((height, width, channels, 1),
                             name=f"{name}.expand")(x)
    parts = []
    for index, crop in enumerate(((0, channels - split), (split, 0))):
        part = keras.layers.Cropping3D(((0, 0), (0, 0), crop),
                                       name=f"{name}.crop{index}")(x)
        parts.append(keras.layers.Reshape(
            (height, width, part.shape[3]), name=f"{name}.{index}")(part))
    return tuple(parts)


def _conv_bn(x, filters, prefix, conv, bn, groups=1, relu_name=None):
    """A bias-free 1x1 convolution and BatchNorm, then ReLU if named."""
    x = conv2d(x, filters, 1, f"{prefix}{conv}", groups=groups,
               kernel_initializer=TORCH_DEFAULT)
    x = batch_norm(x, f"{prefix}{bn}")
    return relu(x, f"{prefix}{relu_name}") if relu_name else x


def _dw_bn(x, strides, prefix, conv, bn):
    """A 3x3 depthwise convolution (padding 1) and BatchNorm, no ReLU."""
    x = depthwise_conv2d(x, 3, f"{prefix}{conv}", strides=strides, padding=1,
                         kernel_initializer=TORCH_DEFAULT)
    return batch_norm(x, f"{prefix}{bn}")


def _stem(inputs):
    """The 1x1 stem ``conv1``/``bn1`` with 24 channels, then ReLU."""
    return _conv_bn(inputs, 24, "", "conv1", "bn1", relu_name="relu")


def shuffle_v1_bottleneck(x, out_planes, strides, groups, prefix):
    """The official ShuffleNetV1 ``Bottleneck``.

    Grouped 1x1 conv, BN, ReLU, channel shuffle; 3x3 depthwise conv, BN,
    ReLU; grouped 1x1 conv, BN. A stride-2 block concatenates a 3x3 average
    pool of its input (zero padding counted, as PyTorch's ``AvgPool2d(3, 2,
    padding=1)`` does); a stride-1 block adds its input. ReLU follows.

    Args:
        x: input tensor (NHWC).
        out_planes: channels of the residual branch.
        strides: 1 or 2.
        groups: groups of the 1x1 convolutions (the first one is ungrouped
            when it reads the 24-channel stem).
        prefix: the block's module path (``"layer1.0"``).

    Returns:
        The block output.
    """
    p = f"{prefix}."
    mid_planes = out_planes // 4
    g = 1 if x.shape[-1] == 24 else groups
    out = _conv_bn(x, mid_planes, p, "conv1", "bn1", groups=g,
                   relu_name="relu1")
    if g > 1:
        out = channel_shuffle(out, g, f"{p}shuffle1")
    out = relu(_dw_bn(out, strides, p, "conv2", "bn2"), f"{p}relu2")
    out = _conv_bn(out, out_planes, p, "conv3", "bn3", groups=groups)
    if strides == 2:
        res = keras.layers.ZeroPadding2D(1, name=f"{p}shortcut.pad")(x)
        res = keras.layers.AveragePooling2D(
            3, strides=2, name=f"{p}shortcut.0")(res)
        out = keras.layers.Concatenate(name=f"{p}cat")([out, res])
    else:
        out = keras.layers.Add(name=f"{p}add")([out, x])
    return relu(out, f"{p}relu3")


def shuffle_v2_basic_block(x, prefix):
    """The official ShuffleNetV2 ``BasicBlock`` (stride 1).

    Splits the channels in halves ``x1, x2``; ``x2`` goes through 1x1 conv,
    BN, ReLU, 3x3 depthwise conv, BN, 1x1 conv, BN, ReLU; the result is
    concatenated after ``x1`` and shuffled in two groups.

    Args:
        x: input tensor (NHWC).
        prefix: the block's module path (``"layer1.1"``).

    Returns:
        The block output.
    """
    p = f"{prefix}."
    x1, x2 = channel_split(x, 0.5, f"{p}split")
    width = x2.shape[-1]
    out = _conv_bn(x2, width, p, "conv1", "bn1", relu_name="relu1")
    out = _dw_bn(out, 1, p, "conv2", "bn2")
    out = _conv_bn(out, width, p, "conv3", "bn3", relu_name="relu3")
    out = keras.layers.Concatenate(name=f"{p}cat")([x1, out])
    return channel_shuffle(out, 2, f"{p}shuffle")


def shuffle_v2_down_block(x, out_channels, prefix):
    """The official ShuffleNetV2 ``DownBlock`` (stride 2).

    Left branch: 3x3 depthwise conv (stride 2), BN, 1x1 conv, BN, ReLU.
    Right branch: 1x1 conv, BN, ReLU, 3x3 depthwise conv (stride 2), BN,
    1x1 conv, BN, ReLU. Both give ``out_channels // 2`` channels; they are
    concatenated and shuffled in two groups.

    Args:
        x: input tensor (NHWC).
        out_channels: output channels.
        prefix: the block's module path (``"layer1.0"``).

    Returns:
        The block output.
    """
    p = f"{prefix}."
    mid = out_channels // 2
    left = _dw_bn(x, 2, p, "conv1", "bn1")
    left = _conv_bn(left, mid, p, "conv2", "bn2", relu_name="relu2")
    right = _conv_bn(x, mid, p, "conv3", "bn3", relu_name="relu3")
    right = _dw_bn(right, 2, p, "conv4", "bn4")
    right = _conv_bn(right, mid, p, "conv5", "bn5", relu_name="relu5")
    out = keras.layers.Concatenate(name=f"{p}cat")([left, right])
    return channel_shuffle(out, 2, f"{p}shuffle")


def _head(x, num_classes, name, inputs):
    """Pooled ``linear`` classifier (PyTorch default init) and the model."""
    # The official F.avg_pool2d(out, 4) pools the whole 4x4 map.
    outputs = classifier(x, num_classes, name="linear",
                         kernel_initializer=TORCH_DEFAULT,
                         bias_initializer=TORCH_DEFAULT)
    return keras.Model(inputs, outputs, name=name)


def build_shufflenet_v1(num_classes, input_shape, out_planes=(240, 480, 960),
                        num_blocks=(4, 8, 4), groups=3, name="ShuffleV1"):
    """Builds the official CIFAR ``ShuffleNet`` (V1).

    Args:
        num_classes: number of logits.
        input_shape: input image shape (NHWC, no batch dimension).
        out_planes: output channels of each stage.
        num_blocks: blocks of each stage; the first block has stride 2.
        groups: groups of the 1x1 convolutions.
        name: the model name.

    Returns:
        A functional `keras.Model` mapping images to logits.
    """
    inputs = keras.Input(shape=input_shape)
    x = _stem(inputs)
    for stage, (planes, blocks) in enumerate(zip(out_planes, num_blocks)):
        for index in range(blocks):
            # The first block concatenates its input to its branch.
            cat_planes = x.shape[-1] if index == 0 else 0
            x = shuffle_v1_bottleneck(x, planes - cat_planes,
                                      2 if index == 0 else 1, groups,
                                      f"layer{stage + 1}.{index}")
    return _head(x, num_classes, name, inputs)


def build_shufflenet_v2(num_classes, input_shape,
                        out_channels=(116, 232, 464, 1024),
                        num_blocks=(3, 7, 3), name="ShuffleV2"):
    """Builds the official CIFAR ``ShuffleNetV2``.

    Args:
        num_classes: number of logits.
        input_shape: input image shape (NHWC, no batch dimension).
        out_channels: output channels of the three stages and of ``conv2``.
        num_blocks: basic blocks of each stage, after its down block.
        name: the model name.

    Returns:
        A functional `keras.Model` mapping images to logits.
    """
    inputs = keras.Input(shape=input_shape)
    x = _stem(inputs)
    for stage, (channels, blocks) in enumerate(zip(out_channels, num_blocks)):
        prefix = f"layer{stage + 1}"
        x = shuffle_v2_down_block(x, channels, f"{prefix}.0")
        for index in range(1, blocks + 1):
            x = shuffle_v2_basic_block(x, f"{prefix}.{index}")
    x = _conv_bn(x, out_channels[3], "", "conv2", "bn2", relu_name="relu2")
    return _head(x, num_classes, name, inputs)


def _named(build_fn):
    """Adapts a ``build_fn(num_classes, input_shape, name=...)`` builder."""
    return lambda name, **kwargs: build_fn(name=name, **kwargs)


shuffle_v1 = register_variant(
    "ShuffleV1", _named(build_shufflenet_v1),
    "Builds ``ShuffleV1``: groups 3, stages of 240/480/960 channels.")
shuffle_v2 = register_variant(
    "ShuffleV2", _named(build_shufflenet_v2),
    "Builds ``ShuffleV2``: net size 1, stages of 116/232/464 channels.")
