"""VGG with BatchNorm of RepDistiller (``vgg8`` ... ``vgg19``; official
``models/vgg.py``, the ``*_bn`` builders).

Five ``nn.Sequential`` blocks ``block0``..``block4`` of ``conv3x3 (bias) ->
BatchNorm -> ReLU``; the last ReLU of every block is dropped from the
``Sequential`` and applied by ``forward`` instead, so module indices inside a
block are ``3 * i`` (conv) and ``3 * i + 1`` (BatchNorm). ``forward`` runs::

    relu(block0) -> pool0 -> block1 -> relu -> pool1 -> block2 -> relu
    -> pool2 -> block3 -> relu -> [pool3 only for 64x64 inputs]
    -> block4 -> relu -> pool4 (adaptive average) -> classifier

so on 32x32 inputs the fourth max-pool is skipped and ``block4`` sees a 4x4
map. The classifier is ``nn.Linear(512, num_classes)``. Convolutions are
initialized from ``N(0, 2 / (k * k * out_channels))`` with zero bias,
BatchNorm with gamma 1 and beta 0, the linear layer from ``N(0, 0.01)`` with
zero bias.
"""

import keras

from keras_mixkd.models._blocks import batch_norm
from keras_mixkd.models._blocks import classifier
from keras_mixkd.models._blocks import conv2d
from keras_mixkd.models._blocks import relu
from keras_mixkd.models._registry import register_variant

#: Output channels of the convolutions of each of the five blocks.
CONFIGS = {
    "vgg8": ((64,), (128,), (256,), (512,), (512,)),
    "vgg11": ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    "vgg13": ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
    "vgg16": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512),
              (512, 512, 512)),
    "vgg19": ((64, 64), (128, 128), (256, 256, 256, 256),
              (512, 512, 512, 512), (512, 512, 512, 512)),
}


def vgg_block(x, widths, prefix):
    """One official ``_make_layers`` block, including its final ReLU.

    Args:
        x: input tensor (NHWC).
        widths: output channels of the block's 3x3 convolutions.
        prefix: the block's module path (``"block0"``).

    Returns:
        The block output after the ReLU that ``forward`` applies.
    """
    for i, filters in enumerate(widths):
        x = conv2d(x, filters, 3, f"{prefix}.{3 * i}", padding=1,
                   use_bias=True)
        x = batch_norm(x, f"{prefix}.{3 * i + 1}")
        # Inner ReLUs are Sequential modules (index 3i+2); the last one is
        # dropped from the Sequential and applied in forward().
        last = i == len(widths) - 1
        x = relu(x, f"{prefix}.relu" if last else f"{prefix}.{3 * i + 2}")
    return x


def build_vgg(name, num_classes, input_shape, config):
    """Builds the official ``VGG(cfg, batch_norm=True)``.

    Args:
        name: the model name.
        num_classes: number of logits.
        input_shape: input image shape (NHWC, no batch dimension).
        config: five tuples of convolution widths, one per block.

    Returns:
        A functional `keras.Model` mapping images to logits.
    """
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for index, widths in enumerate(config):
        x = vgg_block(x, widths, f"block{index}")
        # pool0..pool2 always; pool3 only when the input height is 64.
        if index < 3 or (index == 3 and input_shape[0] == 64):
            x = keras.layers.MaxPooling2D(2, name=f"pool{index}")(x)
    outputs = classifier(
        x, num_classes, name="classifier",
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
        bias_initializer="zeros")
    return keras.Model(inputs, outputs, name=name)


def _vgg(name):
    """Registers the official builder ``<name>_bn`` under ``name``."""
    return register_variant(
        name, build_vgg,
        f"Builds ``{name}``: VGG with BatchNorm, widths {CONFIGS[name]}.",
        config=CONFIGS[name])


vgg8 = _vgg("vgg8")
vgg11 = _vgg("vgg11")
vgg13 = _vgg("vgg13")
vgg16 = _vgg("vgg16")
vgg19 = _vgg("vgg19")
