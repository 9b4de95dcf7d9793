"""The probabilities a network was trained to produce, from its logits.

A network trained with cross-entropy on its raw logits (plain training,
classic KD, logit standardization, DKD, DIST: their CE term is on the raw
logits) was trained to output ``softmax(logits)``. A MIXSTD student was not:
both of its loss terms use ``softmax(logits / (tau * std(logits)))`` (per
sample, std over classes, unbiased; tau the base temperature, 1 unless the
run set ``temperature``), so its raw logits have a free scale and
``softmax(logits)`` can be nearly uniform at high accuracy. Smoothness,
calibration and exported probabilities compare like with like only on the
distribution each network was trained to produce.
"""

import keras
import numpy as np

from keras_mixkd import losses
from keras_mixkd.analysis._utils import as_2d
from keras_mixkd.analysis._utils import softmax

def training_loss(loss, temperature=None):
    """The ``loss`` argument of this module for a run's loss and temperature.

    A MIXSTD student trained at base temperature ``tau`` outputs
    ``softmax(z / (tau * std(z)))``: for ``"mixstd"`` with a temperature
    other than 1 this is the student loss that trained it
    (`keras_mixkd.losses.student_loss`, a `StdCrossEntropy` with that
    temperature). Other losses train ``softmax(logits)`` whatever their
    temperature, and are returned by name.

    Args:
        loss: the run's loss name (``"mixstd"``, ``"kd"``... ``"ce"`` or
            None for a network trained alone), as in a ``config.json``.
        temperature: the run's ``temperature`` (None: the loss's default).

    Returns:
        ``loss`` itself, or a `StdCrossEntropy` for MIXSTD at tau != 1.

    Example:

    >>> trained_probabilities(logits, training_loss("mixstd", 0.5))
    """
    if not isinstance(loss, str):
        return loss
    trained = losses.student_loss(loss, temperature)
    if getattr(trained, "temperature", 1.0) != 1.0:
        return trained
    return loss


def _standardization(loss):
    """``(ddof, temperature)`` if ``loss`` trains standardized logits, else
    None. A name is resolved by the loss registry
    (`keras_mixkd.losses.student_loss`), the one place that says what each
    loss trains."""
    if loss is None:
        return None
    if isinstance(loss, str):
        loss = losses.student_loss(loss)
    if isinstance(loss, losses.StdCrossEntropy):
        return loss.ddof, loss.temperature
    if isinstance(loss, keras.losses.CategoricalCrossentropy):
        return None
    raise TypeError(
        f"Cannot tell what {type(loss).__name__} trains the student to output;"
        " pass a loss name (e.g. 'mixstd' or 'kd') instead.")


def trained_logits(logits, loss=None):
    """The logits whose softmax the network was trained to produce.

    Args:
        logits: ``(samples, classes)`` raw logits of the network.
        loss: how the network was trained: ``"mixstd"`` (the paper's
            losses at base temperature 1), ``"kd"``, ``"ls"``, ``"dkd"``,
            ``"dist"``, ``"ce"`` or None (trained alone); or the student
            loss object (`keras_mixkd.losses.StdCrossEntropy` standardizes,
            with its ``ddof`` and ``temperature``;
            `keras.losses.CategoricalCrossentropy` does not). For a MIXSTD
            run with a temperature use `training_loss`.

    Returns:
        A float64 ``(samples, classes)`` array: the logits themselves, or for
        MIXSTD the z-scored logits divided by the base temperature,
        ``(z - mean z) / (tau * std(z))`` (softmax is shift-invariant, so
        their softmax is ``softmax(z / (tau * std(z)))``).

    Example:

    >>> trained_logits([[2.0, 4.0, 6.0]], "mixstd")  # [[-1., 0., 1.]]
    """
    logits = as_2d("logits", logits)
    standardization = _standardization(loss)
    if standardization is None:
        return logits
    ddof, temperature = standardization
    return np.asarray(losses.scaled_logits(logits, temperature, ddof),
                      "float64")


def trained_probabilities(logits, loss=None):
    """The probabilities the network was trained to produce.

    ``softmax(logits)`` for a network trained with CE on its raw logits
    (``"ce"``/None, ``"kd"``, ``"ls"``, ``"dkd"``, ``"dist"``);
    ``softmax(logits / std(logits, ddof=1))`` for ``"mixstd"``, and
    ``softmax(logits / (tau * std(logits, ddof=1)))`` for a MIXSTD student
    trained at base temperature tau (``training_loss("mixstd", tau)``).

    Args:
        logits: ``(samples, classes)`` raw logits of the network.
        loss: how the network was trained (see `trained_logits`).

    Returns:
        A float64 ``(samples, classes)`` array of probabilities.

    Example:

    >>> trained_probabilities(student_logits, "mixstd")
    """
    return softmax(trained_logits(logits, loss))


def describe(loss=None):
    """A formula naming the probabilities `trained_probabilities` returns.

    Args:
        loss: how the network was trained (see `trained_logits`).

    Returns:
        ``"softmax(logits)"``, ``"softmax(logits / std(logits, ddof=1))"``
        or, at a base temperature other than 1,
        ``"softmax(logits / (0.5 * std(logits, ddof=1)))"``.

    Example:

    >>> describe("mixstd")
    'softmax(logits / std(logits, ddof=1))'
    """
    standardization = _standardization(loss)
    if standardization is None:
        return "softmax(logits)"
    ddof, temperature = standardization
    if temperature == 1.0:
        return f"softmax(logits / std(logits, ddof={ddof}))"
    return f"softmax(logits / ({temperature:g} * std(logits, ddof={ddof})))"
