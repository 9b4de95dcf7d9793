"""Calibration of predicted probabilities: ECE, NLL, Brier score, reliability.

Every function takes ``labels`` (integer classes, or one-hot rows) and
``probs``, a ``(samples, classes)`` array of probabilities: apply a softmax
to logits first (`keras.ops.softmax`, or `keras_mixkd.analysis.softmax`),
or use the probabilities the network was trained to produce
(`trained_probabilities`). `calibration_summary` reports all three measures
on the raw softmax, the trained probabilities and after a temperature fitted
on held-out data.
"""

import numpy as np

from keras_mixkd.analysis import smoothness
from keras_mixkd.analysis import temperature_scaling
from keras_mixkd.analysis import trained_outputs
from keras_mixkd.analysis._utils import as_2d
from keras_mixkd.analysis._utils import integer_labels
from keras_mixkd.analysis._utils import one_hot_labels
from keras_mixkd.analysis._utils import softmax

#: Rows of ``probs`` must sum to 1 within this tolerance.
_SUM_TOLERANCE = 1e-3


def _check_probs(probs):
    probs = as_2d("probs", probs)
    row_sums = probs.sum(axis=1)
    if probs.min() < 0 or np.abs(row_sums - 1.0).max() > _SUM_TOLERANCE:
        raise ValueError(
            "`probs` must hold probabilities (non-negative rows summing to "
            f"1); got values in [{probs.min():.3g}, {probs.max():.3g}] and row "
            f"sums in [{row_sums.min():.3g}, {row_sums.max():.3g}]. For "
            "logits, pass softmax(logits).")
    return probs


def _check_bins(num_bins):
    if int(num_bins) != num_bins or num_bins < 1:
        raise ValueError(
            f"`num_bins` must be a positive integer, got {num_bins}.")
    return int(num_bins)


def calibration_bins(labels, probs, num_bins=15):
    """Per-bin accuracy, mean confidence and count over equal-width bins.

    Bins split the confidence range ``(0, 1]`` into ``num_bins`` equal
    intervals ``(lo, hi]``; a sample falls into the bin holding its
    confidence (largest probability), and is correct when that class is its
    label.

    Args:
        labels: ``(N,)`` integer labels or ``(N, C)`` one-hot labels.
        probs: ``(N, C)`` predicted probabilities.
        num_bins: number of equal-width bins.

    Returns:
        A dict of numpy arrays: ``edges`` (``num_bins + 1``), ``accuracy``,
        ``confidence`` (NaN for empty bins) and ``counts`` (``num_bins``).

    Example:

    >>> bins = calibration_bins(y_test, probs, num_bins=10)
    """
    probs = _check_probs(probs)
    num_bins = _check_bins(num_bins)
    labels = integer_labels(labels, len(probs))
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype("float64")
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    # Bin b is (edges[b], edges[b + 1]]: the first upper edge >= conf.
    index = np.minimum(np.searchsorted(edges[1:], conf, side="left"),
                       num_bins - 1)
    counts = np.bincount(index, minlength=num_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(index, correct, num_bins) / counts
        mean_conf = np.bincount(index, conf, num_bins) / counts
    return {"edges": edges, "accuracy": accuracy, "confidence": mean_conf,
            "counts": counts}


def _ece_from_bins(bins):
    filled = bins["counts"] > 0
    weights = bins["counts"][filled] / bins["counts"].sum()
    gaps = np.abs(bins["accuracy"][filled] - bins["confidence"][filled])
    return float(np.sum(weights * gaps))


def expected_calibration_error(labels, probs, num_bins=15):
    """Expected calibration error (ECE) with equal-width confidence bins.

    ``ECE = sum_b |B_b| / N * |acc(B_b) - conf(B_b)|`` over ``num_bins``
    equal-width bins ``(lo, hi]`` of ``(0, 1]``, where ``B_b`` holds the
    samples whose confidence (largest probability) falls in bin b, ``acc``
    is their top-1 accuracy and ``conf`` their mean confidence (Guo et al.,
    2017). 0 is perfectly calibrated.

    Args:
        labels: ``(N,)`` integer labels or ``(N, C)`` one-hot labels.
        probs: ``(N, C)`` predicted probabilities (not logits).
        num_bins: number of bins (15 is the usual choice).

    Returns:
        The ECE, a float in ``[0, 1]``.

    Example:

    >>> expected_calibration_error(y_test, softmax(logits), num_bins=15)
    """
    return _ece_from_bins(calibration_bins(labels, probs, num_bins))


def negative_log_likelihood(labels, probs, epsilon=1e-12):
    """Mean negative log-likelihood (cross-entropy) of the labels, in nats.

    ``mean_i -sum_c y_ic * log(p_ic)``, i.e. ``mean_i -log p_i[label_i]`` for
    integer or one-hot labels. Probabilities are clipped to ``epsilon`` so
    a zero probability on the true class gives a large finite value.

    Args:
        labels: ``(N,)`` integer labels or ``(N, C)`` one-hot (or soft) labels.
        probs: ``(N, C)`` predicted probabilities.
        epsilon: lower clip of the probabilities.

    Returns:
        The mean NLL, a float.

    Example:

    >>> negative_log_likelihood(y_test, softmax(logits))
    """
    probs = _check_probs(probs)
    targets = one_hot_labels(labels, probs.shape[1], len(probs))
    log_probs = np.log(np.clip(probs, epsilon, 1.0))
    return float(np.mean(-np.sum(targets * log_probs, axis=1)))


def brier_score(labels, probs):
    """Multi-class Brier score: mean over samples of the summed squared error.

    ``mean_i sum_c (p_ic - y_ic)^2`` with one-hot ``y``: the sum runs over
    classes (not averaged), so values lie in ``[0, 2]``; divide by the
    number of classes for the per-class mean some papers report.

    Args:
        labels: ``(N,)`` integer labels or ``(N, C)`` one-hot (or soft) labels.
        probs: ``(N, C)`` predicted probabilities.

    Returns:
        The Brier score, a float (lower is better).

    Example:

    >>> brier_score(y_test, softmax(logits))
    """
    probs = _check_probs(probs)
    targets = one_hot_labels(labels, probs.shape[1], len(probs))
    return float(np.mean(np.sum(np.square(probs - targets), axis=1)))


def reliability_diagram(labels, probs, num_bins=15, path=None,
                        title="Reliability diagram"):
    """Reliability diagram statistics, optionally drawn to a PNG file.

    Args:
        labels: ``(N,)`` integer labels or ``(N, C)`` one-hot labels.
        probs: ``(N, C)`` predicted probabilities.
        num_bins: number of equal-width confidence bins.
        path: where to write the PNG; None computes the statistics only.
        title: title of the figure.

    Returns:
        The `calibration_bins` dict plus ``ece`` (float).

    Example:

    >>> stats = reliability_diagram(y_test, probs, path="reliability.png")
    """
    stats = calibration_bins(labels, probs, num_bins)
    stats["ece"] = _ece_from_bins(stats)
    if path is not None:
        from keras_mixkd.analysis import plots

        plots.plot_reliability_diagram(stats, path, title=title)
    return stats


def _measures(labels, probs, num_bins, suffix):
    return {f"ece_{suffix}": expected_calibration_error(labels, probs,
                                                        num_bins),
            f"nll_{suffix}": negative_log_likelihood(labels, probs),
            f"brier_{suffix}": brier_score(labels, probs),
            f"confidence_{suffix}": float(np.mean(probs.max(axis=1)))}


def calibration_summary(logits, labels, loss=None, heldout=None,
                        num_bins=15, ddof=1):
    """Calibration of a network compared like with like, as a flat dict.

    ECE, NLL, Brier score and mean confidence on three sets of
    probabilities, with suffixes:

    - ``_raw``: ``softmax(logits)``;
    - ``_trained``: the probabilities the network was trained to produce
      (`trained_probabilities`; for a MIXSTD student
      ``softmax(logits / std(logits))``, for the others the raw softmax);
    - ``_fitted``: ``softmax(trained_logits / T)``, T fitted on ``heldout``
      by `fit_temperature` (on the held-out trained logits); None without
      ``heldout``.

    Plus the smoothness (`smoothness_summary`) of the trained
    probabilities.

    Args:
        logits: ``(samples, classes)`` raw logits of the evaluated data.
        labels: their ``(samples,)`` integer or ``(samples, classes)``
            one-hot labels.
        loss: how the network was trained (`trained_logits`): ``"mixstd"``,
            ``"kd"``, ``"ls"``, ``"dkd"``, ``"dist"``, ``"ce"`` or None.
        heldout: ``(logits, labels)`` of held-out data (not ``logits``'s) to
            fit the temperature on, or None.
        num_bins: ECE bins.
        ddof: ddof of the logit std in the smoothness figures.

    Returns:
        A dict: ``trained_probabilities`` (the formula, a string),
        ``num_samples``, ``accuracy``, ``ece_*``, ``nll_*``, ``brier_*``,
        ``confidence_*`` for ``raw``, ``trained`` and ``fitted``,
        ``temperature`` (None without ``heldout``), and the keys of
        `smoothness_summary` (entropy and confidence of the trained
        probabilities, std of the raw logits).

    Example:

    >>> calibration_summary(test_logits, y_test, loss="mixstd",
    ...                     heldout=(val_logits, y_val))["ece_fitted"]
    """
    logits = as_2d("logits", logits)
    trained = trained_outputs.trained_logits(logits, loss)
    summary = {"trained_probabilities": trained_outputs.describe(loss),
               "num_samples": int(len(logits)),
               "accuracy": float(np.mean(
                   logits.argmax(axis=1) == integer_labels(labels,
                                                           len(logits))))}
    summary.update(_measures(labels, softmax(logits), num_bins, "raw"))
    summary.update(_measures(labels, softmax(trained), num_bins, "trained"))
    temperature = None
    fitted = dict.fromkeys(("ece_fitted", "nll_fitted", "brier_fitted",
                            "confidence_fitted"))
    if heldout is not None:
        heldout_logits, heldout_labels = heldout
        temperature = temperature_scaling.fit_temperature(
            trained_outputs.trained_logits(heldout_logits, loss),
            heldout_labels)
        fitted = _measures(labels, temperature_scaling.apply_temperature(
            trained, temperature), num_bins, "fitted")
    summary.update(fitted, temperature=temperature)
    summary.update(smoothness.smoothness_summary(logits, ddof, loss))
    return summary
