"""Running and timing an exported file: `run_exported`, `measure`.

Both take raw ``uint8`` images, as the exported file does, and run a
SavedModel folder or a LiteRT ``.tflite`` file written by
`keras_mixkd.export`.

Example:

>>> probs = run_exported("out/student.tflite", raw_test_images)
>>> measure("out/student.tflite", raw_test_images[:100])["latency_ms"]
"""

import os
import pathlib
import time
import warnings

import numpy as np
import tensorflow as tf

from keras_mixkd._stderr import c_stderr_dropped
from keras_mixkd.exporting.model_file import FORMATS
from keras_mixkd.exporting.model_file import _choose


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
        with c_stderr_dropped():  # "INFO: Created ... XNNPACK delegate"
            interpreter = tf.lite.Interpreter(model_path=os.fspath(path))
            interpreter.allocate_tensors()
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
