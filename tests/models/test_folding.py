"""The frozen teacher's inference path: BatchNorm folding, teacher_dtype."""

import keras
import numpy as np
import pytest

import keras_mixkd
from keras_mixkd.models import folding
from keras_mixkd import models
from tests.helpers import Recorder
from tests.helpers import tiny_data
from tests.helpers import tiny_model


def _randomised(name, classes=10, seed=0):
    """A zoo model whose BatchNorms have non-trivial statistics."""
    keras.utils.set_random_seed(seed)
    model = models.create(name, num_classes=classes)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.gamma.assign(rng.uniform(0.5, 2.0, c))
            layer.beta.assign(rng.normal(0, 0.5, c))
            layer.moving_mean.assign(rng.normal(0, 0.5, c))
            layer.moving_variance.assign(rng.uniform(0.3, 3.0, c))
    return model


def _images(n=4, seed=1):
    return np.random.default_rng(seed).normal(
        size=(n, 32, 32, 3)).astype("float32")


@pytest.mark.parametrize("name,folded", [("resnet8", 9), ("wrn_16_1", 6)])
def test_folded_logits_equal_the_models(name, folded):
    # resnet8: every BatchNorm follows its convolution (stem, 2 in each of
    # 3 blocks, 2 projections). wrn_16_1 is pre-activation: only bn2 of
    # each of its 6 blocks follows a convolution; the other 7 of its 13
    # BatchNorms precede theirs and stay.
    model = _randomised(name)
    frozen = folding.FrozenInference(model)
    assert len(frozen.pairs) == folded
    x = _images()
    want = np.asarray(model(x, training=False))
    got = np.asarray(frozen(x))
    np.testing.assert_allclose(got, want, rtol=1e-4,
                               atol=1e-4 * np.abs(want).max())


def test_sync_follows_the_models_new_weights():
    model = _randomised("resnet8")
    folded = folding.fold_batch_norm(model)
    frozen = folding.FrozenInference(model)
    other = _randomised("resnet8", seed=5)
    model.set_weights(other.get_weights())
    x = _images()
    want = np.asarray(model(x, training=False))
    assert not np.allclose(np.asarray(frozen(x)), want, rtol=1e-3)
    frozen.sync()
    np.testing.assert_allclose(np.asarray(frozen(x)), want, rtol=1e-4,
                               atol=1e-4 * np.abs(want).max())
    assert folded is not frozen.model  # fold_batch_norm: a snapshot


def test_lower_precision_copy_runs_in_bfloat16():
    model = _randomised("resnet8")
    frozen = folding.FrozenInference(model, dtype="bfloat16")
    assert {layer.compute_dtype for layer in frozen.model.layers
            if layer.weights} == {"bfloat16"}
    x = _images()
    want = np.asarray(model(x, training=False))
    got = np.asarray(frozen(x)).astype("float32")
    scale = np.abs(want).max()
    assert np.abs(got - want).max() < 0.05 * scale  # bfloat16: ~3 digits
    assert np.abs(got - want).max() > 0  # really in bfloat16


def _fit_losses(monkeypatch=None, **kwargs):
    keras.utils.set_random_seed(0)
    teacher, student = _randomised("resnet8"), _randomised("resnet8", seed=3)
    x = _images(16)
    y = np.arange(16) % 10
    d = keras_mixkd.Distiller(student=student, teacher=teacher, seed=1,
                              **kwargs)
    d.compile(optimizer=keras.optimizers.SGD(0.01))
    history = d.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    return d, np.asarray(history.history["loss"])


def test_distiller_teacher_options_keep_the_loss():
    plain, loss = _fit_losses()
    assert plain._teacher_inference is None  # float32: no copy by default
    folded, loss_folded = _fit_losses(fold_teacher=True)
    assert folded._teacher_inference.pairs
    np.testing.assert_allclose(loss_folded, loss, rtol=1e-5)
    low, loss_low = _fit_losses(teacher_dtype="bfloat16")
    assert low._teacher_inference.pairs  # auto: folded below float32
    np.testing.assert_allclose(loss_low, loss, rtol=2e-2)
    # The copy is neither tracked nor saved with the Distiller.
    assert len(low.weights) == len(plain.weights)
    config = low.get_config()
    assert config["teacher_dtype"] == "bfloat16"
    assert config["fold_teacher"] is None


def test_teacher_with_side_effects_is_not_copied_by_default():
    x, y = tiny_data(8)
    teacher = tiny_model("t", seed=7, first_layer=Recorder(8, name="rt"))
    d = keras_mixkd.Distiller(student=tiny_model("s"), teacher=teacher,
                              teacher_dtype=None)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        d2 = keras_mixkd.Distiller(
            student=tiny_model("s2"),
            teacher=tiny_model("t2", first_layer=Recorder(8, name="rt2")))
        d2.compile(optimizer="sgd")
        d2.fit(x, y, batch_size=8, epochs=1, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert d2._teacher_inference is None  # a custom layer: never cloned
    assert d2.teacher.get_layer("rt2").calls.numpy() == 1
    assert d._teacher_inference is None


@pytest.mark.parametrize("kwargs,match", [
    ({"teacher_dtype": "int8"}, "teacher_dtype|dtype"),
    ({"fold_teacher": "yes"}, "fold_teacher"),
])
def test_bad_teacher_options_fail_up_front(kwargs, match):
    with pytest.raises(ValueError, match=match):
        keras_mixkd.Distiller(student=tiny_model("s"),
                              teacher=tiny_model("t"), **kwargs)


def test_subclassed_teacher_cannot_be_copied():
    class Teacher(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(5)

        def call(self, x):
            return self.dense(keras.ops.reshape(x, (-1, 192)))

    with pytest.raises(ValueError, match="functional"):
        keras_mixkd.Distiller(student=tiny_model("s"), teacher=Teacher(),
                              teacher_dtype="bfloat16")


def _first_batch_loss(how, **kwargs):
    keras.utils.set_random_seed(0)
    teacher, student = _randomised("resnet8"), _randomised("resnet8", seed=3)
    x, y = _images(8), np.arange(8) % 10
    d = keras_mixkd.Distiller(student=student, teacher=teacher, seed=1,
                              mixer=None, **kwargs)
    d.compile(optimizer=keras.optimizers.SGD(0.01))
    if how == "train_on_batch":
        loss = d.train_on_batch(x, y, return_dict=True)["loss"]
    else:  # a custom loop of one eager step
        d.optimizer.build(d.trainable_variables)
        loss = d.train_step((x, keras.ops.one_hot(y, 10)))["loss"]
    return d, float(loss)


@pytest.mark.parametrize("how", ["train_on_batch", "train_step"])
def test_teacher_options_apply_outside_fit(how):
    plain, loss = _first_batch_loss(how)
    assert plain._teacher_inference is None
    folded, loss_folded = _first_batch_loss(how, fold_teacher=True)
    assert folded._teacher_inference.pairs
    np.testing.assert_allclose(loss_folded, loss, rtol=1e-5)
    low, loss_low = _first_batch_loss(how, teacher_dtype="bfloat16")
    assert {layer.compute_dtype for layer in low._teacher_inference.model.layers
            if layer.weights} == {"bfloat16"}
    np.testing.assert_allclose(loss_low, loss, rtol=2e-2)
    assert loss_low != loss  # the bfloat16 copy really ran
