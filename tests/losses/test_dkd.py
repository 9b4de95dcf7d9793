"""DKD against a numpy transcription of mdistiller's ``dkd_loss`` and of the
three-way split for mixed labels: values, gradients, invariants."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mixkd
from keras_mixkd import losses
from keras_mixkd.mixing import PartialMixUp
from tests.helpers import CLASSES
from tests.helpers import numeric_grad
from tests.helpers import tiny_data
from tests.helpers import tiny_model


def _softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def _log_softmax(z):
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def _kl_sum(log_q, p):
    """torch's F.kl_div(log_q, p, size_average=False): sum p (log p - log_q)."""
    safe = np.where(p > 0, p, 1.0)
    return float(np.sum(np.where(p > 0, p * (np.log(safe) - log_q), 0.0)))


def mdistiller_dkd(student, teacher, target, alpha, beta, temperature):
    """Line-by-line numpy transcription of mdistiller's ``dkd_loss``."""
    batch = target.shape[0]
    gt_mask = np.zeros_like(student, dtype=bool)
    gt_mask[np.arange(batch), target] = True
    other_mask = ~gt_mask
    pred_student = _softmax(student / temperature)
    pred_teacher = _softmax(teacher / temperature)

    def cat_mask(t, mask1, mask2):
        return np.stack([(t * mask1).sum(1), (t * mask2).sum(1)], axis=1)

    pred_student = cat_mask(pred_student, gt_mask, other_mask)
    pred_teacher = cat_mask(pred_teacher, gt_mask, other_mask)
    tckd = _kl_sum(np.log(pred_student), pred_teacher) * temperature**2 / batch
    pred_teacher_2 = _softmax(teacher / temperature - 1000.0 * gt_mask)
    log_pred_student_2 = _log_softmax(student / temperature - 1000.0 * gt_mask)
    nckd = _kl_sum(log_pred_student_2, pred_teacher_2) * temperature**2 / batch
    return alpha * tckd + beta * nckd


def three_way_dkd(student, teacher, labels, alpha, beta, temperature):
    """The split for mixed labels, written per sample with explicit sets."""
    total = 0.0
    for s, t, y in zip(student, teacher, labels):
        ps, pt = (_softmax(v[None] / temperature)[0] for v in (s, t))
        support = [c for c in range(len(y)) if y[c] > 0]
        rest = [c for c in range(len(y)) if y[c] <= 0]
        bt = np.array([pt[c] for c in support] + [pt[rest].sum()])
        bs = np.array([ps[c] for c in support] + [ps[rest].sum()])
        keep = bt > 0
        tckd = np.sum(bt[keep] * np.log(bt[keep] / bs[keep]))
        nckd = 0.0
        if rest:
            qt, qs = pt[rest] / pt[rest].sum(), ps[rest] / ps[rest].sum()
            nckd = np.sum(qt * np.log(qt / qs))
        total += (alpha * tckd + beta * nckd) * temperature**2
    return total / len(labels)


def _tf_value_and_grad(fn, student):
    s = tf.constant(student, "float64")
    with tf.GradientTape() as tape:
        tape.watch(s)
        value = fn(s)
    return float(value), tape.gradient(value, s).numpy()


def _mixed_labels(rng, batch, classes):
    a, b = rng.integers(0, classes, batch), rng.integers(0, classes, batch)
    lam = rng.uniform(size=(batch, 1))
    lam[0] = 1.0          # a clean row of partial mixup
    b[1] = a[1]           # a sample mixed with its own class
    return lam * np.eye(classes)[a] + (1 - lam) * np.eye(classes)[b]


@pytest.mark.parametrize("alpha,beta,temperature", [(1.0, 8.0, 4.0),
                                                    (0.5, 2.0, 1.0)])
def test_one_hot_equals_mdistiller_value_and_gradient(alpha, beta, temperature):
    rng = np.random.default_rng(0)
    teacher, student = rng.normal(size=(6, 10)) * 3, rng.normal(size=(6, 10))
    target = rng.integers(0, 10, 6)
    expected = mdistiller_dkd(student, teacher, target, alpha, beta,
                              temperature)
    for labels in (target, np.eye(10)[target]):   # integer or one-hot
        value, grad = _tf_value_and_grad(lambda s: losses.dkd_loss(
            teacher, s, labels, alpha, beta, temperature), student)
        np.testing.assert_allclose(value, expected, rtol=1e-9)
        numeric = numeric_grad(lambda s: mdistiller_dkd(
            s, teacher, target, alpha, beta, temperature), student)
        np.testing.assert_allclose(grad, numeric, rtol=0, atol=1e-7)


def test_mixed_labels_three_way_split_value_and_gradient():
    rng = np.random.default_rng(1)
    teacher, student = rng.normal(size=(8, 7)) * 2, rng.normal(size=(8, 7))
    labels = _mixed_labels(rng, 8, 7)
    value, grad = _tf_value_and_grad(
        lambda s: losses.dkd_loss(teacher, s, labels), student)
    np.testing.assert_allclose(
        value, three_way_dkd(student, teacher, labels, 1.0, 8.0, 4.0),
        rtol=1e-9)
    numeric = numeric_grad(
        lambda s: three_way_dkd(s, teacher, labels, 1.0, 8.0, 4.0), student)
    np.testing.assert_allclose(grad, numeric, rtol=0, atol=1e-7)
    # One-hot rows of the mixed batch are scored as mdistiller would.
    one_hot = [0, 1]
    np.testing.assert_allclose(
        losses.dkd_loss(teacher[one_hot], student[one_hot], labels[one_hot]),
        mdistiller_dkd(student[one_hot], teacher[one_hot],
                       labels[one_hot].argmax(1), 1.0, 8.0, 4.0), rtol=1e-9)


def test_kd_decomposes_into_tckd_and_weighted_nckd():
    """KL chain rule: KD = TCKD + (1 - teacher's target mass) * NCKD."""
    rng = np.random.default_rng(2)
    teacher, student = rng.normal(size=(5, 6)) * 2, rng.normal(size=(5, 6))
    labels = _mixed_labels(rng, 5, 6)
    T = 3.0
    tckd = losses.dkd_per_sample(teacher, student, labels, 1.0, 0.0, T)
    nckd = losses.dkd_per_sample(teacher, student, labels, 0.0, 1.0, T)
    target_mass = np.sum(_softmax(teacher / T) * (labels > 0), axis=1)
    np.testing.assert_allclose(
        tckd + (1 - target_mass) * nckd,
        losses.kd_per_sample(teacher, student, T), rtol=1e-9)


def test_invariants():
    rng = np.random.default_rng(3)
    t = rng.normal(size=(4, 5))
    labels = _mixed_labels(rng, 4, 5)
    # Identical logits: 0; per-row shifts change nothing.
    assert abs(float(losses.dkd_loss(t, t, labels))) < 1e-12
    s = rng.normal(size=(4, 5))
    np.testing.assert_allclose(
        losses.dkd_loss(t + rng.normal(size=(4, 1)), s - 2.0, labels),
        losses.dkd_loss(t, s, labels), rtol=1e-9)
    # Labels over every class: no class outside the support, DKD is alpha*KD.
    smooth = np.full((4, 5), 0.2)
    np.testing.assert_allclose(
        losses.dkd_loss(t, s, smooth, alpha=2.0),
        2.0 * losses.kd_divergence(t, s, 4.0), rtol=1e-9)


def test_float32_gradients_are_finite_at_extreme_logits():
    t = tf.constant([[80.0, -80.0, 0.0], [0.0, 0.0, 0.0]])
    s = tf.constant([[-90.0, 90.0, 0.0], [1.0, 2.0, 3.0]])
    labels = tf.constant([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    with tf.GradientTape() as tape:
        tape.watch(s)
        value = losses.dkd_loss(t, s, labels, temperature=1.0)
    assert np.isfinite(value.numpy())
    assert np.all(np.isfinite(tape.gradient(value, s).numpy()))


def test_loss_class_round_trip_and_label_target():
    rng = np.random.default_rng(4)
    t, s = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    labels = _mixed_labels(rng, 6, 5).astype("float32")
    loss = losses.DKDLoss(alpha=0.5, beta=4.0, temperature=2.0)
    assert losses.requires_labels(loss)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss))
    assert type(restored) is losses.DKDLoss
    assert restored.get_config() == loss.get_config()
    y_true = {"teacher_logits": t, "labels": labels}
    np.testing.assert_allclose(
        restored(y_true, s), losses.dkd_loss(t, s, labels, 0.5, 4.0, 2.0),
        rtol=1e-6)
    with pytest.raises(ValueError, match="needs the labels"):
        loss(t, s)


@pytest.mark.parametrize("kwargs,match", [({"alpha": -1.0}, "alpha"),
                                          ({"beta": -1.0}, "beta"),
                                          ({"temperature": 0.0}, "temperature")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        losses.DKDLoss(**kwargs)


def test_get_by_name():
    kd = losses.get("dkd")
    assert isinstance(kd, losses.DKDLoss) and kd.temperature == 4.0
    assert (kd.alpha, kd.beta) == (1.0, 8.0)
    assert isinstance(losses.student_loss("dkd"),
                      keras.losses.CategoricalCrossentropy)
    assert losses.get("dkd", temperature=2.0).temperature == 2.0
    assert "dkd" in losses.available() and "dist" in losses.available()
    for name in losses.available():
        losses.get(name)


def test_distiller_passes_the_mixed_labels():
    x, y = tiny_data(8)
    distiller = keras_mixkd.Distiller(
        student=tiny_model("student", seed=1),
        teacher=tiny_model("teacher", seed=7),
        mixer=PartialMixUp(mix_fraction=1.0, seed=3),
        distillation_loss="dkd", ce_weight=0.0, kd_weight=1.0)
    # The same mixer, same seed, on the same batch: the mixed batch of step 1.
    mixed = PartialMixUp(mix_fraction=1.0, seed=3)(
        {"images": x, "labels": np.eye(CLASSES, dtype="float32")[y]},
        training=True)
    images, labels = (np.asarray(mixed[k]) for k in ("images", "labels"))
    assert np.sum(np.count_nonzero(labels, axis=1) == 2) >= 4  # really mixed
    expected = three_way_dkd(
        distiller.student.predict(images, verbose=0).astype("float64"),
        distiller.teacher.predict(images, verbose=0).astype("float64"),
        labels, 1.0, 8.0, 4.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.01))
    history = distiller.fit(x, y, batch_size=8, epochs=1, shuffle=False,
                            verbose=0).history
    np.testing.assert_allclose(history["kd_loss"][0], expected, rtol=1e-4)
