"""Helpers shared by the distillation losses: dtypes, checks, KL, CE.

The shape checks run when a loss is traced: labels given where teacher
logits belong, or targets of the wrong width, raise a `ValueError` instead
of broadcasting against the logits.
"""

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


def _static_shape(x):
    """The static shape of ``x`` as a tuple, or None when its rank is unknown.

    TensorFlow can relax a retraced step's input to an unknown rank (one
    model fitted or evaluated on labels of several shapes).
    """
    try:
        return tuple(x.shape)
    except (TypeError, ValueError):
        return None


def _shapes_differ(a, b):
    """Whether two static shapes are known to differ (``None`` matches all)."""
    if a is None or b is None:
        return False
    if len(a) != len(b):
        return True
    return any(x is not None and y is not None and x != y
               for x, y in zip(a, b))


def _check_teacher_logits(loss_name, teacher_logits, student_logits,
                          registry_name, adapter=None):
    """Refuses ``y_true`` that is not teacher logits shaped as ``y_pred``.

    A divergence compares teacher logits with student logits; labels given
    instead (e.g. by a plain ``keras.Model.compile(loss=...)``) would
    otherwise broadcast against the logits, silently when the batch size
    equals the number of classes.

    Args:
        loss_name: the loss named in the error.
        teacher_logits: ``y_true``.
        student_logits: ``y_pred``.
        registry_name: the loss's name for ``Distiller(distillation_loss=)``.
        adapter: the `keras.distillation` loss wrapping it, if any.

    Raises:
        ValueError: at trace time, when the static shapes differ (not
            checked when a rank is unknown).
    """
    t_shape = _static_shape(ops.convert_to_tensor(teacher_logits))
    s_shape = _static_shape(ops.convert_to_tensor(student_logits))
    if not _shapes_differ(t_shape, s_shape):
        return
    keras_route = (f" or keras.distillation.Distiller(teacher, student, "
                   f"keras_mixkd.losses.{adapter}())" if adapter else "")
    raise ValueError(
        f"{loss_name} compares the teacher's logits (y_true) with the "
        f"student's logits (y_pred), which must have the same shape; got "
        f"y_true of shape {t_shape} and y_pred of shape {s_shape}. Labels "
        "are not teacher logits: in a plain keras.Model.compile(loss=...) "
        "a distillation loss would compare the labels with the logits. "
        "Distil with keras_mixkd.Distiller(student=..., teacher=..., "
        f"distillation_loss={registry_name!r}){keras_route}; to train on "
        "labels alone, use a cross-entropy (keras_mixkd.losses."
        "StdCrossEntropy, keras.losses.SparseCategoricalCrossentropy).")


def _one_hot_or_nan(labels, width, dtype):
    """One-hot rows of ``width``; NaN rows for labels not in the classes."""
    labels = ops.cast(labels, dtype)
    valid = ops.logical_and(
        ops.logical_and(labels >= 0, labels < ops.cast(width, dtype)),
        ops.equal(labels, ops.floor(labels)))
    indices = ops.cast(ops.where(valid, labels, 0), "int32")
    one_hot = ops.one_hot(indices, width, dtype=dtype)
    return ops.where(ops.expand_dims(valid, -1), one_hot,
                     ops.full_like(one_hot, float("nan")))


def _class_targets(loss_name, targets, logits):
    """Soft targets of the logits' shape from integer or one-hot labels.

    Integer (or integer-valued float) labels of shape ``(batch,)`` or
    ``(batch, 1)`` are one-hot encoded to the width of ``logits``; a label
    outside ``[0, classes)`` or not an integer gives a NaN row, hence a NaN
    loss for that sample rather than a silent zero. One-hot or soft targets
    of the logits' shape pass through. Targets of unknown rank are told
    apart by their size, and reshaped so that a mismatch fails at run time
    rather than broadcast.

    Args:
        loss_name: the loss named in the error.
        targets: ``y_true``.
        logits: ``y_pred``, ``(batch, classes)``.

    Returns:
        The targets, of the logits' dtype and shape.

    Raises:
        ValueError: at trace time, for targets of any other static shape.
    """
    targets = ops.convert_to_tensor(targets)
    t_shape, l_shape = _static_shape(targets), _static_shape(logits)
    if not l_shape:
        return ops.cast(targets, logits.dtype)
    width = l_shape[-1] if l_shape[-1] is not None else ops.shape(logits)[-1]
    if t_shape is None:
        return ops.cond(
            ops.equal(ops.size(targets), ops.size(logits)),
            lambda: ops.cast(ops.reshape(targets, ops.shape(logits)),
                             logits.dtype),
            lambda: _one_hot_or_nan(
                ops.reshape(targets, ops.shape(logits)[:-1]), width,
                logits.dtype))
    sparse = len(t_shape) == len(l_shape) - 1 or (
        len(t_shape) == len(l_shape) and t_shape[-1] == 1
        and l_shape[-1] != 1)
    if sparse:
        if len(t_shape) == len(l_shape):
            targets = ops.squeeze(targets, axis=-1)
        return _one_hot_or_nan(targets, width, logits.dtype)
    if _shapes_differ(t_shape, l_shape):
        raise ValueError(
            f"{loss_name} got targets (y_true) of shape {t_shape} for "
            f"logits (y_pred) of shape {l_shape}. Pass integer class "
            "indices of shape (batch,) or (batch, 1), or one-hot or soft "
            f"targets of shape (batch, {l_shape[-1]}).")
    return ops.cast(targets, logits.dtype)


def per_sample(loss, y_true, y_pred):
    """Per-sample float32 values of a Keras loss (or a plain function).

    A `keras.losses.Loss`'s ``call`` gives them unreduced; a function
    returning the batch mean has it repeated on every row.
    """
    values = loss.call(y_true, y_pred) if isinstance(
        loss, keras.losses.Loss) else loss(y_true, y_pred)
    values = ops.cast(values, "float32")
    if len(values.shape) == 0:
        values = ops.broadcast_to(values, ops.shape(y_pred)[:1])
    return values
