"""Decoupled knowledge distillation (DKD; Zhao et al., CVPR 2022).

DKD splits classic KD into a target-class part (TCKD: the binary
distribution "target class / all others") and a non-target part (NCKD: the
distribution among the other classes, renormalised), and weights them
independently: ``alpha * TCKD + beta * NCKD``, each times ``T^2``. The
defaults are mdistiller's (alpha 1, beta 8, T 4).

With mixed labels the "target class" is not one class. Following the DKD
authors' advice for mixup (mdistiller issue 13: TCKD over ``(p_t1, p_t2,
p_rest)``, NCKD over the classes other than t1 and t2), the target part
covers every class the label names: the *support* ``S`` of a label row is the
set of classes with a positive weight (one class for a one-hot label, two
for a mixed pair, one again for a sample mixed with itself or a clean row of
partial mixup), and

- TCKD is the KL between teacher and student of the ``(|S| + 1)``-way
  distribution ``(p_c for c in S, sum of the rest)``;
- NCKD is the KL of the distributions over the classes outside ``S``,
  renormalised.

The mixing weights themselves do not enter; only which classes are named.
With a one-hot label this is exactly mdistiller's ``dkd_loss``, and for any
support the chain rule of KL gives
``KD = TCKD + (1 - sum_{c in S} p_t[c]) * NCKD`` (p_t the teacher's
softened probabilities): DKD drops that weight and sets its own. Labels
smoothed over every class leave no class outside ``S``: NCKD is 0 and TCKD
is plain KD.

Not exposed: mdistiller's linear warm-up of the DKD term over the first 20
epochs (of 240). It is a schedule of the loss weight, not part of the loss;
`Distiller`'s ``kd_weight`` is a constant.
"""

import keras
from keras import ops

from keras_mixkd.losses._common import _as_float
from keras_mixkd.losses._common import _check_non_negative
from keras_mixkd.losses._common import _check_positive
from keras_mixkd.losses._common import _check_teacher_logits
from keras_mixkd.settings import KD_TEMPERATURE

#: Replaces masked-out logits: exp() of it is exactly 0 in float32 and float64,
#: and unlike -inf it never gives 0 * inf = NaN.
_MASKED = -1e9


def _support(labels, num_classes, dtype):
    """Boolean ``(batch, classes)`` mask of the classes each label names."""
    labels = ops.convert_to_tensor(labels)
    if len(labels.shape) == 1 or (len(labels.shape) == 2
                                  and labels.shape[-1] == 1):
        labels = ops.one_hot(ops.reshape(ops.cast(labels, "int32"), (-1,)),
                             num_classes, dtype=dtype)
    width = labels.shape[-1] if len(labels.shape) == 2 else None
    wrong_width = None not in (width, num_classes) and width != num_classes
    if len(labels.shape) != 2 or wrong_width:
        raise ValueError(
            f"DKD needs labels of shape (batch,) (integers) or (batch, "
            f"{num_classes}) (one-hot or mixed), got shape "
            f"{tuple(labels.shape)}.")
    return ops.cast(labels, dtype) > 0


def _kl_terms(log_p_teacher, log_p_student):
    return ops.exp(log_p_teacher) * (log_p_teacher - log_p_student)


def _tckd(log_p_teacher, log_p_student, support):
    """KL of the ``(p_c for c in support, p_rest)`` distributions."""
    def log_rest(log_p):
        return ops.logsumexp(ops.where(support, _MASKED, log_p), axis=-1)

    named = ops.sum(ops.where(support, _kl_terms(log_p_teacher, log_p_student),
                              0.0), axis=-1)
    rest_teacher, rest_student = log_rest(log_p_teacher), log_rest(
        log_p_student)
    return named + ops.exp(rest_teacher) * (rest_teacher - rest_student)


def _nckd(teacher_scaled, student_scaled, support):
    """KL of the distributions over the classes outside the support."""
    log_p_teacher = ops.log_softmax(
        ops.where(support, _MASKED, teacher_scaled), axis=-1)
    log_p_student = ops.log_softmax(
        ops.where(support, _MASKED, student_scaled), axis=-1)
    return ops.sum(ops.where(support, 0.0, _kl_terms(log_p_teacher,
                                                     log_p_student)), axis=-1)


def _check_weights(alpha, beta, temperature):
    _check_non_negative("alpha", alpha)
    _check_non_negative("beta", beta)
    _check_positive("temperature", temperature)


def dkd_per_sample(teacher_logits, student_logits, labels, alpha=1.0,
                   beta=8.0, temperature=KD_TEMPERATURE):
    """Per-sample `dkd_loss` (see there): a ``(batch,)`` tensor."""
    _check_weights(alpha, beta, temperature)
    t = _as_float(teacher_logits)
    s = ops.cast(_as_float(student_logits), t.dtype)
    _check_teacher_logits("dkd_loss", t, s, "dkd")
    support = _support(labels, t.shape[-1], t.dtype)
    t, s = t / temperature, s / temperature
    tckd = _tckd(ops.log_softmax(t, axis=-1), ops.log_softmax(s, axis=-1),
                 support)
    nckd = _nckd(t, s, support)
    return (alpha * tckd + beta * nckd) * temperature**2


def dkd_loss(teacher_logits, student_logits, labels, alpha=1.0, beta=8.0,
             temperature=KD_TEMPERATURE):
    """Decoupled KD: ``alpha * TCKD + beta * NCKD``, times ``T^2``, batch mean.

    With one-hot labels it equals mdistiller's ``dkd_loss``. With mixed
    labels the target part covers every class the label names (see the
    module docstring: a three-way split "class a, class b, the others").

    Args:
        teacher_logits: ``(batch, classes)`` teacher logits.
        student_logits: ``(batch, classes)`` student logits.
        labels: ``(batch,)`` integer labels, or ``(batch, classes)`` one-hot or
            mixed labels (the classes with a positive weight are the targets).
        alpha: weight of TCKD (mdistiller: 1).
        beta: weight of NCKD (mdistiller: 8 on CIFAR-100).
        temperature: softening temperature T > 0 (mdistiller: 4).

    Returns:
        The scalar batch-mean loss.

    Example:

    >>> dkd_loss(teacher_logits, student_logits, labels, beta=8.0)
    """
    return ops.mean(dkd_per_sample(teacher_logits, student_logits, labels,
                                   alpha, beta, temperature))


def _unpack_label_target(y_true, loss_name):
    """``(teacher_logits, labels)`` from a label-aware loss's ``y_true``."""
    if not (isinstance(y_true, dict)
            and {"teacher_logits", "labels"} <= set(y_true)):
        shape = getattr(y_true, "shape", None)
        got = type(y_true).__name__ + (
            "" if shape is None else f" of shape {tuple(shape)}")
        raise ValueError(
            f"{loss_name} needs the labels as well as the teacher's logits: "
            "call it with y_true={'teacher_logits': ..., 'labels': ...}, "
            f"got {got}. In a plain keras.Model.compile(loss=...) it would "
            "get the labels alone: distil with keras_mixkd.Distiller("
            "student=..., teacher=..., distillation_loss='dkd'), which "
            "passes both.")
    return y_true["teacher_logits"], y_true["labels"]


@keras.saving.register_keras_serializable(package="keras_mixkd")
class DKDLoss(keras.losses.Loss):
    """Decoupled KD `dkd_loss` as a Keras loss (label-aware).

    ``y_true`` is a dict ``{"teacher_logits": ..., "labels": ...}``, ``y_pred``
    the student's logits, of the teacher logits' shape (anything else, e.g.
    the labels alone of a plain ``keras.Model.compile(loss=...)``, raises
    `ValueError`). ``requires_labels`` tells the `Distiller` to pass
    the (mixed) labels of the batch. mdistiller pairs it with plain
    cross-entropy at weight 1 and a DKD weight of 1 (``ce_weight=1.0,
    kd_weight=1.0`` in the `Distiller`).

    Args:
        alpha: weight of TCKD.
        beta: weight of NCKD.
        temperature: softening temperature T > 0.
        **kwargs: `keras.losses.Loss` arguments (``reduction``, ``name``...).

    Example:

    >>> loss = DKDLoss(alpha=1.0, beta=8.0, temperature=4.0)
    >>> loss({"teacher_logits": t, "labels": y}, student_logits)
    """

    requires_labels = True

    def __init__(self, alpha=1.0, beta=8.0, temperature=KD_TEMPERATURE,
                 name="dkd_loss",
                 **kwargs):
        _check_weights(alpha, beta, temperature)
        super().__init__(name=name, **kwargs)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        teacher_logits, labels = _unpack_label_target(y_true, "DKDLoss")
        _check_teacher_logits("DKDLoss", teacher_logits, y_pred, "dkd")
        return dkd_per_sample(teacher_logits, y_pred, labels, self.alpha,
                              self.beta, self.temperature)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha,
                "beta": self.beta, "temperature": self.temperature}
