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

import keras
from keras import ops


def _fused_op():
    """TensorFlow's raw fused kernel, or None on another backend."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    return tf.raw_ops.FusedBatchNormV3


@keras.saving.register_keras_serializable(package="keras_mixkd")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` run by one fused TensorFlow kernel.

    Same arguments, weights and results (up to floating-point rounding) as
    `keras.layers.BatchNormalization`; faster on the TensorFlow backend
    (measured in BENCHMARKS.md: the student's training step of resnet8x4 on
    CPU, +13% in float32, +38% under mixed_bfloat16).

    Example:

    ```python
    x = keras.Input((32, 32, 16))
    y = FusedBatchNormalization(epsilon=1e-5, momentum=0.9)(x)
    ```
    """

    def _fusable(self, inputs, mask):
        axis = self.axis if isinstance(self.axis, int) else None
        rank = len(inputs.shape)
        return (_fused_op() is not None and mask is None and rank == 4
                and axis in (-1, 3) and not self.renorm
                and not self.synchronized
                and keras.backend.standardize_dtype(inputs.dtype) in (
                    "float32", "bfloat16", "float16"))

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        gamma = (ops.cast(self.gamma, "float32") if self.scale
                 else ops.ones((channels,), "float32"))
        beta = (ops.cast(self.beta, "float32") if self.center
                else ops.zeros((channels,), "float32"))
        mean = ops.cast(self.moving_mean, "float32")
        variance = ops.cast(self.moving_variance, "float32")
        train = bool(training and self.trainable)
        if train:
            empty = ops.zeros((0,), "float32")
            mean, variance = empty, empty
        outputs, batch_mean, batch_variance = _fused_op()(
            x=inputs, scale=gamma, offset=beta, mean=mean, variance=variance,
            epsilon=self.epsilon, data_format="NHWC",
            is_training=train)[:3]
        if train:
            # The kernel returns the Bessel-corrected variance; Keras's moving
            # variance averages the population variance.
            shape = ops.shape(inputs)
            n = ops.cast(shape[0] * shape[1] * shape[2], "float32")
            batch_variance = batch_variance * (n - 1.0) / ops.maximum(n, 1.0)
            momentum = self.momentum
            self.moving_mean.assign(
                ops.cast(self.moving_mean, "float32") * momentum
                + batch_mean * (1.0 - momentum))
            self.moving_variance.assign(
                ops.cast(self.moving_variance, "float32") * momentum
                + batch_variance * (1.0 - momentum))
        return ops.cast(outputs, self.compute_dtype)
