"""DIST against a numpy transcription of the reference code: values,
gradients, invariants, and its batch-level term under a strategy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mixkd
from keras_mixkd import losses
from tests.helpers import numeric_grad
from tests.helpers import tiny_data
from tests.helpers import tiny_model
from tests.losses.test_dkd import _softmax
from tests.losses.test_dkd import _tf_value_and_grad


def reference_dist(student, teacher, beta=1.0, gamma=1.0, tau=1.0):
    """numpy transcription of the DIST reference code (``DIST.forward``)."""
    def cosine_similarity(a, b, eps=1e-8):
        return (a * b).sum(1) / (np.linalg.norm(a, axis=1)
                                 * np.linalg.norm(b, axis=1) + eps)

    def pearson_correlation(a, b, eps=1e-8):
        return cosine_similarity(a - a.mean(1)[:, None],
                                 b - b.mean(1)[:, None], eps)

    def inter_class_relation(y_s, y_t):
        return 1 - pearson_correlation(y_s, y_t).mean()

    def intra_class_relation(y_s, y_t):
        return inter_class_relation(y_s.T, y_t.T)

    y_s, y_t = _softmax(student / tau), _softmax(teacher / tau)
    inter_loss = tau**2 * inter_class_relation(y_s, y_t)
    intra_loss = tau**2 * intra_class_relation(y_s, y_t)
    return beta * inter_loss + gamma * intra_loss


@pytest.mark.parametrize("beta,gamma,tau", [(1.0, 1.0, 1.0), (2.0, 0.5, 4.0)])
def test_matches_reference_value_and_gradient(beta, gamma, tau):
    rng = np.random.default_rng(0)
    teacher, student = rng.normal(size=(6, 5)) * 3, rng.normal(size=(6, 5))
    value, grad = _tf_value_and_grad(
        lambda s: losses.dist_loss(teacher, s, beta, gamma, tau), student)
    np.testing.assert_allclose(
        value, reference_dist(student, teacher, beta, gamma, tau), rtol=1e-9)
    numeric = numeric_grad(
        lambda s: reference_dist(s, teacher, beta, gamma, tau), student)
    np.testing.assert_allclose(grad, numeric, rtol=0, atol=1e-7)


def test_terms_by_hand():
    # Two samples, two classes: every centred row and column is +-(d, -d),
    # so each Pearson correlation is +1 or -1.
    teacher = np.array([[2.0, 0.0], [0.0, 1.0]])
    student = np.array([[0.0, 3.0], [1.0, 0.0]])  # every ranking reversed
    # inter = 1 - (-1) = 2 per sample; intra = 1 - (-1) = 2 per class.
    np.testing.assert_allclose(losses.dist_loss(teacher, student, 1.0, 0.0),
                               2.0, rtol=1e-6)
    np.testing.assert_allclose(losses.dist_loss(teacher, student, 0.0, 1.0),
                               2.0, rtol=1e-6)
    np.testing.assert_allclose(losses.dist_loss(teacher, teacher), 0.0,
                               atol=1e-6)


def test_invariants():
    rng = np.random.default_rng(1)
    t, s = rng.normal(size=(8, 10)), rng.normal(size=(8, 10))
    # Identical logits: both correlations are 1 (up to the 1e-8 epsilon).
    assert abs(float(losses.dist_loss(t, t))) < 1e-5
    # Per-row logit shifts leave the softmaxes, hence the loss, unchanged.
    np.testing.assert_allclose(
        losses.dist_loss(t + rng.normal(size=(8, 1)), s + 5.0),
        losses.dist_loss(t, s), rtol=1e-9)
    # The batch order does not matter.
    order = rng.permutation(8)
    np.testing.assert_allclose(losses.dist_loss(t[order], s[order]),
                               losses.dist_loss(t, s), rtol=1e-9)
    # Bounded: each term lies in [0, 2], times T^2.
    value = float(losses.dist_loss(t, s, temperature=3.0))
    assert 0.0 < value <= 2 * 2 * 9.0
    # Per-sample values carry the batch's intra term on every row.
    inter = losses.dist_per_sample(t, s, 1.0, 0.0)
    intra = losses.dist_per_sample(t, s, 0.0, 1.0)
    np.testing.assert_allclose(intra, np.full(8, float(np.mean(intra))))
    np.testing.assert_allclose(losses.dist_per_sample(t, s), inter + intra,
                               rtol=1e-12)


def test_batch_of_one_is_finite():
    # A single sample: every class column is constant, its correlation 0.
    s = tf.constant([[1.0, 2.0, 0.5]])
    with tf.GradientTape() as tape:
        tape.watch(s)
        value = losses.dist_loss([[0.0, 3.0, 1.0]], s)
    assert np.isfinite(value.numpy())
    assert np.all(np.isfinite(tape.gradient(value, s).numpy()))


def test_loss_class_round_trip():
    rng = np.random.default_rng(2)
    t, s = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    loss = losses.DISTLoss(beta=2.0, gamma=0.5, temperature=2.0)
    assert not losses.requires_labels(loss)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss))
    assert type(restored) is losses.DISTLoss
    assert restored.get_config() == loss.get_config()
    np.testing.assert_allclose(restored(t, s),
                               reference_dist(s, t, 2.0, 0.5, 2.0), rtol=1e-5)
    kd = losses.get("dist")
    assert (kd.beta, kd.gamma, kd.temperature) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="gamma"):
        losses.DISTLoss(gamma=-1.0)


@pytest.mark.parametrize("mixer", ["fmu", "pmu"])
def test_distiller_fit_step(mixer):
    x, y = tiny_data(16)
    d = keras_mixkd.Distiller(student=tiny_model("student", seed=1),
                              teacher=tiny_model("teacher", seed=7),
                              mixer=mixer, distillation_loss="dist", seed=2,
                              ce_weight=1.0, kd_weight=1.0)
    d.compile(optimizer="sgd", metrics=["accuracy"])
    history = d.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(history["kd_loss"][0]) and history["kd_loss"][0] > 0


def test_mirrored_strategy_averages_each_replicas_intra_term():
    """Two replicas, batch 8: each computes DIST on its 4 samples."""
    cpus = tf.config.list_logical_devices("CPU")
    assert len(cpus) >= 2, "conftest configures two logical CPUs"
    x, y = tiny_data(8)
    with tf.distribute.MirroredStrategy([c.name for c in cpus[:2]]).scope():
        d = keras_mixkd.Distiller(student=tiny_model("student", seed=1),
                                  teacher=tiny_model("teacher", seed=7),
                                  mixer=None, distillation_loss="dist",
                                  ce_weight=0.0, kd_weight=1.0)
        d.compile(optimizer=keras.optimizers.SGD(0.01))
    t = d.teacher.predict(x, verbose=0).astype("float64")
    s = d.student.predict(x, verbose=0).astype("float64")
    history = d.fit(x, y, batch_size=8, epochs=1, shuffle=False,
                    verbose=0).history
    halves = [reference_dist(s[i:i + 4], t[i:i + 4]) for i in (0, 4)]
    np.testing.assert_allclose(history["kd_loss"][0], np.mean(halves),
                               rtol=1e-5)
    assert abs(np.mean(halves) - reference_dist(s, t)) > 1e-3
