"""Distillation losses: classic KD, MIXSTD and logit standardization.

Each loss exists as a function returning the batch mean (the official code's
reduction, which external parity checks call) and as a serializable
`keras.losses.Loss` class returning per-sample values, so Keras applies sample
weights and its own reduction.

Convention for the KD losses: the first argument is the teacher's logits (the
"target" distribution), the second the student's logits, matching
``loss(y_true, y_pred)``.

Standard deviations default to ``ddof=1`` (``torch.std``'s unbiased estimate,
as the official code uses); ``ddof=0`` gives the population std of
``keras.ops.std``. Every std division is guarded: a constant logit row gives a
uniform distribution instead of NaN, and results on ordinary inputs are
unchanged to float64 precision.
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


def _check_ddof(ddof, num_classes=None):
    if ddof not in (0, 1):
        raise ValueError(
            f"`ddof` must be 0 (population std) or 1 (unbiased, as torch.std), "
            f"got {ddof}.")


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


def _kl_per_sample(teacher_logits, student_logits):
    """``KL(softmax(t) || softmax(s))`` per sample, from (scaled) logits."""
    log_p_teacher = ops.log_softmax(teacher_logits, axis=-1)
    log_p_student = ops.log_softmax(student_logits, axis=-1)
    return ops.sum(ops.exp(log_p_teacher) * (log_p_teacher - log_p_student),
                   axis=-1)


def _soft_ce_per_sample(targets, logits):
    return -ops.sum(targets * ops.log_softmax(logits, axis=-1), axis=-1)


def kd_per_sample(teacher_logits, student_logits, temperature=4.0):
    """Per-sample `kd_divergence` (see there)."""
    _check_positive("temperature", temperature)
    t = _as_float(teacher_logits)
    s = ops.cast(_as_float(student_logits), t.dtype)
    return _kl_per_sample(t / temperature, s / temperature) * temperature**2


def logit_standardization_per_sample(teacher_logits, student_logits,
                                     temperature=2.0, ddof=1):
    """Per-sample `logit_standardization_divergence` (see there)."""
    _check_positive("temperature", temperature)
    t = standardize_logits(teacher_logits, ddof)
    s = ops.cast(standardize_logits(student_logits, ddof), t.dtype)
    return _kl_per_sample(t / temperature, s / temperature) * temperature**2


def std_kd_per_sample(teacher_logits, student_logits, ddof=1):
    """Per-sample `std_kd_divergence` (see there)."""
    return logit_standardization_per_sample(
        teacher_logits, student_logits, temperature=1.0, ddof=ddof)


def std_cross_entropy_per_sample(targets, student_logits, ddof=1):
    """Per-sample `std_cross_entropy` (see there)."""
    s = standardize_logits(student_logits, ddof)
    return _soft_ce_per_sample(ops.cast(targets, s.dtype), s)


def kd_divergence(teacher_logits, student_logits, temperature=4.0):
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


def cross_entropy_per_sample(targets, student_logits):
    """Per-sample soft-target cross-entropy on raw logits."""
    s = _as_float(student_logits)
    return _soft_ce_per_sample(ops.cast(targets, s.dtype), s)


@keras.saving.register_keras_serializable(package="keras_mixkd")
class KDDivergence(keras.losses.Loss):
    """Classic KD loss `kd_divergence` as a Keras loss.

    ``y_true`` is the teacher's logits, ``y_pred`` the student's.

    Args:
        temperature: softening temperature T > 0.
        **kwargs: `keras.losses.Loss` arguments (``reduction``, ``name``...).

    Example:

    >>> loss = KDDivergence(temperature=4.0)
    >>> loss(teacher_logits, student_logits)
    """

    def __init__(self, temperature=4.0, name="kd_divergence", **kwargs):
        _check_positive("temperature", temperature)
        super().__init__(name=name, **kwargs)
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        return kd_per_sample(y_true, y_pred, self.temperature)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


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


@keras.saving.register_keras_serializable(package="keras_mixkd")
class LogitStandardizationDivergence(keras.losses.Loss):
    """Logit Standardization KD `logit_standardization_divergence` as a loss.

    ``y_true`` is the teacher's logits, ``y_pred`` the student's.

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
        return logit_standardization_per_sample(
            y_true, y_pred, self.temperature, self.ddof)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature,
                "ddof": self.ddof}


def _cross_entropy():
    return keras.losses.CategoricalCrossentropy(from_logits=True)


_DISTILLATION = {
    # name: (distillation loss factory, default student loss factory)
    "mixstd": (lambda t: StdKDDivergence(), lambda: StdCrossEntropy()),
    "kd": (lambda t: KDDivergence(4.0 if t is None else t), _cross_entropy),
    "ls": (lambda t: LogitStandardizationDivergence(2.0 if t is None else t),
           _cross_entropy),
}


def available():
    """The names `get` resolves, e.g. ``["kd", "ls", "mixstd"]``."""
    return sorted(_DISTILLATION)


def get(identifier, temperature=None):
    """Resolves a distillation loss and the student loss that goes with it.

    Args:
        identifier: ``"mixstd"`` (the paper: std-scaled KD and std-scaled CE),
            ``"kd"`` (classic KD, temperature 4 unless given, plain CE) or
            ``"ls"`` (logit standardization, tau 2 unless given, plain CE);
            or a loss called ``loss.call(teacher_logits, student_logits)``
            returning per-sample values (a `keras.losses.Loss`), or a config
            dict.
        temperature: temperature for ``"kd"`` and ``"ls"``; an error for the
            others, where it would be silently ignored.

    Returns:
        A pair ``(distillation_loss, default_student_loss)``; the latter is
        ``None`` for a loss object (use plain cross-entropy).

    Example:

    >>> kd_loss, ce_loss = keras_mixkd.losses.get("kd", temperature=1.0)
    """
    if isinstance(identifier, str):
        if identifier.lower() not in _DISTILLATION:
            raise ValueError(
                f"Unknown distillation loss {identifier!r}. Use one of "
                f"{sorted(_DISTILLATION)} or pass a keras.losses.Loss.")
        if temperature is not None:
            _check_positive("temperature", temperature)
            if identifier.lower() == "mixstd":
                raise ValueError(
                    "`temperature` does not apply to 'mixstd', whose "
                    "temperature is each sample's logit std. Use 'kd' or "
                    "'ls' for a fixed temperature.")
        make_kd, make_ce = _DISTILLATION[identifier.lower()]
        return make_kd(temperature), make_ce()
    if temperature is not None:
        raise ValueError(
            "`temperature` applies only to the named losses 'kd' and 'ls'; "
            "set it on your loss object instead.")
    if isinstance(identifier, dict):
        identifier = keras.saving.deserialize_keras_object(identifier)
    if not callable(identifier):
        raise TypeError(
            f"A distillation loss must be a name or a loss; got {identifier!r}.")
    return identifier, None
