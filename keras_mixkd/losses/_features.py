"""Helpers shared by the feature losses: checks, flattening, normalisation.

Feature losses take ``(teacher_feature, student_feature)`` like the logit
losses take ``(teacher_logits, student_logits)``. The checks run when a loss
is traced, so a wrong pair raises one `ValueError` naming the loss and the
fix instead of broadcasting or failing deep inside a reduction.
"""

from keras import ops

from keras_mixkd.losses._common import _as_float

#: ``torch.nn.functional.normalize``'s default epsilon: a row's norm is
#: clamped to at least this before the division.
NORMALIZE_EPSILON = 1e-12


def check_pair(loss_name, teacher_feature, student_feature, rank=None,
               same_shape=False, fix=""):
    """Converts a feature pair to float tensors after checking their shapes.

    Args:
        loss_name: the loss class's name, for the message.
        teacher_feature: the teacher's feature batch.
        student_feature: the student's feature batch.
        rank: the rank both must have (4 for NHWC maps), or None for any rank
            of at least 2 (a batch of vectors or maps).
        same_shape: whether the two must have the same shape.
        fix: a sentence appended to a shape mismatch's message.

    Returns:
        ``(teacher, student)`` as tensors of at least float32 precision
        (float64 is kept: the losses compute in float32 under mixed
        precision).
    """
    t = _as_float(teacher_feature)
    s = _as_float(student_feature)
    for role, x in (("teacher", t), ("student", s)):
        if rank is not None and len(x.shape) != rank:
            raise ValueError(
                f"{loss_name} takes feature maps of rank {rank} (batch, "
                f"height, width, channels); the {role}'s feature has shape "
                f"{tuple(x.shape)}. Pick a convolutional layer's output, not "
                "a pooled vector or the logits.")
        if len(x.shape) < 2:
            raise ValueError(
                f"{loss_name} takes a batch of features (rank >= 2); the "
                f"{role}'s feature has shape {tuple(x.shape)}.")
    if t.dtype != s.dtype:
        s = ops.cast(s, t.dtype)
    if same_shape and tuple(t.shape[1:]) != tuple(s.shape[1:]):
        raise ValueError(
            f"{loss_name} compares features of the same shape; the teacher's "
            f"is {tuple(t.shape[1:])} and the student's "
            f"{tuple(s.shape[1:])} (batch dimension left out). {fix}".strip())
    return t, s


def flatten(x):
    """Reshapes a batch of features to ``(batch, -1)``."""
    return ops.reshape(x, (ops.shape(x)[0], -1))


def l2_normalize(x, axis=-1):
    """``x / max(||x||_2, 1e-12)`` along ``axis`` (``F.normalize``).

    The clamp is applied under the square root, ``sqrt(max(sum x^2,
    eps^2))``: the same value, and a finite (zero) gradient for an all-zero
    row, where the square root's own gradient is infinite.
    """
    squared = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return x / ops.sqrt(ops.maximum(squared, NORMALIZE_EPSILON ** 2))
