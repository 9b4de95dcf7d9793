"""Several teachers in one `Distiller`: their list and their loss weights.

With teachers ``t_1 ... t_n`` and weights ``w_i`` (equal by default,
normalised to sum to 1), the Distiller's KD term is ``sum_i w_i *
distillation_loss(t_i(x), s(x))`` on the same (mixed) batch ``x``: the
weighted mean of each teacher's KD term, so ``[t, t]`` is exactly the
single-teacher loss. Each teacher is frozen and runs in inference mode.
"""

import keras
from keras import ops

from keras_mixkd import _validation
from keras_mixkd.losses._common import per_sample
from keras_mixkd.models import folding


def as_list(teacher):
    """The teachers as a list: one model, or a list or tuple of models."""
    if isinstance(teacher, (list, tuple)):
        if not teacher:
            raise ValueError("`teacher` is an empty list: give at least one "
                             "trained keras.Model.")
        return list(teacher)
    return [teacher]


def role(index):
    """A teacher's name in messages: ``teacher``, then ``teacher 2``..."""
    return "teacher" if index == 0 else f"teacher {index + 1}"


def normalized_weights(weights, count):
    """Each teacher's weight in the KD term, summing to 1.

    Args:
        weights: None (equal weights) or one number >= 0 per teacher, not
            all 0.
        count: the number of teachers.

    Returns:
        A list of ``count`` floats summing to 1.

    Example:

    >>> normalized_weights([1, 3], 2)
    [0.25, 0.75]
    """
    if weights is None:
        return [1.0 / count] * count
    weights = [float(w) for w in weights]
    if len(weights) != count:
        raise ValueError(
            f"`teacher_loss_weights` has {len(weights)} value(s) for "
            f"{count} teacher(s): give one weight per teacher, or None for "
            "equal weights.")
    if any(not w >= 0 for w in weights) or not sum(weights) > 0:
        raise ValueError(
            f"`teacher_loss_weights` must be >= 0 and not all 0, got "
            f"{weights}.")
    return [w / sum(weights) for w in weights]


def check_teacher(student, teacher, role="teacher"):
    """One teacher against the student: one input, the student's input
    shape, as many logits.

    Raises:
        ValueError: naming the teacher's ``role`` and the fix.
    """
    _validation.check_single_input(teacher, role)
    _validation.check_same_input(student, teacher, role)
    widths = (_validation.output_width(student),
              _validation.output_width(teacher))
    if None not in widths and widths[0] != widths[1]:
        raise ValueError(
            f"The student outputs {widths[0]} logits but the {role} "
            f"outputs {widths[1]}: both must classify the same classes. "
            f"Build the student with the {role}'s number of classes.")


def check_models(student, teachers):
    """Checks each teacher: a `keras.Model` (else `TypeError` naming its
    role), then `check_teacher`.

    The same model may appear twice (``[t, t]`` trains as ``t`` alone)."""
    for index, teacher in enumerate(teachers):
        if not isinstance(teacher, keras.Model):
            raise TypeError(f"`{role(index)}` must be a keras.Model, got "
                            f"{type(teacher)}.")
        check_teacher(student, teacher, role(index))


def inference_copies(teachers, copies, teacher_dtype, fold_teacher, strategy,
                     keep=()):
    """Each teacher's inference copy (`folding.frozen_teacher`).

    Args:
        teachers: the frozen teachers.
        copies: the copies of a previous `fit` (synced and kept), or None.
        teacher_dtype, fold_teacher: the `Distiller`'s.
        strategy: the distribution strategy to create them under.
        keep: layers of the first teacher whose outputs are read (its
            feature terms).

    Returns:
        One `FrozenInference` or None (call the teacher itself) per teacher.
    """
    copies = copies or [None] * len(teachers)
    return [folding.frozen_teacher(teacher, teacher_dtype, fold_teacher,
                                   current, strategy,
                                   keep=keep if index == 0 else ())
            for index, (teacher, current) in enumerate(zip(teachers, copies))]


def frozen_logits(logits):
    """Teacher logits as the loss reads them: float32, without gradient."""
    return ops.stop_gradient(ops.cast(logits, "float32"))


def logits_of(teachers, copies, images):
    """Each teacher's `frozen_logits` of ``images``: through its inference
    copy, or the model itself in inference mode."""
    return [frozen_logits(copy(images) if copy is not None
                          else teacher(images, training=False))
            for teacher, copy in zip(teachers, copies)]


def weighted_kd(loss, weights, teachers_logits, student_logits, labels=None):
    """The KD term per row: ``sum_i w_i * loss(teacher_i, student)``.

    Args:
        loss: the distillation loss (a Keras loss of (teacher logits,
            student logits); with ``labels``, of ``{"teacher_logits",
            "labels"}``).
        weights: each teacher's weight (`normalized_weights`).
        teachers_logits: each teacher's logits, as the student's.
        student_logits: the student's logits.
        labels: the (mixed) one-hot labels for a label-aware loss, or None.

    Returns:
        A tensor of one value per row.

    Raises:
        ValueError: a teacher whose logits differ in shape from the
            student's.
    """
    kd = 0.0
    for weight, teacher_logits in zip(weights, teachers_logits):
        if tuple(teacher_logits.shape[1:]) != tuple(student_logits.shape[1:]):
            raise ValueError(
                f"Teacher logits have shape {teacher_logits.shape} but "
                f"student logits {student_logits.shape}; both models must "
                "output the same number of classes.")
        target = teacher_logits if labels is None else {
            "teacher_logits": teacher_logits, "labels": labels}
        kd = kd + weight * per_sample(loss, target, student_logits)
    return kd
