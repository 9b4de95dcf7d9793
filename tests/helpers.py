"""Tiny models and data shared by the tests."""

import importlib.util
import pathlib

import keras
import numpy as np

IMAGE_SHAPE = (8, 8, 3)
CLASSES = 5


def tiny_model(name, classes=CLASSES, hidden=16, seed=0, batch_norm=False,
               first_layer=None):
    """A small dense classifier on 8x8x3 images (no BN unless asked)."""
    inputs = keras.Input(IMAGE_SHAPE)
    x = inputs if first_layer is None else first_layer(inputs)
    x = keras.layers.Flatten()(x)
    init = keras.initializers.GlorotUniform(seed=seed)
    x = keras.layers.Dense(hidden, kernel_initializer=init)(x)
    if batch_norm:
        x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    outputs = keras.layers.Dense(
        classes, kernel_initializer=keras.initializers.GlorotUniform(seed + 1))(x)
    return keras.Model(inputs, outputs, name=name)


def numeric_grad(fn, x, h=1e-6):
    """Central finite differences of a scalar NumPy function at ``x``."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (fn(up) - fn(down)) / (2 * h)
    return grad


def scaled_softmax(z, tau):
    """``softmax(z / (tau * std(z)))`` per row (unbiased std), in float64."""
    z = np.asarray(z, "float64")
    z = z / (tau * z.std(axis=1, ddof=1, keepdims=True))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def tiny_data(n=32, classes=CLASSES, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(n, *IMAGE_SHAPE)).astype("float32")
    labels = rng.integers(0, classes, n).astype("int64")
    return images, labels


@keras.saving.register_keras_serializable(package="keras_mixkd_tests")
class Recorder(keras.layers.Layer):
    """Identity layer that stores the last batch it saw and counts calls."""

    def __init__(self, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.batch_size = batch_size

    def build(self, input_shape):
        self.seen = self.add_weight(
            shape=(self.batch_size, *input_shape[1:]), initializer="zeros",
            trainable=False, name="seen")
        self.calls = self.add_weight(shape=(), initializer="zeros",
                                     trainable=False, name="calls")

    def call(self, x):
        self.seen.assign(keras.ops.cast(x, self.seen.dtype))
        self.calls.assign_add(1.0)
        return x

    def get_config(self):
        return {**super().get_config(), "batch_size": self.batch_size}


def write_image_folder(path, classes=3, per_class=8, test_per_class=4,
                       size=(20, 24), seed=0):
    """An image folder of RGB PNGs: ``train/`` and ``test/`` class folders.

    Class ``c`` is brighter in channel ``c % 3``, so a few epochs learn it.

    Returns:
        The folder, for ``--dataset=folder:PATH``.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    path = pathlib.Path(path)
    for split, count in (("train", per_class), ("test", test_per_class)):
        for label in range(classes):
            folder = path / split / f"class_{label}"
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                image = rng.integers(0, 80, (*size, 3)).astype("uint8")
                image[..., label % 3] += 150
                Image.fromarray(image).save(folder / f"{index}.png")
    return path


def load_script(name):
    """The module of ``scripts/<name>.py`` (the scripts are not a package)."""
    path = pathlib.Path(__file__).resolve().parents[1] / "scripts" / (
        f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_mirrored_matches_single_device(build, x, y, init):
    """One step of ``build()``'s Distiller (built inside a strategy's scope)
    on one device and on two logical CPUs: the same student weights and
    loss, and the step changed the weights ``init``."""
    import tensorflow as tf

    cpus = tf.config.list_logical_devices("CPU")
    assert len(cpus) >= 2, "conftest configures two logical CPUs"

    def one_step(strategy):
        with strategy.scope():
            d = build()
        history = d.fit(x, y, batch_size=len(x), epochs=1, shuffle=False,
                        verbose=0).history
        return d.student.get_weights(), history["loss"][0]

    single, loss_single = one_step(tf.distribute.OneDeviceStrategy("/cpu:0"))
    # No collective ops: their instance keys clash with those of other
    # strategies created earlier in the same process.
    mirrored, loss_mirrored = one_step(tf.distribute.MirroredStrategy(
        [c.name for c in cpus[:2]],
        cross_device_ops=tf.distribute.ReductionToOneDevice()))
    assert any(not np.allclose(a, b) for a, b in zip(init, single))
    for a, b in zip(single, mirrored):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss_single, loss_mirrored, rtol=1e-5)


def interrupt_at_second_epoch(monkeypatch, run):
    """Calls ``run()`` with a `KeyboardInterrupt` raised as its second epoch
    begins (a run folder's callbacks gain the interruption)."""
    import pytest

    from keras_mixkd.training import RunFolder

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt("simulated")

    original = RunFolder.callbacks
    with monkeypatch.context() as patch:
        patch.setattr(RunFolder, "callbacks", lambda self, *a, **k: (
            original(self, *a, **k) + [Interrupt()]))
        with pytest.raises(KeyboardInterrupt):
            run()
