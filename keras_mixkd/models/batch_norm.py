"""BatchNormalization as one fused TensorFlow kernel (the zoo's BatchNorm).

`keras.layers.BatchNormalization` computes, on the TensorFlow backend,
the batch moments, the normalisation and (under a mixed policy) float32
casts of its input and output as a dozen separate ops, each a pass over the
activations, and differentiates through all of them.
`FusedBatchNormalization` computes the same function with TensorFlow's
``FusedBatchNormV3`` kernel (and its fused gradient): one pass forward, one
backward, bfloat16 or float16 activations read directly with float32
statistics inside. The moving statistics are updated exactly as Keras's
layer updates them (population variance of the batch, ``momentum``).

Where the fused kernel does not apply (another backend, a mask, renorm,
synchronized statistics, a normalised axis other than the last of a 4-D
input, float64) the layer is Keras's own, unchanged.
"""

import types

import keras
from keras import ops


def _fused_op():
    """TensorFlow's raw fused kernel, or None on another backend."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    return tf.raw_ops.FusedBatchNormV3


def _fusable(layer, inputs, mask):
    axis = layer.axis if isinstance(layer.axis, int) else None
    rank = len(inputs.shape)
    return (_fused_op() is not None and mask is None and rank == 4
            and axis in (-1, 3) and not getattr(layer, "renorm", False)
            and not getattr(layer, "synchronized", False)
            and keras.backend.standardize_dtype(inputs.dtype) in (
                "float32", "bfloat16", "float16"))


def fused_call(layer, inputs, training=None, mask=None):
    """`keras.layers.BatchNormalization.call` by TensorFlow's fused kernel.

    Args:
        layer: a `keras.layers.BatchNormalization`.
        inputs, training, mask: as in its ``call``.

    Returns:
        The normalised inputs, in the layer's compute dtype; in training,
        the moving statistics are updated as Keras updates them.
    """
    if not _fusable(layer, inputs, mask):
        return keras.layers.BatchNormalization.call(
            layer, inputs, training=training, mask=mask)
    channels = inputs.shape[-1]
    gamma = (ops.cast(layer.gamma, "float32") if layer.scale
             else ops.ones((channels,), "float32"))
    beta = (ops.cast(layer.beta, "float32") if layer.center
            else ops.zeros((channels,), "float32"))
    mean = ops.cast(layer.moving_mean, "float32")
    variance = ops.cast(layer.moving_variance, "float32")
    train = bool(training and layer.trainable)
    if train:
        empty = ops.zeros((0,), "float32")
        mean, variance = empty, empty
    outputs, batch_mean, batch_variance = _fused_op()(
        x=inputs, scale=gamma, offset=beta, mean=mean, variance=variance,
        epsilon=layer.epsilon, data_format="NHWC",
        is_training=train)[:3]
    if train:
        # The kernel returns the Bessel-corrected variance; Keras's moving
        # variance averages the population variance.
        shape = ops.shape(inputs)
        n = ops.cast(shape[0] * shape[1] * shape[2], "float32")
        batch_variance = batch_variance * (n - 1.0) / ops.maximum(n, 1.0)
        momentum = layer.momentum
        layer.moving_mean.assign(
            ops.cast(layer.moving_mean, "float32") * momentum
            + batch_mean * (1.0 - momentum))
        layer.moving_variance.assign(
            ops.cast(layer.moving_variance, "float32") * momentum
            + batch_variance * (1.0 - momentum))
    return ops.cast(outputs, layer.compute_dtype)


def use_fused_kernel(layer):
    """Makes a built-in BatchNormalization layer run the fused kernel.

    The layer stays a `keras.layers.BatchNormalization` (its class, config
    and weights are unchanged), so a saved model still loads with plain
    Keras, without keras_mixkd; only this instance computes faster.

    Args:
        layer: a `keras.layers.BatchNormalization`.

    Returns:
        The layer.

    Example:

    ```python
    bn = use_fused_kernel(keras.layers.BatchNormalization(epsilon=1e-5))
    ```
    """
    if not isinstance(layer, keras.layers.BatchNormalization):
        raise TypeError("use_fused_kernel takes a keras.layers."
                        f"BatchNormalization, got {type(layer).__name__}.")
    layer.call = types.MethodType(fused_call, layer)
    return layer


def use_fused_batch_norm(model):
    """`use_fused_kernel` on every BatchNormalization layer of ``model``.

    Args:
        model: a Keras model (nested models included).

    Returns:
        The model.
    """
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            use_fused_kernel(layer)
        elif hasattr(layer, "layers"):
            use_fused_batch_norm(layer)
    return model


@keras.saving.register_keras_serializable(package="keras_mixkd")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` run by one fused TensorFlow kernel.

    Same arguments, weights and results (up to floating-point rounding) as
    `keras.layers.BatchNormalization`; faster on the TensorFlow backend
    (BENCHMARKS.md). Saved files name this class, so they need keras_mixkd
    to load; the zoo uses `use_fused_kernel` on built-in layers instead.

    Example:

    ```python
    x = keras.Input((32, 32, 16))
    y = FusedBatchNormalization(epsilon=1e-5, momentum=0.9)(x)
    ```
    """

    def call(self, inputs, training=None, mask=None):
        return fused_call(self, inputs, training=training, mask=mask)
