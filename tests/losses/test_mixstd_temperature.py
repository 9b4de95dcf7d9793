"""MIXSTD's base temperature tau: each sample's temperature is tau * std(z).

tau = 1 must stay the official formula to the last bit; tau != 1 is checked
against an independent NumPy/SciPy reference, values and gradients.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import special

from keras_mixkd import losses
from keras_mixkd.losses.keras_adapters import MixStdDistillationLoss
from keras_mixkd.losses._common import _kl_per_sample
from keras_mixkd.losses._common import _soft_ce_per_sample
from tests.helpers import numeric_grad


def _logits(seed, shape=(7, 10), scale=3.0, dtype="float64"):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shape) * scale + rng.normal(size=shape[:1] + (1,))
            ).astype(dtype)


def _targets(seed, n=7, classes=10):
    """Mixed one-hot labels, as partial mixup makes them."""
    rng = np.random.default_rng(seed)
    lam = rng.uniform(size=(n, 1))
    eye = np.eye(classes)
    return lam * eye[rng.integers(0, classes, n)] + (1 - lam) * eye[
        rng.integers(0, classes, n)]


def _ref_scaled(z, tau):
    return z / (tau * np.std(z, axis=1, ddof=1, keepdims=True))


def _ref_kd(t, s, tau):
    """mean_i KL(softmax(t_i/(tau std t_i)) || softmax(s_i/(tau std s_i)))."""
    p = special.softmax(_ref_scaled(t, tau), axis=1)
    log_q = special.log_softmax(_ref_scaled(s, tau), axis=1)
    return np.mean(np.sum(special.rel_entr(p, np.exp(log_q)), axis=1))


def _ref_ce(y, s, tau):
    return np.mean(-np.sum(y * special.log_softmax(_ref_scaled(s, tau),
                                                   axis=1), axis=1))


def _value_and_grad(fn, s):
    s = tf.constant(s)
    with tf.GradientTape() as tape:
        tape.watch(s)
        value = fn(s)
    return value.numpy(), tape.gradient(value, s).numpy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("seed", range(3))
def test_tau_one_is_bit_identical_to_the_official_formula(seed, dtype):
    t, s = _logits(seed, dtype=dtype), _logits(seed + 10, dtype=dtype)
    y = _targets(seed).astype(dtype)

    def before(s):  # the formula of the release without a temperature
        kd = _kl_per_sample(losses.standardize_logits(t),
                            losses.standardize_logits(s))
        ce = _soft_ce_per_sample(y, losses.standardize_logits(s))
        return 0.9 * tf.reduce_mean(kd) + 0.1 * tf.reduce_mean(ce)

    def now(s, **tau):
        return (0.9 * losses.std_kd_divergence(t, s, **tau)
                + 0.1 * losses.std_cross_entropy(y, s, **tau))

    expected = _value_and_grad(before, s)
    for tau in ({}, {"temperature": 1.0}, {"temperature": 1}):
        for actual, wanted in zip(_value_and_grad(lambda z: now(z, **tau), s),
                                  expected):
            np.testing.assert_array_equal(actual, wanted)
    # Also compiled, as the Distiller runs it, and through the classes.
    kd_loss, ce_loss = losses.get("mixstd"), losses.student_loss("mixstd")
    compiled = tf.function(lambda s: (kd_loss.call(t, s), ce_loss.call(y, s)))
    kd, ce = compiled(tf.constant(s))
    np.testing.assert_array_equal(
        kd, tf.function(lambda s: _kl_per_sample(
            losses.standardize_logits(t), losses.standardize_logits(s)))(s))
    np.testing.assert_array_equal(
        ce, tf.function(lambda s: _soft_ce_per_sample(
            y, losses.standardize_logits(s)))(s))


@pytest.mark.parametrize("tau", [0.29, 0.5, 2.0])
@pytest.mark.parametrize("seed", range(2))
def test_values_and_gradients_match_a_scipy_reference(tau, seed):
    t, s, y = _logits(seed), _logits(seed + 20, scale=2.0), _targets(seed)
    kd, kd_grad = _value_and_grad(
        lambda z: losses.std_kd_divergence(t, z, temperature=tau), s)
    ce, ce_grad = _value_and_grad(
        lambda z: losses.std_cross_entropy(y, z, temperature=tau), s)
    np.testing.assert_allclose(kd, _ref_kd(t, s, tau), rtol=1e-10)
    np.testing.assert_allclose(ce, _ref_ce(y, s, tau), rtol=1e-10)
    for grad, ref in ((kd_grad, lambda z: _ref_kd(t, z, tau)),
                      (ce_grad, lambda z: _ref_ce(y, z, tau))):
        numeric = numeric_grad(ref, s)
        assert np.abs(grad - numeric).max() <= 1e-6 * np.abs(numeric).max()
    # No tau^2 factor: logit standardization at the same tau is tau^2 times.
    np.testing.assert_allclose(
        kd * tau**2, losses.logit_standardization_divergence(t, s, tau),
        rtol=1e-10)


def test_tau_sharpens_or_softens_the_targets():
    t = _logits(0)
    p = {tau: special.softmax(np.asarray(losses.scaled_logits(t, tau)), 1)
         for tau in (0.29, 1.0, 2.0)}
    assert np.all(p[0.29].max(1) > p[1.0].max(1))
    assert np.all(p[2.0].max(1) < p[1.0].max(1))


def test_the_ceiling_formula():
    for k in (2, 10, 100):
        one_up = np.zeros((1, k))
        one_up[0, 0] = 1.0  # the top z-score's maximiser
        z = (one_up - one_up.mean()) / one_up.std(ddof=1)
        np.testing.assert_allclose(losses.max_z_score(k), z.max(), rtol=1e-12)
        random = _logits(k, (200, k))
        z = (random - random.mean(1, keepdims=True)) / random.std(
            1, ddof=1, keepdims=True)
        assert z.max() <= losses.max_z_score(k) * (1 + 1e-12)
    np.testing.assert_allclose(losses.max_z_score(100), 9.9, rtol=1e-12)
    tau = losses.ceiling_matching_temperature(10)
    np.testing.assert_allclose(tau, (9 / math.sqrt(10)) / (99 / 10),
                               rtol=1e-12)
    assert round(tau, 2) == 0.29
    # At that tau, 10 classes reach CIFAR-100's top probability ceiling
    # margin: the top scaled z-score is 9.9.
    one_up = np.eye(10)[:1]
    np.testing.assert_allclose(
        np.max(losses.scaled_logits(one_up, tau)), 9.9, rtol=1e-6)
    with pytest.raises(ValueError, match="num_classes"):
        losses.max_z_score(1)


@pytest.mark.parametrize("cls,first", [(losses.StdKDDivergence, "teacher"),
                                       (losses.StdCrossEntropy, "targets")])
def test_classes_take_and_round_trip_the_temperature(cls, first):
    t, s, y = _logits(1, dtype="float32"), _logits(2, dtype="float32"), (
        _targets(1).astype("float32"))
    a = t if first == "teacher" else y
    loss = cls(temperature=0.5)
    assert loss.get_config()["temperature"] == 0.5
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss))
    assert type(restored) is cls and restored.temperature == 0.5
    reference = (_ref_kd(t.astype("float64"), s.astype("float64"), 0.5)
                 if first == "teacher" else
                 _ref_ce(y.astype("float64"), s.astype("float64"), 0.5))
    np.testing.assert_allclose(restored(a, s), reference, rtol=1e-5)
    # A config saved before the temperature existed loads at tau = 1.
    config = loss.get_config()
    del config["temperature"]
    assert cls.from_config(config).temperature == 1.0
    with pytest.raises(ValueError, match="`temperature` must be > 0"):
        cls(temperature=0.0)


def test_keras_distillation_adapter():
    t, s = _logits(3, dtype="float32"), _logits(4, dtype="float32")
    loss = MixStdDistillationLoss(temperature=0.5)
    np.testing.assert_allclose(
        loss.compute_loss(t, s),
        _ref_kd(t.astype("float64"), s.astype("float64"), 0.5), rtol=1e-5)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss))
    assert restored.get_config() == {"ddof": 1, "temperature": 0.5}
    np.testing.assert_array_equal(restored.compute_loss(t, s),
                                  loss.compute_loss(t, s))
    np.testing.assert_array_equal(MixStdDistillationLoss().compute_loss(t, s),
                                  losses.std_kd_divergence(t, s))
