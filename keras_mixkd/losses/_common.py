"""Helpers shared by the distillation losses: dtypes, checks, KL, CE."""

import keras
from keras import ops

#: Added to the variance before the square root; 1e-14 is far below any real
#: logit variance but keeps a constant row (variance 0) finite, gradient too.
_VARIANCE_EPSILON = 1e-14


def _as_float(x):
    """Converts to a tensor of at least float32 precision (float64 is kept)."""
    x = ops.convert_to_tensor(x)
    if keras.backend.standardize_dtype(x.dtype) != "float64":
        x = ops.cast(x, "float32")
    return x


def _check_positive(name, value):
    if not value > 0:
        raise ValueError(
            f"`{name}` must be > 0, got {value}. It divides the logits; use "
            "for example 4.0 (classic KD) or 1.0 (no softening).")


def _check_non_negative(name, value):
    if not value >= 0:
        raise ValueError(f"`{name}` must be >= 0, got {value}.")


def _check_ddof(ddof):
    if ddof not in (0, 1):
        raise ValueError(
            f"`ddof` must be 0 (population std) or 1 (unbiased, as torch.std), "
            f"got {ddof}.")


def _kl_per_sample(teacher_logits, student_logits):
    """``KL(softmax(t) || softmax(s))`` per sample, from (scaled) logits."""
    log_p_teacher = ops.log_softmax(teacher_logits, axis=-1)
    log_p_student = ops.log_softmax(student_logits, axis=-1)
    return ops.sum(ops.exp(log_p_teacher) * (log_p_teacher - log_p_student),
                   axis=-1)


def _soft_ce_per_sample(targets, logits):
    return -ops.sum(targets * ops.log_softmax(logits, axis=-1), axis=-1)
