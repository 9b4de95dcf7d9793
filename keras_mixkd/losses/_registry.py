"""Distillation losses by name: `get` and `available`."""

import keras

from keras_mixkd.losses._common import _check_positive
from keras_mixkd.losses.kd import KDDivergence
from keras_mixkd.losses.logit_standardization import (
    LogitStandardizationDivergence)
from keras_mixkd.losses.mixstd import StdCrossEntropy
from keras_mixkd.losses.mixstd import StdKDDivergence


def _cross_entropy():
    return keras.losses.CategoricalCrossentropy(from_logits=True)


_DISTILLATION = {
    # name: (distillation loss factory, default student loss factory)
    "mixstd": (lambda t: StdKDDivergence(), lambda: StdCrossEntropy()),
    "kd": (lambda t: KDDivergence(4.0 if t is None else t), _cross_entropy),
    "ls": (lambda t: LogitStandardizationDivergence(2.0 if t is None else t),
           _cross_entropy),
}


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
