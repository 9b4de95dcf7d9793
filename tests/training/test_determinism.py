"""Determinism: a seed and TensorFlow's op determinism give bit-identical runs.

In Python: ``keras.utils.set_random_seed(seed)`` and
``tf.config.experimental.enable_op_determinism()`` before building; on the
command line: ``--seed=N --deterministic``.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from keras_mixkd.cli import main as cli
from keras_mixkd.distiller import Distiller
from keras_mixkd.models import create
from tests.helpers import tiny_data
from tests.helpers import tiny_model


@pytest.fixture
def op_determinism():
    """Op determinism for one test (it is process-wide)."""
    was_enabled = tf_config.is_op_determinism_enabled()
    yield
    if not was_enabled:
        tf_config.disable_op_determinism()


def _distill(seed):
    """Two epochs of PMU + MIXSTD on a small conv student, from ``seed``."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    conv = dict(batch_norm=True, seed=seed)
    student = tiny_model("student", first_layer=keras.layers.Conv2D(
        4, 3, padding="same"), **conv)
    teacher = tiny_model("teacher", hidden=32, **conv)
    x, y = tiny_data(96)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(
        96, seed=seed).batch(32)
    distiller = Distiller(student=student, teacher=teacher, mixer="pmu")
    distiller.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                      metrics=["accuracy"])
    history = distiller.fit(ds, epochs=2, verbose=0)
    return [w.numpy() for w in student.weights], history.history


def _assert_identical(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_two_distiller_fits_from_one_seed_are_bit_identical(op_determinism):
    weights, history = _distill(seed=5)
    again, history_again = _distill(seed=5)
    _assert_identical(weights, again)
    assert history == history_again
    other, _ = _distill(seed=6)
    assert not all(np.array_equal(a, b) for a, b in zip(weights, other))


@pytest.mark.slow
def test_cli_deterministic_flag(op_determinism, tmp_path):
    teacher = tmp_path / "teacher.keras"
    create("resnet8", num_classes=10).save(teacher)
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert cli.run([
            "mixkd", "distill", "--teacher=resnet8",
            f"--teacher_weights={teacher}", "--student=resnet8",
            "--dataset=digits", "--epochs=1", "--batch_size=128",
            "--verbose=0", "--seed=3", "--deterministic",
            f"--output_dir={out}"]) == 0
        assert json.loads((out / "config.json").read_text())[
            "deterministic"] is True
        model = keras.saving.load_model(out / "checkpoints" / "last.keras")
        runs.append([w.numpy() for w in model.weights])
    _assert_identical(*runs)
