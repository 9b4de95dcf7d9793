"""The FitNets connector: RepDistiller's ``ConvReg`` as a Keras layer.

A student's feature rarely has the teacher's shape. FitNets trains a small
regressor from the student's feature to the teacher's, with the student, and
matches its output to the teacher's feature (`keras_mixkd.losses.HintLoss`).
RepDistiller's ``ConvReg`` (``models/util.py``) chooses the convolution by
the two heights:

- the student's map twice the teacher's: a 3x3 convolution, stride 2,
  padding 1;
- half the teacher's: a 4x4 transposed convolution, stride 2, padding 1;
- otherwise larger or equal: a ``(1 + Hs - Ht) x (1 + Ws - Wt)`` convolution
  without padding (1x1 when equal);

each with a bias, followed by BatchNorm (PyTorch's epsilon and momentum) and
a ReLU (``use_relu``). A student map smaller than the teacher's and not half
of it has no ``ConvReg`` and is refused.

The connector exists only for training: it belongs to the distillation, not
to the student, so an exported student does not contain it.
"""

import keras

from keras_mixkd.models._blocks import BN_EPSILON
from keras_mixkd.models._blocks import BN_MOMENTUM
from keras_mixkd.models._blocks import TORCH_DEFAULT
from keras_mixkd.models._blocks import _bias_initializer
from keras_mixkd.models._blocks import _kernel_initializer


def _check_shape(name, shape):
    if len(shape) != 3 or any(d is None or int(d) < 1 for d in shape):
        raise ValueError(
            f"ConvRegressor's {name} must be a feature map's (height, width, "
            f"channels) with known sizes, got {tuple(shape)}.")
    return tuple(int(d) for d in shape)


@keras.saving.register_keras_serializable(package="keras_mixkd")
class ConvRegressor(keras.layers.Layer):
    """Maps a student's NHWC feature map to the teacher's shape (``ConvReg``).

    Args:
        teacher_shape: the teacher feature's ``(height, width, channels)``.
        use_relu: end with a ReLU, as RepDistiller's default.
        **kwargs: `keras.layers.Layer` arguments (``name``, ``dtype``...).

    Returns (when called): a ``(batch,) + teacher_shape`` tensor.

    Example:

    >>> regressor = ConvRegressor(teacher_shape=(16, 16, 64))
    >>> regressor(student_feature).shape  # from (batch, 16, 16, 32)
    (batch, 16, 16, 64)
    """

    def __init__(self, teacher_shape, use_relu=True, **kwargs):
        super().__init__(**kwargs)
        self.teacher_shape = _check_shape("teacher_shape", teacher_shape)
        self.use_relu = bool(use_relu)
        self._steps = []

    def _convolution(self, student_shape):
        (s_h, s_w, s_c) = student_shape
        (t_h, t_w, t_c) = self.teacher_shape
        fan_in = s_c * 9
        options = {"kernel_initializer": _kernel_initializer(TORCH_DEFAULT)}
        if s_h == 2 * t_h:
            return [keras.layers.ZeroPadding2D(1, name="pad"),
                    keras.layers.Conv2D(
                        t_c, 3, strides=2, name="conv",
                        bias_initializer=_bias_initializer(
                            TORCH_DEFAULT, fan_in), **options)]
        if 2 * s_h == t_h:
            # PyTorch's padding=1 crops one row and column on each side of
            # the full ("valid") transposed convolution; its fan-in for the
            # initialisation is the output channels times the kernel area.
            return [keras.layers.Conv2DTranspose(
                        t_c, 4, strides=2, padding="valid", name="conv",
                        bias_initializer=_bias_initializer(
                            TORCH_DEFAULT, t_c * 16), **options),
                    keras.layers.Cropping2D(1, name="crop")]
        if s_h >= t_h and s_w >= t_w:
            kernel = (1 + s_h - t_h, 1 + s_w - t_w)
            return [keras.layers.Conv2D(
                t_c, kernel, name="conv",
                bias_initializer=_bias_initializer(
                    TORCH_DEFAULT, s_c * kernel[0] * kernel[1]), **options)]
        raise ValueError(
            f"ConvRegressor maps a student feature map of {s_h}x{s_w} to a "
            f"teacher's of {t_h}x{t_w}: RepDistiller's ConvReg only maps a "
            "map twice as large, half as large, or at least as large in both "
            "dimensions. Pick a student layer whose map is at least as large "
            "as the teacher's, or half of it.")

    def build(self, input_shape):
        student_shape = _check_shape("input", input_shape[1:])
        self._steps = self._convolution(student_shape) + [
            keras.layers.BatchNormalization(
                epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name="bn")]
        if self.use_relu:
            self._steps.append(keras.layers.ReLU(name="relu"))
        shape = tuple(input_shape)
        for layer in self._steps:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        if tuple(shape[1:]) != self.teacher_shape:
            raise ValueError(
                f"ConvRegressor maps {tuple(input_shape[1:])} to "
                f"{tuple(shape[1:])}, not the teacher's {self.teacher_shape}.")

    def call(self, inputs, training=None):
        x = inputs
        for layer in self._steps:
            if isinstance(layer, keras.layers.BatchNormalization):
                x = layer(x, training=training)
            else:
                x = layer(x)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.teacher_shape

    def get_config(self):
        return {**super().get_config(),
                "teacher_shape": list(self.teacher_shape),
                "use_relu": self.use_relu}
