"""Shared helpers of `keras_mixkd.analysis`: arrays, labels, model outputs."""

import numpy as np
import tensorflow as tf


def softmax(logits):
    """Row-wise softmax of logits as float64 numpy (numerically stable)."""
    return np.exp(log_softmax(logits))


def log_softmax(logits):
    """Row-wise log-softmax of logits as float64 numpy."""
    z = np.asarray(logits, dtype="float64")
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def as_2d(name, values):
    """``values`` as a float64 ``(samples, classes)`` array, or an error."""
    values = np.asarray(values, dtype="float64")
    if values.ndim != 2 or values.shape[0] == 0:
        raise ValueError(
            f"`{name}` must have shape (samples, classes) with at least one "
            f"sample, got shape {values.shape}.")
    return values


def integer_labels(labels, num_samples=None):
    """Integer class labels from integer, one-hot or soft labels.

    Args:
        labels: ``(N,)`` or ``(N, 1)`` integers, or ``(N, C)`` one-hot or soft
            labels (their argmax is the class).
        num_samples: expected N, checked when given.

    Returns:
        An int64 ``(N,)`` array.
    """
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        labels = labels.argmax(axis=1)
    labels = labels.reshape(-1).astype("int64")
    if num_samples is not None and len(labels) != num_samples:
        raise ValueError(
            f"Got {len(labels)} labels for {num_samples} samples.")
    return labels


def one_hot_labels(labels, num_classes, num_samples=None):
    """``(N, C)`` float64 targets from integer, one-hot or soft labels."""
    array = np.asarray(labels)
    if array.ndim == 2 and array.shape[1] == num_classes and num_classes > 1:
        targets = array.astype("float64")
        if num_samples is not None and len(targets) != num_samples:
            raise ValueError(
                f"Got {len(targets)} labels for {num_samples} samples.")
        return targets
    indices = integer_labels(array, num_samples)
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
        raise ValueError(
            f"Labels must be in [0, {num_classes}), got values in "
            f"[{indices.min()}, {indices.max()}].")
    return np.eye(num_classes, dtype="float64")[indices]


def _split(element):
    """``(inputs, labels or None)`` of a dataset element or an array pair."""
    if isinstance(element, (tuple, list)):
        return element[0], (element[1] if len(element) > 1 else None)
    return element, None


def _batches(data, batch_size):
    """Yields ``(inputs, labels or None)`` batches of arrays or a dataset."""
    if isinstance(data, tf.data.Dataset):
        for element in data:
            yield _split(element)
        return
    if int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be >= 1, got {batch_size}.")
    images, labels = _split(data)
    images = np.asarray(images)
    labels = None if labels is None else np.asarray(labels)
    for start in range(0, len(images), int(batch_size)):
        stop = start + int(batch_size)
        yield images[start:stop], (None if labels is None
                                   else labels[start:stop])


def predict_batches(models, data, batch_size=256):
    """Runs several models over the same batches, in one pass over ``data``.

    One pass matters for shuffled datasets: every model sees the same
    examples in the same order, and the labels line up with the outputs.

    Args:
        models: a list of `keras.Model`s.
        data: images (array), a tuple ``(images, labels)`` of arrays, or a
            `tf.data.Dataset` of batches ``(images, labels)`` or of images.
        batch_size: batch size for arrays (a dataset keeps its own batches).

    Returns:
        ``(outputs, labels)``: a list with each model's concatenated outputs
        as numpy arrays (inference mode), and the labels (None if absent).
    """
    outputs = [[] for _ in models]
    labels = []
    for inputs, batch_labels in _batches(data, batch_size):
        for model, collected in zip(models, outputs):
            collected.append(np.asarray(model.predict_on_batch(inputs)))
        if batch_labels is not None:
            labels.append(np.asarray(batch_labels))
    if not outputs[0]:
        raise ValueError("`data` is empty: there is nothing to predict.")
    outputs = [np.concatenate(collected) for collected in outputs]
    return outputs, (np.concatenate(labels) if labels else None)


def collect_logits(model, data, batch_size=256, return_labels=False):
    """Runs ``model`` in inference mode over ``data`` and gathers its logits.

    Args:
        model: a `keras.Model` mapping images to logits.
        data: images (array), a tuple ``(images, labels)`` of arrays, or a
            `tf.data.Dataset` of batches ``(images, labels)`` (or of images).
        batch_size: batch size for arrays (a dataset keeps its own batches).
        return_labels: also return the labels found in ``data``.

    Returns:
        A ``(N, classes)`` numpy array of logits; with ``return_labels``, the
        pair ``(logits, labels)`` (labels None where ``data`` has none).

    Example:

    >>> logits, labels = collect_logits(teacher, test_ds, return_labels=True)
    """
    (logits,), labels = predict_batches([model], data, batch_size)
    return (logits, labels) if return_labels else logits
