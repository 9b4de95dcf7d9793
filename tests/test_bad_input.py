"""Bad input fails with a clear error before any weight changes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mixkd
from tests.helpers import CLASSES
from tests.helpers import tiny_data
from tests.helpers import tiny_model


@pytest.fixture
def distiller():
    d = keras_mixkd.Distiller(student=tiny_model("student", seed=1),
                              teacher=tiny_model("teacher", seed=7))
    d.compile(optimizer="sgd")
    return d


def _fails_without_update(distiller, error, match, *args, **kwargs):
    before = [w.copy() for w in distiller.student.get_weights()]
    teacher_before = [w.copy() for w in distiller.teacher.get_weights()]
    with pytest.raises(error, match=match):
        distiller.fit(*args, verbose=0, **kwargs)
    for a, b in zip(before + teacher_before,
                    distiller.student.get_weights()
                    + distiller.teacher.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad_label", [CLASSES, -1, 100])
def test_labels_outside_the_classes(distiller, bad_label):
    x, y = tiny_data(8)
    y[3] = bad_label
    _fails_without_update(distiller, tf.errors.InvalidArgumentError,
                          r"class indices in \[0, 5\)", x, y, batch_size=8)


def test_one_hot_of_another_width(distiller):
    x, y = tiny_data(8)
    _fails_without_update(distiller, ValueError, "width 3",
                          x, np.eye(3, dtype="float32")[y % 3], batch_size=8)


def test_images_that_are_not_4d():
    student = keras.Sequential([keras.Input((12,)), keras.layers.Dense(CLASSES)])
    teacher = keras.Sequential([keras.Input((12,)), keras.layers.Dense(CLASSES)])
    d = keras_mixkd.Distiller(student=student, teacher=teacher)
    d.compile(optimizer="sgd")
    x = np.random.default_rng(0).normal(size=(8, 12)).astype("float32")
    _fails_without_update(d, ValueError, "4-D batch", x,
                          np.zeros(8, "int64"), batch_size=8)
    # Without a mixer, non-image inputs are fine.
    d = keras_mixkd.Distiller(student=student, teacher=teacher, mixer=None)
    d.compile(optimizer="sgd")
    d.fit(x, np.zeros(8, "int64"), batch_size=8, verbose=0)


def test_wrong_channel_count(distiller):
    x = np.zeros((8, 8, 8, 1), "float32")
    _fails_without_update(distiller, ValueError, r"expects \(8, 8, 3\): 1 "
                          "channels against 3", x, np.zeros(8, "int64"),
                          batch_size=8)


def test_integer_images(distiller):
    x = np.zeros((8, 8, 8, 3), "uint8")
    _fails_without_update(distiller, ValueError, "Images are uint8", x,
                          np.zeros(8, "int64"), batch_size=8)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_or_inf_in_images(distiller, value):
    x, y = tiny_data(8)
    x[2, 1, 1, 0] = value
    _fails_without_update(distiller, tf.errors.InvalidArgumentError,
                          "NaN or Inf", x, y, batch_size=8)


def test_nan_in_one_hot_labels(distiller):
    x, y = tiny_data(8)
    labels = np.eye(CLASSES, dtype="float32")[y]
    labels[0, 0] = np.nan
    _fails_without_update(distiller, tf.errors.InvalidArgumentError,
                          "NaN or Inf", x, labels, batch_size=8)


def test_empty_dataset(distiller):
    x, y = tiny_data(8)
    empty = tf.data.Dataset.from_tensor_slices((x, y)).take(0).batch(4)
    _fails_without_update(distiller, ValueError, "empty", empty)
    _fails_without_update(distiller, ValueError, "empty", x[:0], y[:0])


def test_evaluate_checks_labels_too(distiller):
    x, y = tiny_data(8)
    y[0] = 99
    with pytest.raises(tf.errors.InvalidArgumentError, match="class indices"):
        distiller.evaluate(x, y, verbose=0)


def _jit_distiller():
    d = keras_mixkd.Distiller(student=tiny_model("student", seed=1),
                              teacher=tiny_model("teacher", seed=7))
    d.compile(optimizer="sgd", jit_compile=True)
    return d


def test_xla_steps_still_check_array_inputs():
    # XLA drops in-graph assertions; the Distiller checks before compiling.
    d = _jit_distiller()
    x, y = tiny_data(8)
    y[1] = CLASSES
    _fails_without_update(d, tf.errors.InvalidArgumentError, "class indices",
                          x, y, batch_size=8)


def test_xla_steps_check_datasets_in_the_pipeline():
    d = _jit_distiller()
    x, y = tiny_data(16)
    x[9, 0, 0, 0] = np.nan
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or Inf"):
        d.fit(ds, verbose=0)


def test_xla_refuses_keras_mixup_layers():
    d = keras_mixkd.Distiller(student=tiny_model("student"),
                              teacher=tiny_model("teacher"), mixer="mixup")
    with pytest.raises(ValueError, match="XLA cannot compile"):
        d.compile(optimizer="sgd", jit_compile=True)
