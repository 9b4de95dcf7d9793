"""Several teachers in one `Distiller`: their list and their loss weights.

With teachers ``t_1 ... t_n`` and weights ``w_i`` (equal by default,
normalised to sum to 1), the Distiller's KD term is ``sum_i w_i *
distillation_loss(t_i(x), s(x))`` on the same (mixed) batch ``x``: the
weighted mean of each teacher's KD term, so ``[t, t]`` is exactly the
single-teacher loss. Each teacher is frozen and runs in inference mode.
"""

import keras


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


def check_models(student, teachers, check_one):
    """Checks each teacher: a `keras.Model` (else `TypeError` naming its
    role), then ``check_one(student, teacher, role)``.

    The same model may appear twice (``[t, t]`` trains as ``t`` alone)."""
    for index, teacher in enumerate(teachers):
        if not isinstance(teacher, keras.Model):
            raise TypeError(f"`{role(index)}` must be a keras.Model, got "
                            f"{type(teacher)}.")
        check_one(student, teacher, role(index))
