"""Distillation losses by name: `get`, `available`, `requires_labels`, and
what each trains its student to output (`student_loss`, `training_losses`).

This registry is the one home of that fact: each named loss declares the
loss on the student's own outputs that its CE term uses, and so the
probabilities its student is trained to produce (`StdCrossEntropy`:
``softmax(z / (tau * std(z)))``; plain cross-entropy: ``softmax(z)``).
Analysis, experiments and export ask `student_loss`.
"""

import keras

from keras_mixkd.losses._common import _check_positive
from keras_mixkd.losses.dist import DISTLoss
from keras_mixkd.losses.dkd import DKDLoss
from keras_mixkd.losses.kd import KDDivergence
from keras_mixkd.losses.logit_standardization import (
    LogitStandardizationDivergence)
from keras_mixkd.losses.mixstd import StdCrossEntropy
from keras_mixkd.losses.mixstd import StdKDDivergence
from keras_mixkd.settings import KD_TEMPERATURE


def _cross_entropy():
    return keras.losses.CategoricalCrossentropy(from_logits=True)


def _with_temperature(cls, default):
    return lambda t: cls(temperature=default if t is None else t)


def _plain(temperature):
    """Plain CE on raw logits, whatever the KD term's temperature."""
    del temperature
    return _cross_entropy()


#: The name of "trained alone, with cross-entropy on its raw logits".
TRAINED_ALONE = "ce"

_DISTILLATION = {
    # name: (distillation loss factory of the temperature, student loss
    # factory of the temperature); the order is the one `available` reports.
    "mixstd": (_with_temperature(StdKDDivergence, 1.0),
               _with_temperature(StdCrossEntropy, 1.0)),
    "kd": (_with_temperature(KDDivergence, KD_TEMPERATURE), _plain),
    "ls": (_with_temperature(LogitStandardizationDivergence, 2.0), _plain),
    "dkd": (_with_temperature(DKDLoss, KD_TEMPERATURE), _plain),
    "dist": (_with_temperature(DISTLoss, 1.0), _plain),
}



def available():
    """Names of the distillation losses `get` (and the `Distiller`) accept.

    Returns:
        A list of names: ``["mixstd", "kd", "ls", "dkd", "dist"]``.

    Example:

    >>> "dkd" in keras_mixkd.losses.available()
    True
    """
    return list(_DISTILLATION)


def training_losses():
    """Names that say what a network was trained to output: ``"ce"`` (a
    network trained alone) and every distillation loss of `available`.

    Returns:
        ``["ce", "mixstd", "kd", "ls", "dkd", "dist"]``.
    """
    return [TRAINED_ALONE, *available()]


def student_loss(name, temperature=None):
    """The loss a named method trains its student's own outputs with: what
    the student is trained to produce.

    Args:
        name: one of `training_losses` (``"ce"`` or None: trained alone).
        temperature: the run's temperature (None: the loss's default); only
            MIXSTD's changes its student's outputs (base temperature tau).

    Returns:
        A `keras.losses.Loss`: `StdCrossEntropy` for ``"mixstd"`` (at its
        temperature), plain cross-entropy on the logits for the others.

    Raises:
        ValueError: on an unknown name.

    Example:

    >>> student_loss("mixstd", 0.5).temperature
    0.5
    """
    name = TRAINED_ALONE if name is None else str(name).lower()
    if name == TRAINED_ALONE:
        return _cross_entropy()
    if name not in _DISTILLATION:
        raise ValueError(
            f"Unknown training loss {name!r}: use one of "
            f"{training_losses()} ('ce' for a network trained alone).")
    if temperature is not None:
        _check_positive("temperature", temperature)
    return _DISTILLATION[name][1](temperature)


def requires_labels(loss):
    """Whether a distillation loss needs the batch's labels (e.g. DKD).

    Such a loss declares ``requires_labels = True`` and is called as
    ``loss.call({"teacher_logits": ..., "labels": ...}, student_logits)``.

    Args:
        loss: a distillation loss (object or function).

    Returns:
        A bool.
    """
    return bool(getattr(loss, "requires_labels", False))


def get(identifier, temperature=None):
    """Resolves a distillation loss: a name, a loss object or its config.

    Args:
        identifier: one of `available()`: ``"mixstd"`` (the paper:
            std-scaled KD and std-scaled CE, both at base temperature 1
            unless given), ``"kd"`` (classic KD,
            temperature 4 unless given), ``"ls"`` (logit standardization,
            tau 2 unless given), ``"dkd"`` (decoupled KD, alpha 1, beta 8,
            T 4 unless given; label-aware) or ``"dist"`` (DIST, beta = gamma
            = 1, T 1 unless given), all but ``"mixstd"`` with plain CE; or a
            loss called ``loss.call(teacher_logits, student_logits)``
            returning per-sample values (a `keras.losses.Loss`; see
            `requires_labels` for one that needs the labels), or a config
            dict.
        temperature: temperature of ``"kd"``, ``"ls"``, ``"dkd"`` and
            ``"dist"``, or MIXSTD's base temperature tau (each sample's
            temperature is ``tau * std(z)``, in both of its terms); None:
            the loss's default. An error with a loss object, where it would
            be silently ignored.

    Returns:
        The distillation loss, as `keras.losses.get` returns one loss. The
        loss a named method trains its student's own outputs with is
        `student_loss`'s.

    Example:

    >>> kd_loss = keras_mixkd.losses.get("kd", temperature=1.0)
    >>> kd_loss = keras_mixkd.losses.get("mixstd", temperature=0.29)
    >>> ce_loss = keras_mixkd.losses.student_loss("mixstd", 0.29)
    """
    if isinstance(identifier, str):
        name = identifier.lower()
        if name not in _DISTILLATION:
            raise ValueError(
                f"Unknown distillation loss {identifier!r}. Use one of "
                f"{available()} or pass a keras.losses.Loss.")
        if temperature is not None:
            _check_positive("temperature", temperature)
        return _DISTILLATION[name][0](temperature)
    if temperature is not None:
        raise ValueError(
            f"`temperature` applies only to the named losses {available()}"
            "; set it on your loss object instead.")
    if isinstance(identifier, dict):
        identifier = keras.saving.deserialize_keras_object(identifier)
    if not callable(identifier):
        raise TypeError(
            f"A distillation loss must be a name or a loss; got {identifier!r}.")
    return identifier
