"""How smooth a network's outputs are: logit std, entropy, confidence.

MIX-KD's argument is that mixup and distillation both smooth a network's
outputs, and that combining a mixup-trained teacher with a high temperature
over-smooths. A teacher trained with mixup has, per sample, a lower logit
standard deviation, a higher predictive entropy and a lower confidence
(maximum probability) than the same architecture trained without it; these
functions measure that.

Entropy and confidence are those of ``softmax(logits)`` unless ``loss``
names how the network was trained: then they are those of the probabilities
it was trained to produce (`trained_probabilities`; for a MIXSTD student,
``softmax(logits / std(logits))``). The logit std is always of the raw
logits.
"""

import numpy as np

from keras_mixkd.analysis._utils import as_2d
from keras_mixkd.analysis._utils import collect_logits
from keras_mixkd.analysis._utils import log_softmax
from keras_mixkd.analysis.trained_outputs import trained_logits


def logit_std(logits, ddof=1):
    """Per-sample standard deviation of the logits over classes.

    It is MIXSTD's adaptive temperature: the official code divides each
    sample's logits by it.

    Args:
        logits: ``(samples, classes)`` logits.
        ddof: 1 for the unbiased std (``torch.std``, as the official code),
            0 for the population std.

    Returns:
        A float64 ``(samples,)`` array.

    Example:

    >>> logit_std([[1.0, 2.0, 3.0]])  # array([1.])
    """
    if ddof not in (0, 1):
        raise ValueError(f"`ddof` must be 0 or 1, got {ddof}.")
    return as_2d("logits", logits).std(axis=1, ddof=ddof)


def _log_probs(logits, loss):
    return log_softmax(trained_logits(logits, loss))


def predictive_entropy(logits, loss=None):
    """Per-sample entropy of ``softmax(logits)``, in nats.

    Args:
        logits: ``(samples, classes)`` logits.
        loss: None for ``softmax(logits)``, or how the network was trained
            (``"mixstd"``, ``"kd"``...: `trained_probabilities`).

    Returns:
        A float64 ``(samples,)`` array in ``[0, log(classes)]``.

    Example:

    >>> predictive_entropy([[0.0, 0.0]])  # array([0.6931...]) = log 2
    """
    log_probs = _log_probs(logits, loss)
    return -np.sum(np.exp(log_probs) * log_probs, axis=1)


def confidence(logits, loss=None):
    """Per-sample confidence: the largest softmax probability.

    Args:
        logits: ``(samples, classes)`` logits.
        loss: None for ``softmax(logits)``, or how the network was trained
            (`trained_probabilities`).

    Returns:
        A float64 ``(samples,)`` array in ``[1 / classes, 1]``.

    Example:

    >>> confidence([[0.0, 0.0]])  # array([0.5])
    """
    return np.exp(_log_probs(logits, loss).max(axis=1))


def smoothness_summary(logits, ddof=1, loss=None):
    """Means and medians of logit std, entropy and confidence over samples.

    Smoother outputs (a mixup-trained teacher, for instance) show a lower
    logit std, a higher entropy and a lower confidence.

    Args:
        logits: ``(samples, classes)`` logits.
        ddof: ddof of the logit std (see `logit_std`).
        loss: None for the entropy and confidence of ``softmax(logits)``,
            or how the network was trained (`trained_probabilities`).

    Returns:
        A dict with ``logit_std_mean``, ``logit_std_median``,
        ``entropy_mean``, ``entropy_median``, ``confidence_mean``,
        ``confidence_median`` (floats) and ``num_samples`` (int).

    Example:

    >>> smoothness_summary(teacher_logits)["entropy_mean"]
    """
    logits = as_2d("logits", logits)
    summary = {}
    for name, values in (("logit_std", logit_std(logits, ddof)),
                         ("entropy", predictive_entropy(logits, loss)),
                         ("confidence", confidence(logits, loss))):
        summary[f"{name}_mean"] = float(np.mean(values))
        summary[f"{name}_median"] = float(np.median(values))
    summary["num_samples"] = int(len(logits))
    return summary


def model_smoothness(model, data, batch_size=256, ddof=1, loss=None):
    """`smoothness_summary` of a model's logits over a dataset.

    Args:
        model: a `keras.Model` mapping images to logits.
        data: images (array), ``(images, labels)`` arrays, or a
            `tf.data.Dataset` of ``(images, labels)`` batches.
        batch_size: batch size for arrays.
        ddof: ddof of the logit std.
        loss: how the model was trained (see `smoothness_summary`).

    Returns:
        The `smoothness_summary` dict of the model's logits.

    Example:

    >>> model_smoothness(teacher, (x_test, y_test))["logit_std_mean"]
    """
    return smoothness_summary(collect_logits(model, data, batch_size), ddof,
                              loss)
