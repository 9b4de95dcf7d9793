"""Building blocks shared by the model zoo.

Every layer that holds weights is named after the PyTorch module path of the
official implementation (for example ``"layer1.0.conv1"``), so that
`keras_mixkd.models.load_torch_weights` can map a state dict onto a model by
name alone. Weightless helper layers (padding, activations, additions) take the
module path plus a suffix (``"layer1.0.pad1"``, ``"layer1.0.relu1"``).
"""

import keras

from keras_mixkd.models.batch_norm import use_fused_kernel

#: PyTorch's BatchNorm2d default epsilon.
BN_EPSILON = 1e-5
#: Keras momentum equivalent to PyTorch's BatchNorm2d momentum of 0.1.
BN_MOMENTUM = 0.9
#: Name of the layer whose output is the pooled penultimate feature vector.
PENULTIMATE = "penultimate"
#: Initializer name for PyTorch's default ``nn.Conv2d`` / ``nn.Linear`` init.
TORCH_DEFAULT = "torch_default"


def _kernel_initializer(initializer):
    """Resolves the PyTorch-named kernel initializers.

    ``"he_normal_fan_out"`` is ``kaiming_normal_(mode="fan_out",
    nonlinearity="relu")``; ``"torch_default"`` is the default of
    ``nn.Conv2d`` and ``nn.Linear``, ``kaiming_uniform_(a=sqrt(5))``, i.e. a
    uniform distribution with bound ``1 / sqrt(fan_in)``.
    """
    if initializer == "he_normal_fan_out":
        return keras.initializers.VarianceScaling(
            2.0, mode="fan_out", distribution="untruncated_normal")
    if initializer == TORCH_DEFAULT:
        return keras.initializers.VarianceScaling(
            1.0 / 3.0, mode="fan_in", distribution="uniform")
    return initializer


def _bias_initializer(initializer, fan_in):
    """Resolves ``"torch_default"``: uniform with bound ``1 / sqrt(fan_in)``."""
    if initializer == TORCH_DEFAULT:
        bound = 1.0 / fan_in ** 0.5
        return keras.initializers.RandomUniform(-bound, bound)
    return initializer


def conv2d(x, filters, kernel_size, name, strides=1, padding=0, use_bias=False,
           groups=1, kernel_initializer="he_normal_fan_out",
           bias_initializer="zeros"):
    """A PyTorch-exact ``nn.Conv2d`` (symmetric zero padding).

    Keras's ``padding="same"`` pads bottom/right only when the stride is 2,
    which differs from PyTorch. Whenever the stride is not 1 and padding is
    requested, an explicit `keras.layers.ZeroPadding2D` is inserted.

    Args:
        x: input tensor (NHWC).
        filters: output channels.
        kernel_size: square kernel size.
        name: the PyTorch module path (``"layer1.0.conv1"``).
        strides: stride.
        padding: PyTorch's symmetric padding.
        use_bias: whether the convolution has a bias.
        groups: grouped convolution (``filters`` and input channels divisible).
        kernel_initializer: a Keras initializer, ``"he_normal_fan_out"`` for
            PyTorch's ``kaiming_normal_(mode="fan_out", nonlinearity="relu")``
            or ``"torch_default"`` for PyTorch's default ``nn.Conv2d`` init.
        bias_initializer: a Keras initializer or ``"torch_default"`` for
            PyTorch's default bias init, uniform in ``+-1 / sqrt(fan_in)``.

    Returns:
        The output tensor.
    """
    fan_in = x.shape[-1] // groups * kernel_size * kernel_size
    kernel_initializer = _kernel_initializer(kernel_initializer)
    bias_initializer = _bias_initializer(bias_initializer, fan_in)
    same = strides == 1 and padding == (kernel_size - 1) // 2 and kernel_size % 2
    if padding and not same:
        x = keras.layers.ZeroPadding2D(padding, name=f"{name}.pad")(x)
    return keras.layers.Conv2D(
        filters, kernel_size, strides=strides,
        padding="same" if (padding and same) else "valid",
        use_bias=use_bias, groups=groups,
        kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer, name=name)(x)


def batch_norm(x, name):
    """A PyTorch-exact ``nn.BatchNorm2d`` (epsilon 1e-5, momentum 0.1).

    A built-in `keras.layers.BatchNormalization` (saved files load with
    plain Keras) computed by the fused kernel (`use_fused_kernel`).

    Args:
        x: input tensor.
        name: the PyTorch module path.

    Returns:
        The output tensor.
    """
    layer = keras.layers.BatchNormalization(
        epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)
    return use_fused_kernel(layer)(x)


def relu(x, name):
    """A named ReLU layer."""
    return keras.layers.ReLU(name=name)(x)


def classifier(x, num_classes, name="fc", bias_initializer="zeros",
               kernel_initializer="glorot_uniform"):
    """Global average pooling to the penultimate features, then a dense layer.

    Args:
        x: the last feature map (NHWC).
        num_classes: number of logits.
        name: the PyTorch module path of the linear layer.
        bias_initializer: initializer of the dense bias, or ``"torch_default"``
            for PyTorch's default ``nn.Linear`` bias init.
        kernel_initializer: initializer of the dense kernel, or
            ``"torch_default"`` for PyTorch's default ``nn.Linear`` init.

    Returns:
        The logits tensor.
    """
    fan_in = x.shape[-1]
    x = keras.layers.GlobalAveragePooling2D(name=PENULTIMATE)(x)
    return keras.layers.Dense(
        num_classes, name=name,
        kernel_initializer=_kernel_initializer(kernel_initializer),
        bias_initializer=_bias_initializer(bias_initializer, fan_in))(x)


def depthwise_conv2d(x, kernel_size, name, strides=1, padding=0,
                     kernel_initializer="he_normal_fan_out"):
    """A PyTorch-exact depthwise ``nn.Conv2d`` (``groups == in_channels``).

    The padding is always explicit (`keras.layers.ZeroPadding2D` named
    ``f"{name}.pad"``), so strided convolutions pad symmetrically as in
    PyTorch. The kernel has the Keras layout ``(k, k, channels, 1)``.

    Args:
        x: input tensor (NHWC).
        kernel_size: square kernel size.
        name: the PyTorch module path (``"layer1.0.conv2"``).
        strides: stride.
        padding: PyTorch's symmetric padding.
        kernel_initializer: a Keras initializer, ``"he_normal_fan_out"`` or
            ``"torch_default"`` (see `conv2d`), computed with PyTorch's fans.

    Returns:
        The output tensor.
    """
    # A depthwise kernel (k, k, C, 1) gives Keras fan_in = k*k*C and
    # fan_out = k*k, the transpose of PyTorch's fans for weight (C, 1, k, k).
    if kernel_initializer == "he_normal_fan_out":
        kernel_initializer = keras.initializers.VarianceScaling(
            2.0, mode="fan_in", distribution="untruncated_normal")
    elif kernel_initializer == TORCH_DEFAULT:
        kernel_initializer = keras.initializers.VarianceScaling(
            1.0 / 3.0, mode="fan_out", distribution="uniform")
    if padding:
        x = keras.layers.ZeroPadding2D(padding, name=f"{name}.pad")(x)
    return keras.layers.DepthwiseConv2D(
        kernel_size, strides=strides, padding="valid", use_bias=False,
        depthwise_initializer=kernel_initializer, name=name)(x)
