"""Temperature scaling (Guo et al., 2017): one scalar T fitted on held-out data.

``softmax(logits / T)`` with the T that minimises the negative log-likelihood
of held-out labels. The NLL is convex in ``1 / T``, so it has one minimum
along ``log T``, which a bounded Brent search finds.
"""

import warnings

import numpy as np
from scipy import optimize

from keras_mixkd.analysis._utils import as_2d
from keras_mixkd.analysis._utils import log_softmax
from keras_mixkd.analysis._utils import one_hot_labels
from keras_mixkd.analysis._utils import softmax


def _check_temperature(temperature):
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(
            f"`temperature` must be a finite number > 0, got {temperature}.")


def _nll(logits, targets, temperature):
    return float(np.mean(-np.sum(targets * log_softmax(logits / temperature),
                                 axis=1)))


def fit_temperature(logits, labels, bounds=(1e-3, 1e3)):
    """The temperature T minimising the NLL of ``softmax(logits / T)``.

    Fit it on held-out data (a validation split), not on the data it will
    be evaluated on.

    Args:
        logits: ``(samples, classes)`` logits (for a MIXSTD student, its
            `trained_logits`).
        labels: ``(samples,)`` integer labels or ``(samples, classes)``
            one-hot (or soft) labels.
        bounds: the search interval ``(low, high)`` of T, ``0 < low < high``.
            An optimum at a bound (e.g. perfectly separated data, whose NLL
            falls as T goes to 0) is returned with a warning.

    Returns:
        T, a float.

    Example:

    >>> t = fit_temperature(val_logits, val_labels)
    >>> probs = apply_temperature(test_logits, t)
    """
    logits = as_2d("logits", logits)
    targets = one_hot_labels(labels, logits.shape[1], len(logits))
    low, high = (float(b) for b in bounds)
    if not 0 < low < high or not np.isfinite(high):
        raise ValueError(
            f"`bounds` must be (low, high) with 0 < low < high, got {bounds}.")
    result = optimize.minimize_scalar(
        lambda log_t: _nll(logits, targets, np.exp(log_t)),
        bounds=(np.log(low), np.log(high)), method="bounded",
        options={"xatol": 1e-9})
    temperature = float(np.exp(result.x))
    # The search never evaluates the bounds themselves, and stops early on
    # a numerically flat NLL: a bound at least as good is the answer.
    best = _nll(logits, targets, temperature)
    at_bound = [b for b in (low, high) if _nll(logits, targets, b) <= best]
    if at_bound:
        temperature = at_bound[0]
        warnings.warn(
            f"The fitted temperature {temperature:.4g} lies at a bound of "
            f"{bounds}: the NLL keeps falling beyond it (are the held-out "
            "predictions all correct?). Widen `bounds` or use more data.",
            stacklevel=2)
    return temperature


def apply_temperature(logits, temperature):
    """``softmax(logits / temperature)`` as float64 probabilities.

    Args:
        logits: ``(samples, classes)`` logits.
        temperature: T > 0, e.g. from `fit_temperature`.

    Returns:
        A float64 ``(samples, classes)`` array of probabilities.

    Example:

    >>> probs = apply_temperature(test_logits, fit_temperature(val_z, val_y))
    """
    _check_temperature(temperature)
    return softmax(as_2d("logits", logits) / float(temperature))
