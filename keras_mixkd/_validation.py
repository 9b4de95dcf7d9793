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


def _symbolic_input(model):
    """The model's symbolic input (a tensor, or a dict or list of them),
    or None while unknown (a subclassed or unbuilt model)."""
    try:
        return model.input
    except (AttributeError, ValueError):
        inputs = getattr(model, "inputs", None)
    if not inputs:
        return None
    return inputs[0] if len(inputs) == 1 else list(inputs)


def _several(inputs):
    return isinstance(inputs, (dict, list, tuple))


MULTI_INPUT = (
    "The Distiller takes models with one input, a batch of images: mixers "
    "blend that tensor, the teacher and the student both read it, and the "
    "checks of NaN and shape apply to it. ")


def check_single_input(model, role):
    """Refuses a model with several or named (dict) inputs.

    Args:
        model: the teacher or the student.
        role: ``"teacher"`` or ``"student"``, for the message.

    Raises:
        ValueError: the model has a dict, list or several inputs.
    """
    inputs = _symbolic_input(model)
    if _several(inputs):
        names = (sorted(inputs) if isinstance(inputs, dict)
                 else [getattr(t, "name", "?") for t in inputs])
        raise ValueError(
            f"`{role}` takes {len(names)} input(s) as a "
            f"{type(inputs).__name__} ({', '.join(map(str, names))}). "
            + MULTI_INPUT + "Build it on a single image input, "
            "keras.Input(shape=(height, width, channels)), and feed the "
            "images as one tensor.")


def expected_shape(model):
    """The per-sample shape (batch dimension dropped) the model expects,
    with None where a dimension is free; None when unknown."""
    inputs = _symbolic_input(model)
    if inputs is None or _several(inputs) or inputs.shape is None:
        return None
    return tuple(inputs.shape[1:])


def _clash(a, b):
    """Whether two per-sample shapes disagree where both are known."""
    return len(a) != len(b) or any(
        x is not None and y is not None and x != y for x, y in zip(a, b))


def check_same_input(student, teacher, role="teacher"):
    """Refuses a teacher and a student built for different image shapes.

    Both models read the same batch, so their inputs must agree wherever
    both are known.

    Args:
        student, teacher: the models.
        role: the teacher's name in the message (``"teacher 2"``...).

    Raises:
        ValueError: naming both shapes and how to adapt one model.
    """
    shapes = expected_shape(student), expected_shape(teacher)
    if None in shapes or not _clash(*shapes):
        return
    student_shape, teacher_shape = shapes
    fix = ("Both read the same batch, so one of them must take the other's "
           "input: wrap it, e.g. teacher = keras.Sequential([keras.Input("
           f"{student_shape}), ")
    if len(student_shape) == 3 and len(teacher_shape) == 3:
        fix += f"keras.layers.Resizing({teacher_shape[0]}, {teacher_shape[1]})"
        if student_shape[-1] != teacher_shape[-1]:
            fix += (", a layer that maps the "
                    f"{student_shape[-1]} channels to {teacher_shape[-1]}")
    else:
        fix += "a layer that maps one shape to the other"
    fix += f", teacher]), or build the student for the {role}'s shape."
    raise ValueError(
        f"The {role} expects inputs of shape {teacher_shape} but the student "
        f"{student_shape} (batch dimension left out). " + fix)


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


def check_images(images, expected, require_images):
    """Validates a batch of inputs.

    Args:
        images: the input batch.
        expected: the per-sample shape the student expects (None where a
            dimension is free; None: unknown).
        require_images: whether the inputs must be a 4-D image batch (when a
            mixer blends them).

    Returns:
        ``images`` behind an assertion that they are finite.
    """
    if _several(images):
        raise ValueError(
            f"The training inputs are a {type(images).__name__}, not one "
            "tensor. " + MULTI_INPUT + "Feed (images, labels) batches with "
            "the images as one (batch, height, width, channels) tensor.")
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
    shape = tuple(images.shape[1:])
    if expected is not None and _clash(shape, expected):
        raise ValueError(data_mismatch(shape, expected))
    return tf.debugging.assert_all_finite(
        images, "The input images contain NaN or Inf values: clean the data "
        "(or its normalisation) before distilling.")


def data_mismatch(shape, expected):
    """The message for data whose per-sample shape the student can't take."""
    message = (f"The inputs have shape {shape} per sample but the student "
               f"expects {expected}")
    if len(shape) == 3 and len(expected) == 3:
        if shape[-1] != expected[-1] and None not in (shape[-1], expected[-1]):
            message += (f": {shape[-1]} channels against {expected[-1]} "
                        "(channels-last). Convert the images' channels")
        else:
            message += (". Resize the images in the input pipeline, e.g. "
                        f"keras.layers.Resizing({expected[0]}, {expected[1]})")
        return message + ", or build the models for the data's shape."
    return message + ". Reshape the data, or build the models for its shape."


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


#: Callbacks that set the optimizer's learning rate themselves.
RATE_CALLBACKS = (keras.callbacks.ReduceLROnPlateau,
                  keras.callbacks.LearningRateScheduler)


def check_rate_callbacks(optimizer, callbacks):
    """Refuses a callback that sets the learning rate of an optimizer whose
    rate follows a schedule (Keras cannot set it, and says so only once
    the epoch has run).

    Args:
        optimizer: the compiled optimizer, or None.
        callbacks: the ``callbacks`` given to `fit`, or None.

    Raises:
        ValueError: naming the callback and the constant-rate optimizer.
    """
    setters = [type(c).__name__ for c in callbacks or ()
               if isinstance(c, RATE_CALLBACKS)]
    if not setters or optimizer is None:
        return
    if isinstance(optimizer.get_config().get("learning_rate"), dict):
        raise ValueError(
            f"{setters[0]} sets the learning rate, but the optimizer's rate "
            "follows a schedule (recipe.paper_optimizer's step decay, for "
            "one), which Keras lets no callback change. Give the optimizer a "
            "constant rate, e.g. keras_mixkd.recipe.paper_optimizer(..., "
            "milestones=()), or drop the callback.")


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
