"""The MIXSTD losses of MIX-KD: KD and CE on logits divided by their std.

Each network's logits are divided by their own per-sample standard deviation
(``ddof=1`` by default, as ``torch.std``), an adaptive temperature; this is
logit standardization at base temperature 1.
"""

import keras
from keras import ops

from keras_mixkd.losses._common import _check_ddof
from keras_mixkd.losses._common import _soft_ce_per_sample
from keras_mixkd.losses.logit_standardization import (
    logit_standardization_per_sample)
from keras_mixkd.losses.logit_standardization import standardize_logits


def std_kd_per_sample(teacher_logits, student_logits, ddof=1):
    """Per-sample `std_kd_divergence` (see there)."""
    return logit_standardization_per_sample(
        teacher_logits, student_logits, temperature=1.0, ddof=ddof)


def std_cross_entropy_per_sample(targets, student_logits, ddof=1):
    """Per-sample `std_cross_entropy` (see there)."""
    s = standardize_logits(student_logits, ddof)
    return _soft_ce_per_sample(ops.cast(targets, s.dtype), s)


def std_kd_divergence(teacher_logits, student_logits, ddof=1):
    """The MIXSTD KD term: KL between std-scaled softmaxes (no weight, no T^2).

    ``mean_i KL(softmax(t_i / std(t_i)) || softmax(s_i / std(s_i)))``: each
    network's logits are divided by their own per-sample standard deviation,
    an adaptive temperature. The gradient flows through the student's std.

    Args:
        teacher_logits: ``(batch, classes)`` teacher logits.
        student_logits: ``(batch, classes)`` student logits.
        ddof: 1 (unbiased, as the official code) or 0.

    Returns:
        The scalar batch-mean divergence.

    Example:

    >>> 0.9 * std_kd_divergence(teacher_logits, student_logits)
    """
    return ops.mean(std_kd_per_sample(teacher_logits, student_logits, ddof))


def std_cross_entropy(targets, student_logits, ddof=1):
    """The MIXSTD CE term: soft-target cross-entropy of std-scaled logits.

    ``mean_i -sum_c y_ic * log_softmax(s_i / std(s_i))_c`` (no weight applied).

    Args:
        targets: ``(batch, classes)`` soft targets (mixed one-hot labels).
        student_logits: ``(batch, classes)`` student logits.
        ddof: 1 (unbiased, as the official code) or 0.

    Returns:
        The scalar batch-mean cross-entropy.

    Example:

    >>> 0.1 * std_cross_entropy(mixed_labels, student_logits)
    """
    return ops.mean(std_cross_entropy_per_sample(targets, student_logits, ddof))


@keras.saving.register_keras_serializable(package="keras_mixkd")
class StdKDDivergence(keras.losses.Loss):
    """The MIXSTD KD term `std_kd_divergence` as a Keras loss.

    ``y_true`` is the teacher's logits, ``y_pred`` the student's.

    Args:
        ddof: 1 (unbiased std, official) or 0.
        **kwargs: `keras.losses.Loss` arguments.

    Example:

    >>> StdKDDivergence()(teacher_logits, student_logits)
    """

    def __init__(self, ddof=1, name="std_kd_divergence", **kwargs):
        _check_ddof(ddof)
        super().__init__(name=name, **kwargs)
        self.ddof = int(ddof)

    def call(self, y_true, y_pred):
        return std_kd_per_sample(y_true, y_pred, self.ddof)

    def get_config(self):
        return {**super().get_config(), "ddof": self.ddof}


@keras.saving.register_keras_serializable(package="keras_mixkd")
class StdCrossEntropy(keras.losses.Loss):
    """The MIXSTD CE term `std_cross_entropy` as a Keras loss.

    ``y_true`` is soft (or one-hot) targets, ``y_pred`` the student's logits.

    Args:
        ddof: 1 (unbiased std, official) or 0.
        **kwargs: `keras.losses.Loss` arguments.

    Example:

    >>> StdCrossEntropy()(mixed_labels, student_logits)
    """

    def __init__(self, ddof=1, name="std_cross_entropy", **kwargs):
        _check_ddof(ddof)
        super().__init__(name=name, **kwargs)
        self.ddof = int(ddof)

    def call(self, y_true, y_pred):
        return std_cross_entropy_per_sample(y_true, y_pred, self.ddof)

    def get_config(self):
        return {**super().get_config(), "ddof": self.ddof}
