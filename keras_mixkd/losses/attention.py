"""Attention transfer (Zagoruyko & Komodakis, ICLR 2017), as RepDistiller
computes it.

The attention map of a feature ``f`` (NHWC) is the channel mean of ``f**p``,
flattened over the spatial positions and L2-normalised per sample
(``F.normalize``). For one teacher/student pair of features RepDistiller's
``Attention.at_loss`` first average-pools the larger map to the smaller one's
size (``F.adaptive_avg_pool2d``), then takes the mean, over the batch and the
positions, of the squared difference of the two attention maps. RepDistiller
sums that value over the pairs of ``feat[1:-1]`` (each stage's output) and
weighs the sum by ``beta = 1000``; the `Distiller` does the summing and the
weighing, this loss is one pair's unweighted value.

Pooling: RepDistiller decides by the height and pools to a square map; this
module pools height and width each to the smaller of the two, which is the
same for square maps (every model of the zoo) and also defined for
rectangular ones. Sizes that do not divide use the adaptive pooling windows
``[floor(i * n / m), ceil((i + 1) * n / m))`` of PyTorch.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_mixkd.losses import _features

#: RepDistiller's (and the paper's) exponent.
ATTENTION_P = 2


def _pooling_matrix(size, target):
    """The ``(target, size)`` matrix of PyTorch's adaptive average pooling."""
    matrix = np.zeros((target, size))
    for i in range(target):
        start = (i * size) // target
        end = math.ceil((i + 1) * size / target)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def adaptive_average_pool(feature, height, width):
    """Average-pools an NHWC feature to ``(height, width)`` like
    ``F.adaptive_avg_pool2d``.

    Args:
        feature: a ``(batch, H, W, C)`` tensor with static H and W.
        height: the output height, at most H.
        width: the output width, at most W.

    Returns:
        A ``(batch, height, width, C)`` tensor.
    """
    in_height, in_width = feature.shape[1], feature.shape[2]
    if (in_height, in_width) == (height, width):
        return feature
    if in_height % height == 0 and in_width % width == 0:
        window = (in_height // height, in_width // width)
        return ops.average_pool(feature, window, strides=window,
                                padding="valid")
    rows = ops.cast(_pooling_matrix(in_height, height), feature.dtype)
    cols = ops.cast(_pooling_matrix(in_width, width), feature.dtype)
    return ops.einsum("ih,jw,bhwc->bijc", rows, cols, feature)


def attention_map(feature, p=ATTENTION_P):
    """The L2-normalised spatial attention map of an NHWC feature.

    Args:
        feature: a ``(batch, H, W, C)`` tensor.
        p: the exponent of ``f**p`` before the channel mean.

    Returns:
        A ``(batch, H * W)`` tensor of unit-norm rows.
    """
    powered = ops.square(feature) if p == 2 else ops.power(feature, p)
    energy = ops.mean(powered, axis=-1)
    return _features.l2_normalize(_features.flatten(energy))


def _check_spatial(teacher, student):
    for axis in (1, 2):
        if teacher.shape[axis] is None or student.shape[axis] is None:
            raise ValueError(
                "AttentionTransfer needs the features' height and width "
                f"known when traced; got {tuple(teacher.shape)} (teacher) and "
                f"{tuple(student.shape)} (student). Build the models on a "
                "fixed input size, keras.Input(shape=(height, width, "
                "channels)).")


def attention_transfer_per_sample(teacher_feature, student_feature,
                                  p=ATTENTION_P):
    """Per-sample attention-transfer loss of one feature pair.

    Args:
        teacher_feature: ``(batch, Ht, Wt, Ct)`` teacher features.
        student_feature: ``(batch, Hs, Ws, Cs)`` student features; channels
            may differ, the larger map is pooled to the smaller.
        p: the exponent of the attention map.

    Returns:
        A ``(batch,)`` tensor: the mean over positions of the squared
        difference of the attention maps; its mean is
        `attention_transfer_loss`.
    """
    t, s = _features.check_pair("AttentionTransfer", teacher_feature,
                                student_feature, rank=4)
    _check_spatial(t, s)
    height = min(t.shape[1], s.shape[1])
    width = min(t.shape[2], s.shape[2])
    t = adaptive_average_pool(t, height, width)
    s = adaptive_average_pool(s, height, width)
    difference = attention_map(s, p) - attention_map(t, p)
    return ops.mean(ops.square(difference), axis=-1)


def attention_transfer_loss(teacher_feature, student_feature, p=ATTENTION_P):
    """Attention transfer of one feature pair, RepDistiller's ``at_loss``.

    Args:
        teacher_feature: ``(batch, Ht, Wt, Ct)`` teacher features.
        student_feature: ``(batch, Hs, Ws, Cs)`` student features.
        p: the exponent of the attention map.

    Returns:
        A scalar.

    Example:

    >>> attention_transfer_loss(teacher_stage2, student_stage2)
    """
    return ops.mean(
        attention_transfer_per_sample(teacher_feature, student_feature, p))


@keras.saving.register_keras_serializable(package="keras_mixkd")
class AttentionTransfer(keras.losses.Loss):
    """Attention transfer `attention_transfer_loss` as a Keras loss.

    ``y_true`` is the teacher's NHWC feature, ``y_pred`` the student's; their
    channels may differ and the larger map is pooled to the smaller. Returns
    one pair's unweighted value; RepDistiller sums it over the stages and
    weighs the sum by ``beta = 1000``.

    Args:
        p: the exponent of the attention map ``mean_c(f**p)`` (2 in the
            paper and in RepDistiller).
        **kwargs: `keras.losses.Loss` arguments (``reduction``, ``name``...).

    Example:

    >>> loss = AttentionTransfer()
    >>> loss(teacher_stage2, student_stage2)
    """

    def __init__(self, p=ATTENTION_P, name="attention_transfer", **kwargs):
        if not p > 0:
            raise ValueError(f"`p` must be > 0, got {p}; the paper uses 2.")
        super().__init__(name=name, **kwargs)
        self.p = p

    def call(self, y_true, y_pred):
        return attention_transfer_per_sample(y_true, y_pred, self.p)

    def get_config(self):
        return {**super().get_config(), "p": self.p}
