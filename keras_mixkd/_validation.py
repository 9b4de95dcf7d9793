"""Checks of a training batch: clear errors before any weight changes.

Static problems (shapes, dtypes) raise `ValueError` while the step is traced;
data problems (labels out of range, NaN or Inf) fail the step through
TensorFlow assertions that run before the optimizer update.
"""

import keras
import tensorflow as tf
from keras import ops


def _is_integer(dtype):
    return "int" in keras.backend.standardize_dtype(dtype)


def check_images(images, channels, require_images):
    """Validates a batch of inputs.

    Args:
        images: the input batch.
        channels: the channel count the student expects (None: unknown).
        require_images: whether the inputs must be a 4-D image batch (when a
            mixer blends them).

    Returns:
        ``images`` behind an assertion that they are finite.
    """
    images = ops.convert_to_tensor(images)
    if _is_integer(images.dtype):
        dtype = keras.backend.standardize_dtype(images.dtype)
        raise ValueError(
            f"Images are {dtype}: the Distiller expects float images, "
            "normalised as the models "
            "were trained (keras_mixkd.data does this). Cast and normalise "
            "them, e.g. (images / 255 - mean) / std.")
    if require_images:
        if len(images.shape) != 4:
            raise ValueError(
                f"Images must be a 4-D batch (batch, height, width, "
                f"channels); got shape {tuple(images.shape)}.")
        if channels is not None and images.shape[-1] not in (None, channels):
            raise ValueError(
                f"Images have {images.shape[-1]} channels but the student "
                f"expects {channels} (channels-last). Convert the images, or "
                "build the models for this input shape.")
    return tf.debugging.assert_all_finite(
        images, "The input images contain NaN or Inf values: clean the data "
        "(or its normalisation) before distilling.")


def one_hot_labels(labels, num_classes):
    """Integer ``(B,)``/``(B, 1)`` or one-hot ``(B, C)`` labels as float32 one-hot.

    Args:
        labels: the label batch.
        num_classes: the number of classes of the models.

    Returns:
        A float32 ``(B, num_classes)`` tensor.
    """
    labels = ops.convert_to_tensor(labels)
    rank = len(labels.shape)
    if rank == 2 and labels.shape[-1] not in (1, None):
        if labels.shape[-1] != num_classes:
            raise ValueError(
                f"One-hot labels have width {labels.shape[-1]} but the "
                f"models output {num_classes} classes. Pass integer labels "
                f"or one-hot labels of width {num_classes}.")
        labels = ops.cast(labels, "float32")
        return tf.debugging.assert_all_finite(
            labels, "The one-hot labels contain NaN or Inf values.")
    if rank not in (1, 2):
        raise ValueError(
            f"Labels must be integers of shape (batch,) or one-hot of "
            f"shape (batch, {num_classes}); got shape {tuple(labels.shape)}.")
    labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
    message = (f"Labels must be class indices in [0, {num_classes}): found a "
               f"label outside this range. Check the dataset's labels and the "
               f"models' number of classes ({num_classes}).")
    with tf.control_dependencies([
            tf.debugging.assert_non_negative(labels, message=message),
            tf.debugging.assert_less(labels, num_classes, message=message)]):
        return ops.one_hot(tf.identity(labels), num_classes, dtype="float32")


def check_not_empty(x):
    """Raises if ``x`` (a dataset or an array) is known to hold no example."""
    if isinstance(x, tf.data.Dataset):
        empty = int(x.cardinality()) == 0
    elif hasattr(x, "shape") and len(x.shape) > 0:
        empty = x.shape[0] == 0
    else:
        empty = False
    if empty:
        raise ValueError(
            "The training data is empty: there is nothing to distil on. "
            "Check the dataset split, filters and batch settings.")


def checked_dataset(dataset, num_classes):
    """Adds the batch assertions to a `tf.data` pipeline.

    XLA-compiled steps drop TensorFlow assertions, so with ``jit_compile``
    the Distiller checks labels and finiteness in the input pipeline instead,
    which runs outside XLA.

    Args:
        dataset: a dataset of ``(x, y)`` or ``(x, y, sample_weight)``.
        num_classes: the models' number of classes.

    Returns:
        The dataset, each batch asserted valid.
    """

    def check(*batch):
        x, y = batch[0], batch[1]
        if x.dtype.is_floating:
            x = tf.debugging.assert_all_finite(
                x, "The input images contain NaN or Inf values: clean the "
                "data (or its normalisation) before distilling.")
        return (x, one_hot_labels(y, num_classes), *batch[2:])

    return dataset.map(check, num_parallel_calls=tf.data.AUTOTUNE)
