"""Classic knowledge distillation (Hinton et al.; RepDistiller's ``DistillKL``)."""

import keras
from keras import ops

from keras_mixkd.losses._common import _as_float
from keras_mixkd.losses._common import _check_positive
from keras_mixkd.losses._common import _check_teacher_logits
from keras_mixkd.losses._common import _kl_per_sample
from keras_mixkd.losses._common import _soft_ce_per_sample
from keras_mixkd.settings import KD_TEMPERATURE


def kd_per_sample(teacher_logits, student_logits,
                  temperature=KD_TEMPERATURE):
    """Per-sample `kd_divergence` (see there)."""
    _check_positive("temperature", temperature)
    t = _as_float(teacher_logits)
    s = ops.cast(_as_float(student_logits), t.dtype)
    _check_teacher_logits("kd_divergence", t, s, "kd", "KDDistillationLoss")
    return _kl_per_sample(t / temperature, s / temperature) * temperature**2


def kd_divergence(teacher_logits, student_logits,
                  temperature=KD_TEMPERATURE):
    """Classic KD (RepDistiller's ``DistillKL``): temperature-softened KL.

    ``mean_i KL(softmax(t_i / T) || softmax(s_i / T)) * T^2``.

    Args:
        teacher_logits: ``(batch, classes)`` teacher logits.
        student_logits: ``(batch, classes)`` student logits.
        temperature: softening temperature T > 0 (RepDistiller uses 4).

    Returns:
        The scalar batch-mean divergence.

    Example:

    >>> kd_divergence(teacher_logits, student_logits, temperature=4.0)
    """
    return ops.mean(kd_per_sample(teacher_logits, student_logits, temperature))


def cross_entropy_per_sample(targets, student_logits):
    """Per-sample soft-target cross-entropy on raw logits."""
    s = _as_float(student_logits)
    return _soft_ce_per_sample(ops.cast(targets, s.dtype), s)


@keras.saving.register_keras_serializable(package="keras_mixkd")
class KDDivergence(keras.losses.Loss):
    """Classic KD loss `kd_divergence` as a Keras loss.

    ``y_true`` is the teacher's logits, ``y_pred`` the student's, of the
    same shape (anything else, e.g. the labels of a plain
    ``keras.Model.compile(loss=...)``, raises `ValueError`).

    Args:
        temperature: softening temperature T > 0.
        **kwargs: `keras.losses.Loss` arguments (``reduction``, ``name``...).

    Example:

    >>> loss = KDDivergence(temperature=4.0)
    >>> loss(teacher_logits, student_logits)
    """

    def __init__(self, temperature=KD_TEMPERATURE, name="kd_divergence",
                 **kwargs):
        _check_positive("temperature", temperature)
        super().__init__(name=name, **kwargs)
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        _check_teacher_logits("KDDivergence", y_true, y_pred, "kd",
                              "KDDistillationLoss")
        return kd_per_sample(y_true, y_pred, self.temperature)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
