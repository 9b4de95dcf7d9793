"""Ship the student: SavedModel and LiteRT files that take raw images.

`export` writes a model that takes raw ``uint8`` images of the data's image
size (any batch size), normalises them inside exactly as the training
pipeline does (``(image / 255 - mean) / std``), and returns the student's
logits, or the probabilities it was trained to produce (optionally at a
calibrated temperature). Its metadata file (`metadata_path`: ``student.json``
beside ``student.tflite``, ``export.json`` inside a SavedModel folder) holds
``{"mean", "std", "image_size", "class_names", "outputs"}`` and, for
probabilities, ``"trained_loss"`` and ``"temperature"``. An existing output
is refused unless ``overwrite=True``.
`keras_mixkd.exporting.running` runs and times an exported file.

Example:

>>> train_ds, test_ds, info = keras_mixkd.data.load("digits")
>>> keras_mixkd.export(student, "out/student.tflite", format="litert",
...                    info=info, quantize="int8",
...                    representative_data=train_ds)
"""

import json
import os
import pathlib
import tempfile

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_mixkd import losses
from keras_mixkd.exporting.output import check_output
from keras_mixkd.exporting.output import replace_output

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
            "trained on, whose mean, std and image shape the export builds "
            "in: keras_mixkd.data.load returns it, and for one's own data "
            "keras_mixkd.data.DatasetInfo.for_model(model, mean=..., "
            "std=..., class_names=...) makes it.")
    return tuple(int(d) for d in info.image_shape)


def _check_fits(model, info):
    """Refuses an ``info`` whose images or classes the model does not take."""
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, tuple) and len(shape) == 4 and any(
            d is not None and d != e
            for d, e in zip(shape[1:], _image_shape(info))):
        raise ValueError(
            f"The model takes images of shape {shape[1:]} but `info` "
            f"describes {tuple(info.image_shape)} images: give the "
            "DatasetInfo of the data the model was trained on.")
    outputs = getattr(model, "output_shape", None)
    if isinstance(outputs, tuple) and outputs[-1] not in (
            None, int(info.num_classes)):
        raise ValueError(
            f"The model outputs {outputs[-1]} classes but `info` has "
            f"{info.num_classes}: give the DatasetInfo of the data the "
            "model was trained on.")


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


def _check_loss(loss):
    if loss is None:
        raise ValueError(
            "The loss the model was trained with is required for "
            "probabilities (`loss`; mixkd export: `trained_loss`, read from "
            "the run folder's config.json when there is one): 'mixstd' for "
            "a MixKD student (softmax(logits / std(logits))), 'kd', 'ls' or "
            "'ce' for softmax(logits).")
    _choose("loss", loss, TRAINING_LOSSES)


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


def _check_calibration(calibration_temperature):
    if calibration_temperature is not None and not (
            np.isfinite(float(calibration_temperature))
            and float(calibration_temperature) > 0):
        raise ValueError(
            f"`calibration_temperature` must be a finite number > 0, got "
            f"{calibration_temperature}.")


def probabilities(logits, loss, temperature=None,
                  calibration_temperature=None):
    """The probabilities a model trained with ``loss`` produces.

    Args:
        logits: ``(batch, classes)`` logits.
        loss: one of `TRAINING_LOSSES` (required): ``"mixstd"`` gives
            ``softmax(logits / (tau * std(logits, ddof=1)))`` (a plain
            softmax of a MIXSTD student's logits is near uniform), the
            others ``softmax(logits)``.
        temperature: ``"mixstd"``: the base temperature tau the student was
            trained with (None: 1, the official code); None for the others.
        calibration_temperature: a calibration temperature T (e.g. from
            `keras_mixkd.exporting.fit_calibration`): the logits above are
            further divided by T. None: no calibration.

    Returns:
        ``(batch, classes)`` probabilities.

    Example:

    >>> probabilities([[1.0, 2.0, 3.0]], loss="mixstd")
    >>> probabilities([[1.0, 2.0, 3.0]], loss="mixstd", temperature=0.29)
    >>> probabilities([[1.0, 2.0, 3.0]], loss="kd",
    ...               calibration_temperature=1.7)
    """
    _check_loss(loss)
    check_temperature(loss, temperature)
    _check_calibration(calibration_temperature)
    trained = losses.student_loss(loss, temperature)
    if isinstance(trained, losses.StdCrossEntropy):
        logits = losses.scaled_logits(logits, trained.temperature,
                                      ddof=trained.ddof)
    logits = ops.cast(logits, "float32")
    if calibration_temperature is not None:
        logits = logits / float(calibration_temperature)
    return ops.softmax(logits, axis=-1)


def serving_function(model, info, outputs="logits", loss=None,
                     temperature=None, calibration_temperature=None):
    """The function an export serves: raw ``uint8`` images to one output.

    Args:
        model: a Keras model taking normalised float images.
        info: the `DatasetInfo` of its data (mean, std, image shape).
        outputs: ``"logits"`` or ``"probabilities"``.
        loss: the loss the model was trained with (see `probabilities`);
            required for probabilities.
        temperature: MIXSTD's base temperature (see `probabilities`).
        calibration_temperature: the calibration temperature of the
            probabilities (see `probabilities`).

    Returns:
        ``fn(images) -> {outputs: tensor}``, ``images`` ``uint8`` NHWC.
    """
    _choose("outputs", outputs, OUTPUTS)
    if outputs == "probabilities":
        _check_loss(loss)
        check_temperature(loss, temperature)
        _check_calibration(calibration_temperature)
    mean = np.asarray(info.mean, "float32")
    std = np.asarray(info.std, "float32")

    def serve(images):
        x = (ops.cast(images, "float32") / 255.0 - mean) / std
        logits = ops.cast(model(x, training=False), "float32")
        if outputs == "probabilities":
            return {outputs: probabilities(logits, loss, temperature,
                                           calibration_temperature)}
        return {outputs: logits}

    return serve


def _write_saved_model(model, path, info, outputs, loss, temperature,
                       calibration_temperature):
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serving_default",
        serving_function(model, info, outputs, loss, temperature,
                         calibration_temperature),
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


def _float_or_none(value):
    return None if value is None else float(value)


def export(model, path, format="saved_model", info=None, outputs="logits",
           loss=None, quantize="none", representative_data=None,
           temperature=None, calibration_temperature=None, overwrite=False,
           metadata=None):
    """Exports a model that takes raw ``uint8`` images, normalisation inside.

    The exported model takes ``uint8`` images of the data's image size
    ``(batch, H, W, C)`` (any batch size) and returns the logits (or the
    probabilities) as float32. A SavedModel has one signature,
    ``serving_default``, with one input ``images`` and one output named
    after ``outputs``. The metadata file (`metadata_path`) is written
    beside a ``.tflite`` file (``student.tflite`` -> ``student.json``) or
    inside a SavedModel folder (``export.json``). Missing parent folders
    are created; an existing output is refused unless ``overwrite``.

    Args:
        model: the trained Keras model (a student or a teacher).
        path: the output: a SavedModel folder, or a ``.tflite`` file.
        format: ``"saved_model"`` or ``"litert"`` (TensorFlow Lite).
        info: the `DatasetInfo` of the training data (required):
            `keras_mixkd.data.load` returns it; for one's own data,
            `keras_mixkd.data.DatasetInfo.for_model` makes it from the
            normalisation and the class names.
        outputs: ``"logits"`` or ``"probabilities"``.
        loss: for ``"probabilities"`` (required there): the loss the model
            was trained with, ``"mixstd"``, ``"kd"``, ``"ls"`` or ``"ce"``
            (see `probabilities`).
        quantize: ``"none"``, ``"float16"`` or ``"int8"`` (LiteRT only;
            int8 weights and activations, calibrated on
            ``representative_data``; the input stays raw ``uint8`` images
            and the output float32).
        representative_data: for ``"int8"``: training images, raw ``uint8``
            or a pipeline as `keras_mixkd.data.load` yields (see
            `raw_images`); at most `CALIBRATION_IMAGES` are used.
        temperature: for ``"probabilities"`` of a ``"mixstd"`` student: the
            base temperature it was trained with (None: 1).
        calibration_temperature: for ``"probabilities"``: a calibration
            temperature T baked into the file
            (`keras_mixkd.exporting.fit_calibration` fits one on held-out
            data); recorded in the metadata. None: no calibration.
        overwrite: replace an existing output (and its metadata file);
            otherwise an existing one is an error, raised before anything
            is written.
        metadata: more JSON-ready entries for the metadata file (e.g. how
            the temperature was fitted).

    Returns:
        The output path (a `pathlib.Path`).

    Raises:
        ValueError: on a bad argument, before anything is written;
            `OutputExistsError` (a `FileExistsError` and a `ValueError`)
            when the output exists and ``overwrite`` is False.

    Example:

    >>> keras_mixkd.export(student, "out/student", info=info)
    >>> keras_mixkd.export(student, "out/student.tflite", format="litert",
    ...                    info=info, outputs="probabilities", loss="mixstd",
    ...                    calibration_temperature=0.2)
    """
    _choose("format", format, FORMATS)
    _choose("outputs", outputs, OUTPUTS)
    _choose("quantize", quantize, QUANTIZATIONS)
    _check_fits(model, info)
    if outputs == "probabilities":
        _check_loss(loss)
        check_temperature(loss, temperature)
        _check_calibration(calibration_temperature)
    elif temperature is not None or calibration_temperature is not None:
        raise ValueError("`temperature` and `calibration_temperature` apply "
                         "to outputs='probabilities' only.")
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
    check_output(path, format, overwrite)
    contents = {**export_metadata(info), "outputs": outputs}
    if outputs == "probabilities":
        contents.update(
            trained_loss=loss,
            trained_temperature=_float_or_none(temperature),
            calibration_temperature=_float_or_none(calibration_temperature))
    contents.update(metadata or {})
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(target):
        if format == "saved_model":
            _write_saved_model(model, target, info, outputs, loss,
                               temperature, calibration_temperature)
            return
        with tempfile.TemporaryDirectory() as tmp:
            saved = pathlib.Path(tmp) / "saved_model"
            _write_saved_model(model, saved, info, outputs, loss,
                               temperature, calibration_temperature)
            target.write_bytes(_litert_bytes(saved, quantize,
                                             representative_data, info))

    replace_output(path, format, write, json.dumps(contents, indent=2) + "\n")
    return path
