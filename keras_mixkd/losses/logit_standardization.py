"""Logit standardization (Sun et al., CVPR 2024): KD on z-scored logits.

Standard deviations default to ``ddof=1`` (``torch.std``'s unbiased estimate,
as the official MIX-KD code uses); ``ddof=0`` gives the population std of
``keras.ops.std``. Every std division is guarded: a constant logit row gives a
uniform distribution instead of NaN, and results on ordinary inputs are
unchanged to float64 precision.
"""

import keras
from keras import ops

from keras_mixkd.losses._common import _VARIANCE_EPSILON
from keras_mixkd.losses._common import _as_float
from keras_mixkd.losses._common import _check_ddof
from keras_mixkd.losses._common import _check_positive
from keras_mixkd.losses._common import _check_teacher_logits
from keras_mixkd.losses._common import _kl_per_sample


def standardize_logits(logits, ddof=1):
    """Z-scores logits per sample: ``(z - mean(z)) / std(z)`` over classes.

    Softmax is shift-invariant, so ``softmax(standardize_logits(z))`` equals
    the official ``softmax(z / std(z))``.

    Args:
        logits: tensor of shape ``(batch, classes)``.
        ddof: 1 for the unbiased std (``torch.std``), 0 for the population std.

    Returns:
        The standardized logits, same shape, at least float32.

    Example:

    >>> standardize_logits([[1.0, 2.0, 3.0]])  # [[-1., 0., 1.]]
    """
    _check_ddof(ddof)
    logits = _as_float(logits)
    num_classes = ops.cast(ops.shape(logits)[-1], logits.dtype)
    centered = logits - ops.mean(logits, axis=-1, keepdims=True)
    variance = ops.sum(ops.square(centered), axis=-1, keepdims=True) / (
        num_classes - ddof)
    return centered / ops.sqrt(variance + _VARIANCE_EPSILON)


def logit_standardization_per_sample(teacher_logits, student_logits,
                                     temperature=2.0, ddof=1):
    """Per-sample `logit_standardization_divergence` (see there)."""
    _check_positive("temperature", temperature)
    _check_teacher_logits("logit_standardization_divergence", teacher_logits,
                          student_logits, "ls",
                          "LogitStandardizationDistillationLoss")
    t = standardize_logits(teacher_logits, ddof)
    s = ops.cast(standardize_logits(student_logits, ddof), t.dtype)
    return _kl_per_sample(t / temperature, s / temperature) * temperature**2


def logit_standardization_divergence(teacher_logits, student_logits,
                                     temperature=2.0, ddof=1):
    """Logit Standardization KD (Sun et al., CVPR 2024).

    ``mean_i KL(softmax(Z(t_i) / tau) || softmax(Z(s_i) / tau)) * tau^2``,
    ``Z`` the per-sample z-score. With ``tau = 1`` it equals
    `std_kd_divergence`. The paper pairs it with plain CE on raw logits and a
    KD weight of 9.

    Args:
        teacher_logits: ``(batch, classes)`` teacher logits.
        student_logits: ``(batch, classes)`` student logits.
        temperature: base temperature tau > 0 (2 in Sun et al. on CIFAR).
        ddof: 1 (unbiased, as ``torch.std``) or 0.

    Returns:
        The scalar batch-mean divergence.

    Example:

    >>> 9.0 * logit_standardization_divergence(t, s, temperature=2.0)
    """
    return ops.mean(logit_standardization_per_sample(
        teacher_logits, student_logits, temperature, ddof))


#: Short alias of `logit_standardization_divergence`.
logit_standardization = logit_standardization_divergence


@keras.saving.register_keras_serializable(package="keras_mixkd")
class LogitStandardizationDivergence(keras.losses.Loss):
    """Logit Standardization KD `logit_standardization_divergence` as a loss.

    ``y_true`` is the teacher's logits, ``y_pred`` the student's, of the
    same shape (anything else, e.g. the labels of a plain
    ``keras.Model.compile(loss=...)``, raises `ValueError`).

    Args:
        temperature: base temperature tau > 0.
        ddof: 1 (unbiased std) or 0.
        **kwargs: `keras.losses.Loss` arguments.

    Example:

    >>> LogitStandardizationDivergence(temperature=2.0)(t_logits, s_logits)
    """

    def __init__(self, temperature=2.0, ddof=1,
                 name="logit_standardization_divergence", **kwargs):
        _check_positive("temperature", temperature)
        _check_ddof(ddof)
        super().__init__(name=name, **kwargs)
        self.temperature = float(temperature)
        self.ddof = int(ddof)

    def call(self, y_true, y_pred):
        _check_teacher_logits("LogitStandardizationDivergence", y_true,
                              y_pred, "ls",
                              "LogitStandardizationDistillationLoss")
        return logit_standardization_per_sample(
            y_true, y_pred, self.temperature, self.ddof)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature,
                "ddof": self.ddof}
