"""The MIXSTD losses of MIX-KD: KD and CE on logits divided by their std.

Each network's logits are divided by their own per-sample standard deviation
(``ddof=1`` by default, as ``torch.std``), an adaptive temperature; this is
logit standardization at base temperature 1.

A base temperature ``tau`` (default 1, the official code) makes each sample's
temperature ``tau * std(z)``: ``1 / tau`` is the ``scale_T`` of the official
code's earlier version. It sets how sharp the targets can be. The top z-score
of ``K`` logits is at most ``(K - 1) / sqrt(K)`` (unbiased std): 9.9 for
CIFAR-100 (top probability up to 0.996) but 2.85 for 10 classes (0.72), so
on 10 classes MIXSTD distils from far softer targets than in the paper.
``tau = ((K - 1) / sqrt(K)) / (99 / 10)`` gives ``K`` classes CIFAR-100's
ceiling (0.29 at ``K = 10``; `ceiling_matching_temperature`).
"""

import math

import keras
from keras import ops

from keras_mixkd.losses._common import _check_ddof
from keras_mixkd.losses._common import _check_positive
from keras_mixkd.losses._common import _check_teacher_logits
from keras_mixkd.losses._common import _class_targets
from keras_mixkd.losses._common import _kl_per_sample
from keras_mixkd.losses._common import _soft_ce_per_sample
from keras_mixkd.losses.logit_standardization import standardize_logits


def max_z_score(num_classes):
    """The largest z-score (unbiased std) any of ``num_classes`` logits has.

    One logit up, the others equal: ``(K - 1) / sqrt(K)``, so
    ``softmax(z / std(z))`` puts at most
    ``1 / (1 + (K - 1) exp(-sqrt(K)))`` on its top class.

    Args:
        num_classes: ``K >= 2``.

    Returns:
        A float: 2.846 for 10 classes, 9.9 for 100.

    Example:

    >>> round(max_z_score(100), 6)
    9.9
    """
    if not int(num_classes) >= 2:
        raise ValueError(f"`num_classes` must be >= 2, got {num_classes}.")
    return (num_classes - 1) / math.sqrt(num_classes)


def ceiling_matching_temperature(num_classes, reference_classes=100):
    """The MIXSTD base temperature giving ``K`` classes the reference ceiling.

    ``max_z_score(K) / max_z_score(reference)``: with it, the sharpest target
    ``softmax(z / (tau * std(z)))`` on ``K`` classes reaches the top logit
    margin MIXSTD allows on the reference (CIFAR-100:
    ``((K - 1) / sqrt(K)) / (99 / 10)``).

    Args:
        num_classes: classes of your data, ``K >= 2``.
        reference_classes: classes of the reference data (100: CIFAR-100).

    Returns:
        A float: 0.2875 for 10 classes against CIFAR-100.

    Example:

    >>> round(ceiling_matching_temperature(10), 2)
    0.29
    """
    return max_z_score(num_classes) / max_z_score(reference_classes)


def scaled_logits(logits, temperature=1.0, ddof=1):
    """A MIXSTD student's logits as its softmax sees them: ``Z(z) / tau``.

    ``Z`` is the per-sample z-score; softmax is shift-invariant, so
    ``softmax(scaled_logits(z, tau))`` is ``softmax(z / (tau * std(z)))``,
    the distribution both MIXSTD terms train.

    Args:
        logits: ``(batch, classes)`` logits.
        temperature: base temperature tau > 0 (1: the official code).
        ddof: 1 (unbiased, as the official code) or 0.

    Returns:
        The scaled logits, same shape, at least float32.

    Example:

    >>> scaled_logits([[1.0, 2.0, 3.0]], temperature=0.5)  # [[-2., 0., 2.]]
    """
    _check_positive("temperature", temperature)
    return standardize_logits(logits, ddof) / temperature


def std_kd_per_sample(teacher_logits, student_logits, ddof=1,
                      temperature=1.0):
    """Per-sample `std_kd_divergence` (see there)."""
    _check_teacher_logits("std_kd_divergence", teacher_logits,
                          student_logits, "mixstd", "MixStdDistillationLoss")
    t = scaled_logits(teacher_logits, temperature, ddof)
    s = ops.cast(scaled_logits(student_logits, temperature, ddof), t.dtype)
    return _kl_per_sample(t, s)


def std_cross_entropy_per_sample(targets, student_logits, ddof=1,
                                 temperature=1.0):
    """Per-sample `std_cross_entropy` (see there)."""
    return _std_ce_per_sample(targets, student_logits, ddof, temperature,
                              "std_cross_entropy")


def _std_ce_per_sample(targets, student_logits, ddof, temperature, name):
    s = scaled_logits(student_logits, temperature, ddof)
    return _soft_ce_per_sample(_class_targets(name, targets, s), s)


def std_kd_divergence(teacher_logits, student_logits, ddof=1,
                      temperature=1.0):
    """The MIXSTD KD term: KL between std-scaled softmaxes (no weight, no T^2).

    ``mean_i KL(softmax(t_i / (tau std(t_i))) || softmax(s_i / (tau std(s_i))))``:
    each network's logits are divided by their own per-sample standard
    deviation, an adaptive temperature, times the base temperature ``tau``
    (1 in the official code; no ``tau^2`` factor at any ``tau``). The
    gradient flows through the student's std.

    Args:
        teacher_logits: ``(batch, classes)`` teacher logits.
        student_logits: ``(batch, classes)`` student logits.
        ddof: 1 (unbiased, as the official code) or 0.
        temperature: base temperature tau > 0; ``1 / tau`` is the earlier
            official ``scale_T``. Below 1 sharpens the targets (see the
            module docs for the ceiling on ``K`` classes).

    Returns:
        The scalar batch-mean divergence.

    Example:

    >>> 0.9 * std_kd_divergence(teacher_logits, student_logits)
    >>> std_kd_divergence(t, s, temperature=0.29)  # CIFAR-100's ceiling, K=10
    """
    return ops.mean(std_kd_per_sample(teacher_logits, student_logits, ddof,
                                      temperature))


def std_cross_entropy(targets, student_logits, ddof=1, temperature=1.0):
    """The MIXSTD CE term: soft-target cross-entropy of std-scaled logits.

    ``mean_i -sum_c y_ic * log_softmax(s_i / (tau std(s_i)))_c`` (no weight
    applied; ``tau = 1`` in the official code).

    Args:
        targets: ``(batch, classes)`` soft targets (mixed one-hot labels),
            or integer class indices of shape ``(batch,)`` or ``(batch, 1)``
            (one-hot encoded to the logits' width; an index outside
            ``[0, classes)`` gives that sample a NaN loss).
        student_logits: ``(batch, classes)`` student logits.
        ddof: 1 (unbiased, as the official code) or 0.
        temperature: base temperature tau > 0, as in `std_kd_divergence`.

    Returns:
        The scalar batch-mean cross-entropy.

    Example:

    >>> 0.1 * std_cross_entropy(mixed_labels, student_logits)
    """
    return ops.mean(std_cross_entropy_per_sample(targets, student_logits, ddof,
                                                 temperature))


@keras.saving.register_keras_serializable(package="keras_mixkd")
class StdKDDivergence(keras.losses.Loss):
    """The MIXSTD KD term `std_kd_divergence` as a Keras loss.

    ``y_true`` is the teacher's logits, ``y_pred`` the student's, of the
    same shape (anything else, e.g. the labels of a plain
    ``keras.Model.compile(loss=...)``, raises `ValueError`).

    Args:
        ddof: 1 (unbiased std, official) or 0.
        temperature: base temperature tau > 0 (1: the official code); each
            sample's temperature is ``tau * std(z)``.
        **kwargs: `keras.losses.Loss` arguments.

    Example:

    >>> StdKDDivergence()(teacher_logits, student_logits)
    >>> StdKDDivergence(temperature=0.29)(teacher_logits, student_logits)
    """

    def __init__(self, ddof=1, temperature=1.0, name="std_kd_divergence",
                 **kwargs):
        _check_ddof(ddof)
        _check_positive("temperature", temperature)
        super().__init__(name=name, **kwargs)
        self.ddof = int(ddof)
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        _check_teacher_logits("StdKDDivergence", y_true, y_pred, "mixstd",
                              "MixStdDistillationLoss")
        return std_kd_per_sample(y_true, y_pred, self.ddof, self.temperature)

    def get_config(self):
        return {**super().get_config(), "ddof": self.ddof,
                "temperature": self.temperature}


@keras.saving.register_keras_serializable(package="keras_mixkd")
class StdCrossEntropy(keras.losses.Loss):
    """The MIXSTD CE term `std_cross_entropy` as a Keras loss.

    ``y_true`` is soft (or one-hot) targets of ``y_pred``'s shape, or
    integer class indices of shape ``(batch,)`` or ``(batch, 1)``, one-hot
    encoded to ``y_pred``'s width (so it works in a plain
    ``keras.Model.compile(loss=...)`` on integer labels); ``y_pred`` is the
    student's logits. Targets of any other shape raise `ValueError`.

    Args:
        ddof: 1 (unbiased std, official) or 0.
        temperature: base temperature tau > 0 (1: the official code), the
            same as the KD term's.
        **kwargs: `keras.losses.Loss` arguments.

    Example:

    >>> StdCrossEntropy()(mixed_labels, student_logits)
    >>> model.compile(optimizer="sgd", loss=StdCrossEntropy())  # any labels
    """

    def __init__(self, ddof=1, temperature=1.0, name="std_cross_entropy",
                 **kwargs):
        _check_ddof(ddof)
        _check_positive("temperature", temperature)
        super().__init__(name=name, **kwargs)
        self.ddof = int(ddof)
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        return _std_ce_per_sample(y_true, y_pred, self.ddof,
                                  self.temperature, "StdCrossEntropy")

    def get_config(self):
        return {**super().get_config(), "ddof": self.ddof,
                "temperature": self.temperature}
