"""CIFAR ResNets of RepDistiller (``resnet8`` ... ``resnet32x4``, ``ResNet50``).

Two official files define them and this module ports both with shared
blocks:

- ``models/resnet.py``: the CIFAR ResNets ``resnet8/14/20/32/44/56/110``
  (stage widths 16, 16, 32, 64) and ``resnet8x4``/``resnet32x4`` (32, 64, 128,
  256): a 3x3 stem, three stages of post-activation basic blocks with
  ``(depth - 2) / 6`` blocks each, and a linear layer ``fc``. The projection
  shortcut is called ``downsample``.
- ``models/resnetv2.py``: ``ResNet50``, the torchvision bottleneck ResNet with
  a CIFAR stem (3x3 convolution, stride 1, no max-pool), stages of 3, 4, 6, 3
  bottlenecks and a linear layer ``linear``. The projection shortcut is
  called ``shortcut``.

Both initialize convolutions with ``kaiming_normal_(mode="fan_out")`` and
BatchNorm with gamma 1, beta 0; the linear layer keeps PyTorch's default
initialization.
"""

import keras

from keras_mixkd.models._blocks import TORCH_DEFAULT
from keras_mixkd.models._blocks import batch_norm
from keras_mixkd.models._blocks import classifier
from keras_mixkd.models._blocks import conv2d
from keras_mixkd.models._blocks import relu
from keras_mixkd.models._registry import register
from keras_mixkd.models._registry import register_variant


def _conv_bn(x, filters, kernel_size, conv_name, bn_name, strides=1):
    """A bias-free convolution (``padding=k // 2``) followed by BatchNorm."""
    x = conv2d(x, filters, kernel_size, conv_name, strides=strides,
               padding=kernel_size // 2)
    return batch_norm(x, bn_name)


def _residual_output(x, residual, filters, strides, prefix, shortcut_name):
    """Adds the (projected) shortcut to the residual branch, then ReLU.

    Args:
        x: the block input.
        residual: the residual branch output (after its last BatchNorm).
        filters: output channels of the block.
        strides: the block's stride.
        prefix: the block's module path (``"layer2.0"``).
        shortcut_name: the official name of the projection ``nn.Sequential``
            (``"downsample"`` or ``"shortcut"``).

    Returns:
        The block output.
    """
    if strides != 1 or x.shape[-1] != filters:
        x = _conv_bn(x, filters, 1, f"{prefix}.{shortcut_name}.0",
                     f"{prefix}.{shortcut_name}.1", strides=strides)
    out = keras.layers.Add(name=f"{prefix}.add")([residual, x])
    return relu(out, f"{prefix}.relu")


def basic_block(x, planes, strides, prefix, shortcut_name):
    """A post-activation basic block (``BasicBlock``, expansion 1).

    Args:
        x: input tensor (NHWC).
        planes: output channels.
        strides: stride of the first 3x3 convolution and of the shortcut.
        prefix: the block's module path (``"layer1.0"``).
        shortcut_name: the official name of the projection shortcut.

    Returns:
        The block output.
    """
    out = _conv_bn(x, planes, 3, f"{prefix}.conv1", f"{prefix}.bn1", strides)
    out = relu(out, f"{prefix}.relu1")
    out = _conv_bn(out, planes, 3, f"{prefix}.conv2", f"{prefix}.bn2")
    return _residual_output(x, out, planes, strides, prefix, shortcut_name)


def bottleneck_block(x, planes, strides, prefix, shortcut_name):
    """A post-activation bottleneck block (``Bottleneck``, expansion 4).

    The stride sits on the 3x3 convolution, as in both official files.

    Args:
        x: input tensor (NHWC).
        planes: bottleneck channels; the block outputs ``4 * planes``.
        strides: stride of the 3x3 convolution and of the shortcut.
        prefix: the block's module path (``"layer1.0"``).
        shortcut_name: the official name of the projection shortcut.

    Returns:
        The block output.
    """
    out = _conv_bn(x, planes, 1, f"{prefix}.conv1", f"{prefix}.bn1")
    out = relu(out, f"{prefix}.relu1")
    out = _conv_bn(out, planes, 3, f"{prefix}.conv2", f"{prefix}.bn2", strides)
    out = relu(out, f"{prefix}.relu2")
    out = _conv_bn(out, 4 * planes, 1, f"{prefix}.conv3", f"{prefix}.bn3")
    return _residual_output(x, out, 4 * planes, strides, prefix,
                            shortcut_name)


def build_resnet(name, num_classes, input_shape, block, stem_width, widths,
                 num_blocks, shortcut_name="downsample", fc_name="fc"):
    """Builds a ResNet: 3x3 stem, stages of residual blocks, pooled classifier.

    Args:
        name: the model name.
        num_classes: number of logits.
        input_shape: input image shape (NHWC, no batch dimension).
        block: `basic_block` or `bottleneck_block`.
        stem_width: channels of the stem convolution ``conv1``.
        widths: ``planes`` of each stage ``layer1``, ``layer2``, ...; the
            first stage has stride 1, the others stride 2.
        num_blocks: number of blocks of each stage.
        shortcut_name: the official name of the projection shortcuts.
        fc_name: the official name of the final linear layer.

    Returns:
        A functional `keras.Model` mapping images to logits.
    """
    inputs = keras.Input(shape=input_shape)
    x = _conv_bn(inputs, stem_width, 3, "conv1", "bn1")
    x = relu(x, "relu")
    for stage, (planes, blocks) in enumerate(zip(widths, num_blocks)):
        for index in range(blocks):
            strides = 2 if stage > 0 and index == 0 else 1
            x = block(x, planes, strides, f"layer{stage + 1}.{index}",
                      shortcut_name)
    # The official AvgPool2d(8) / AdaptiveAvgPool2d(1) both pool the whole
    # 8x8 (resp. 4x4) map of a 32x32 input.
    outputs = classifier(x, num_classes, name=fc_name,
                         kernel_initializer=TORCH_DEFAULT,
                         bias_initializer=TORCH_DEFAULT)
    return keras.Model(inputs, outputs, name=name)


def _cifar_resnet(name, depth, widths):
    """Registers a CIFAR ResNet of ``models/resnet.py``."""
    return register_variant(
        name, build_resnet,
        f"Builds ``{name}``: CIFAR ResNet of depth {depth}, widths {widths}.",
        block=basic_block, stem_width=widths[0], widths=widths[1:],
        num_blocks=((depth - 2) // 6,) * 3)


_NARROW = (16, 16, 32, 64)
_WIDE = (32, 64, 128, 256)

resnet8 = _cifar_resnet("resnet8", 8, _NARROW)
resnet14 = _cifar_resnet("resnet14", 14, _NARROW)
resnet20 = _cifar_resnet("resnet20", 20, _NARROW)
resnet32 = _cifar_resnet("resnet32", 32, _NARROW)
resnet44 = _cifar_resnet("resnet44", 44, _NARROW)
resnet56 = _cifar_resnet("resnet56", 56, _NARROW)
resnet110 = _cifar_resnet("resnet110", 110, _NARROW)
resnet8x4 = _cifar_resnet("resnet8x4", 8, _WIDE)
resnet32x4 = _cifar_resnet("resnet32x4", 32, _WIDE)


@register("ResNet50")
def ResNet50(num_classes=100, input_shape=(32, 32, 3)):
    """Builds ``ResNet50`` of ``models/resnetv2.py`` (CIFAR stem).

    Args:
        num_classes: number of logits.
        input_shape: input image shape (NHWC, no batch dimension).

    Returns:
        A functional `keras.Model` mapping images to logits.
    """
    return build_resnet("ResNet50", num_classes, input_shape,
                        bottleneck_block, stem_width=64,
                        widths=(64, 128, 256, 512), num_blocks=(3, 4, 6, 3),
                        shortcut_name="shortcut", fc_name="linear")
