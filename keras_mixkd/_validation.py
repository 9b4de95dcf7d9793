"""Checks of the Distiller's models and of a training batch: clear errors
before any weight changes.

Static problems (shapes, dtypes) raise `ValueError` while the step is traced;
data problems (labels out of range, NaN or Inf) fail the step through
TensorFlow assertions that run before the optimizer update.
"""

import keras
import tensorflow as tf
from keras import ops


def output_width(model):
    """The model's number of outputs if known, else None."""
    shape = getattr(model, "output_shape", None)
    if isinstance(shape, tuple) and shape and isinstance(shape[-1], int):
        return shape[-1]
    return None


def input_channels(model):
    """The channels of the model's 4-D input if known, else None."""
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, tuple) and len(shape) == 4:
        return shape[-1]
    return None


def keyword_models(args, student, teacher):
    """Refuses models given by position: the Keras Distiller's order differs.

    Raises:
        TypeError: on any positional argument, or a missing model.
    """
    if args:
        raise TypeError(
            f"Distiller got {len(args)} positional argument(s): give the "
            "models by keyword, Distiller(student=..., teacher=...). "
            "keras.distillation.Distiller takes them the other way round, "
            "(teacher, student), so a positional call could silently train "
            "the teacher as the student.")
    missing = [f"{name}=" for name, model in (("student", student),
                                               ("teacher", teacher))
               if model is None]
    if missing:
        raise TypeError(f"Distiller needs {' and '.join(missing)} "
                        "(keyword arguments): Distiller(student=..., "
                        "teacher=...).")


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


def input_shape(x):
    """The input shape (batch first) of training data, or None if unknown.

    Args:
        x: a `tf.data.Dataset` of ``(x, y, ...)`` batches, or an array.

    Returns:
        A tuple such as ``(None, 32, 32, 3)``, or None (other inputs, or
        inputs that are not a single tensor).
    """
    if isinstance(x, tf.data.Dataset):
        spec = x.element_spec
        spec = spec[0] if isinstance(spec, tuple) else spec
        if isinstance(spec, tf.TensorSpec) and spec.shape.rank is not None:
            return tuple(spec.shape)
        return None
    shape = getattr(x, "shape", None)
    return None if shape is None else tuple(shape)


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
