"""Shared pytest fixtures: the reference vectors of the official implementation."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPU devices, so tf.distribute.MirroredStrategy tests run on a
# CPU-only machine. This must happen before TensorFlow initialises devices.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

#: Reference vectors of the official implementation (see tests/fixtures/README.md).
REFERENCE_DIR = pathlib.Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def reference_dir():
    """``tests/fixtures``: the official reference vectors, part of every clone."""
    return REFERENCE_DIR


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same seeds."""
    import keras

    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session()
