"""Ship the student: SavedModel and LiteRT files that take raw images.

`export` writes a model that takes raw ``uint8`` images of the data's image
size (any batch size), normalises them inside exactly as the training
pipeline does (``(image / 255 - mean) / std``), and returns the student's
logits, or the probabilities it was trained to produce. Beside it,
``export.json`` holds ``{"mean", "std", "image_size", "class_names"}``.
`run_exported` runs an exported file and `measure` reports its size and
mean latency per image.

Example:

>>> train_ds, test_ds, info = keras_mixkd.data.load("digits")
>>> keras_mixkd.export(student, "out/student.tflite", format="litert",
...                    info=info, quantize="int8",
...                    representative_data=train_ds)
>>> keras_mixkd.exporting.measure("out/student.tflite", raw_test_images)
"""

import json
import os
import pathlib
import tempfile
import time
import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_mixkd import losses

FORMATS = ("saved_model", "litert")
OUTPUTS = ("logits", "probabilities")
QUANTIZATIONS = ("none", "float16", "int8")
#: The loss a model was trained with, which fixes its probabilities (the
#: loss registry says which: `keras_mixkd.losses.student_loss`):
#: ``"mixstd"`` trains ``softmax(logits / (tau * std(logits)))`` (tau its base
#: temperature, 1 by default); the others (classic KD, logit
#: standardization, DKD, DIST, a teacher's plain cross-entropy ``"ce"``)
#: train ``softmax(logits)`` on the labels.
TRAINING_LOSSES = tuple(losses.training_losses())
#: The file written beside every export.
EXPORT_JSON = "export.json"
#: Representative images used to calibrate int8 quantization (at most).
CALIBRATION_IMAGES = 256


def _choose(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"`{name}` must be one of {list(allowed)}, got "
                         f"{value!r}.")


def _image_shape(info):
    if info is None or not hasattr(info, "image_shape"):
        raise ValueError(
            "`info` is required: the `DatasetInfo` of the data the model was "
            "trained on (from keras_mixkd.data.load), whose mean, std and "
            "image shape the export builds in.")
    return tuple(int(d) for d in info.image_shape)


def class_names(info):
    """The class names of ``info``, or ``"0"``, ``"1"``... if it has none."""
    names = getattr(info, "class_names", None)
    if names:
        return [str(name) for name in names]
    return [str(i) for i in range(int(info.num_classes))]


def export_metadata(info):
    """The contents of ``export.json`` for a `DatasetInfo`.

    Returns:
        ``{"mean": [...], "std": [...], "image_size": [H, W],
        "class_names": [...]}``; mean and std per channel in [0, 1] pixel
        units.
    """
    height, width = _image_shape(info)[:2]
    return {"mean": [float(m) for m in info.mean],
            "std": [float(s) for s in info.std],
            "image_size": [height, width], "class_names": class_names(info)}


def check_temperature(loss, temperature):
    """Raises `ValueError` unless ``temperature`` fits ``loss``.

    A temperature changes the trained probabilities of ``"mixstd"`` only (its
    base temperature); it must then be > 0. Students of the other losses
    were trained on ``softmax(logits)`` at any temperature: None only.
    """
    if temperature is None:
        return
    if not isinstance(losses.student_loss(loss), losses.StdCrossEntropy):
        raise ValueError(
            f"A temperature ({temperature}) changes the probabilities of a "
            f"mixstd student only; a {loss!r} model was trained on "
            "softmax(logits). Drop the temperature.")
    if not temperature > 0:
        raise ValueError(f"`temperature` must be > 0, got {temperature}.")


def probabilities(logits, loss="mixstd", temperature=None):
    """The probabilities a model trained with ``loss`` produces.

    Args:
        logits: ``(batch, classes)`` logits.
        loss: one of `TRAINING_LOSSES`; ``"mixstd"`` gives
            ``softmax(logits / (tau * std(logits, ddof=1)))`` (a plain
            softmax of a MIXSTD student's logits is near uniform), the
            others ``softmax(logits)``.
        temperature: ``"mixstd"``: the base temperature tau the student was
            trained with (None: 1, the official code); None for the others.

    Returns:
        ``(batch, classes)`` probabilities.

    Example:

    >>> probabilities([[1.0, 2.0, 3.0]], loss="mixstd")
    >>> probabilities([[1.0, 2.0, 3.0]], loss="mixstd", temperature=0.29)
    """
    _choose("loss", loss, TRAINING_LOSSES)
    check_temperature(loss, temperature)
    trained = losses.student_loss(loss, temperature)
    if isinstance(trained, losses.StdCrossEntropy):
        logits = losses.scaled_logits(logits, trained.temperature,
                                      ddof=trained.ddof)
    return ops.softmax(ops.cast(logits, "float32"), axis=-1)


def serving_function(model, info, outputs="logits", loss="mixstd",
                     temperature=None):
    """The function an export serves: raw ``uint8`` images to one output.

    Args:
        model: a Keras model taking normalised float images.
        info: the `DatasetInfo` of its data (mean, std, image shape).
        outputs: ``"logits"`` or ``"probabilities"``.
        loss: the loss the model was trained with (see `probabilities`).
        temperature: MIXSTD's base temperature (see `probabilities`).

    Returns:
        ``fn(images) -> {outputs: tensor}``, ``images`` ``uint8`` NHWC.
    """
    _choose("outputs", outputs, OUTPUTS)
    _choose("loss", loss, TRAINING_LOSSES)
    check_temperature(loss, temperature)
    mean = np.asarray(info.mean, "float32")
    std = np.asarray(info.std, "float32")

    def serve(images):
        x = (ops.cast(images, "float32") / 255.0 - mean) / std
        logits = ops.cast(model(x, training=False), "float32")
        if outputs == "probabilities":
            return {outputs: probabilities(logits, loss, temperature)}
        return {outputs: logits}

    return serve


def _write_saved_model(model, path, info, outputs, loss, temperature):
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serving_default",
        serving_function(model, info, outputs, loss, temperature),
        input_signature=[tf.TensorSpec((None, *_image_shape(info)), tf.uint8,
                                       name="images")])
    archive.write_out(os.fspath(path), verbose=False)


def raw_images(data, info, limit=CALIBRATION_IMAGES):
    """Up to ``limit`` raw ``uint8`` images from arrays or a pipeline.

    Args:
        data: ``uint8`` images ``(N, H, W, C)``, or a `tf.data.Dataset` of
            ``(images, labels)`` batches normalised as `keras_mixkd.data.load`
            yields them (they are mapped back to pixels with ``info``).
        info: the `DatasetInfo` of the data.
        limit: the most images returned.

    Returns:
        A ``uint8`` array ``(n, H, W, C)``, ``n <= limit``.
    """
    if isinstance(data, tf.data.Dataset):
        batches, count = [], 0
        for batch in data:
            images = batch[0] if isinstance(batch, (tuple, list)) else batch
            images = np.asarray(images, "float32") * np.asarray(info.std) + (
                np.asarray(info.mean))
            batches.append(np.clip(np.round(images * 255.0), 0, 255))
            count += len(images)
            if count >= limit:
                break
        data = np.concatenate(batches).astype("uint8")
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.shape[1:] != _image_shape(info):
        raise ValueError(
            f"Images must be uint8 of shape (N, *{_image_shape(info)}) (raw "
            f"pixels of the data's image size); got {data.dtype} "
            f"{data.shape}.")
    return data[:limit]


def _litert_bytes(saved_model, quantize, representative_data, info):
    converter = tf.lite.TFLiteConverter.from_saved_model(
        os.fspath(saved_model), signature_keys=["serving_default"])
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        images = raw_images(representative_data, info)
        converter.representative_dataset = lambda: (
            [image[None]] for image in images)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


def export(model, path, format="saved_model", info=None, outputs="logits",
           loss="mixstd", quantize="none", representative_data=None,
           temperature=None):
    """Exports a model that takes raw ``uint8`` images, normalisation inside.

    The exported model takes ``uint8`` images of the data's image size
    ``(batch, H, W, C)`` (any batch size) and returns the logits (or the
    probabilities) as float32. A SavedModel has one signature,
    ``serving_default``, with one input ``images`` and one output named
    after ``outputs``. ``export.json`` is written beside ``path``. Missing
    parent folders are created.

    Args:
        model: the trained Keras model (a student or a teacher).
        path: the output: a SavedModel folder, or a ``.tflite`` file.
        format: ``"saved_model"`` or ``"litert"`` (TensorFlow Lite).
        info: the `DatasetInfo` of the training data (required).
        outputs: ``"logits"`` or ``"probabilities"``.
        loss: the loss the model was trained with, for ``"probabilities"``:
            ``"mixstd"`` (the default distillation loss), ``"kd"``, ``"ls"``
            or ``"ce"`` (see `probabilities`).
        quantize: ``"none"``, ``"float16"`` or ``"int8"`` (LiteRT only;
            int8 weights and activations, calibrated on
            ``representative_data``; the input stays raw ``uint8`` images
            and the output float32).
        representative_data: for ``"int8"``: training images, raw ``uint8``
            or a pipeline as `keras_mixkd.data.load` yields (see
            `raw_images`); at most `CALIBRATION_IMAGES` are used.
        temperature: for ``"probabilities"`` of a ``"mixstd"`` student: the
            base temperature it was trained with (None: 1).

    Returns:
        The output path (a `pathlib.Path`).

    Example:

    >>> keras_mixkd.export(student, "out/student", info=info)
    """
    _choose("format", format, FORMATS)
    _choose("outputs", outputs, OUTPUTS)
    _choose("loss", loss, TRAINING_LOSSES)
    _choose("quantize", quantize, QUANTIZATIONS)
    check_temperature(loss, temperature)
    _image_shape(info)
    if quantize != "none" and format != "litert":
        raise ValueError(
            f"quantize={quantize!r} applies to format='litert' only; a "
            "SavedModel keeps float32 weights.")
    if quantize == "int8":
        if representative_data is None:
            raise ValueError(
                "quantize='int8' needs `representative_data`: images from "
                "the training set to calibrate the activation ranges.")
        raw_images(representative_data, info, limit=1)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "saved_model":
        _write_saved_model(model, path, info, outputs, loss, temperature)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            saved = pathlib.Path(tmp) / "saved_model"
            _write_saved_model(model, saved, info, outputs, loss,
                               temperature)
            path.write_bytes(_litert_bytes(saved, quantize,
                                           representative_data, info))
    (path.parent / EXPORT_JSON).write_text(
        json.dumps(export_metadata(info), indent=2) + "\n")
    return path


def _format_of(path, format):
    if format is None:
        format = "saved_model" if pathlib.Path(path).is_dir() else "litert"
    _choose("format", format, FORMATS)
    return format


def _runner(path, format):
    """A callable running one exported file on a ``uint8`` batch."""
    if _format_of(path, format) == "saved_model":
        serve = tf.saved_model.load(os.fspath(path)).signatures[
            "serving_default"]
        return lambda images: next(iter(
            serve(images=tf.constant(images)).values())).numpy()
    with warnings.catch_warnings():  # TF 2.21 points at ai_edge_litert
        warnings.filterwarnings("ignore", r"\s*Warning: tf.lite.Interpreter")
        interpreter = tf.lite.Interpreter(model_path=os.fspath(path))
    (input_detail,) = interpreter.get_input_details()
    (output_detail,) = interpreter.get_output_details()

    def run(images):
        if tuple(input_detail["shape"]) != images.shape:
            interpreter.resize_tensor_input(input_detail["index"],
                                            images.shape)
            interpreter.allocate_tensors()
            input_detail["shape"] = np.array(images.shape)
        interpreter.set_tensor(input_detail["index"], images)
        interpreter.invoke()
        return interpreter.get_tensor(output_detail["index"])

    interpreter.allocate_tensors()
    return run


def run_exported(path, images, format=None, batch_size=None):
    """Runs an exported model on raw ``uint8`` images.

    Args:
        path: a SavedModel folder or a ``.tflite`` file written by `export`.
        images: ``uint8`` images ``(N, H, W, C)``.
        format: ``"saved_model"`` or ``"litert"``; by default a folder is a
            SavedModel and a file LiteRT.
        batch_size: run the images in batches of this size (None: all at
            once).

    Returns:
        The output, a float32 array ``(N, classes)``.
    """
    images = np.asarray(images, "uint8")
    run = _runner(path, format)
    step = int(batch_size or max(len(images), 1))
    return np.concatenate([run(images[start:start + step])
                           for start in range(0, max(len(images), 1), step)])


def file_size(path):
    """Bytes of a file, or of every file under a folder (a SavedModel)."""
    path = pathlib.Path(path)
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def measure(path, images, format=None):
    """Size and mean latency per image of an exported model (batch 1).

    Args:
        path: a SavedModel folder or a ``.tflite`` file written by `export`.
        images: ``uint8`` images ``(N, H, W, C)`` to time, one at a time,
            after one warm-up call.
        format: as in `run_exported`.

    Returns:
        ``{"size_bytes": int, "latency_ms": float}``.

    Example:

    >>> measure("out/student.tflite", raw_images)
    """
    images = np.asarray(images, "uint8")
    if len(images) < 1:
        raise ValueError("`images` must hold at least one image to time.")
    run = _runner(path, format)
    run(images[:1])
    start = time.perf_counter()
    for index in range(len(images)):
        run(images[index:index + 1])
    latency = (time.perf_counter() - start) / len(images)
    return {"size_bytes": file_size(path), "latency_ms": latency * 1e3}
