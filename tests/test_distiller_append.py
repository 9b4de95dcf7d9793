"""``Distiller(mix_mode="append")``: mixed images as extra teacher queries.

Each step forwards the clean batch and its mixed copy (2B rows) through both
models; the student's cross-entropy is on the clean rows only, the KD term
the mean over all 2B rows (Wang et al., NeurIPS 2022). Every expected value
is computed here from the models' outputs, independently of the step.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import keras_mixkd
from keras_mixkd import mixing
from keras_mixkd.losses import cross_entropy_per_sample
from keras_mixkd.losses import kd_per_sample
from tests.helpers import CLASSES
from tests.helpers import tiny_data
from tests.helpers import tiny_model


class Identity(keras.layers.Layer):
    """A mixer that returns its input unchanged."""

    def call(self, data, training=None):
        return dict(data)


class ReverseAverage(keras.layers.Layer):
    """A deterministic mixer: each row averaged with the batch reversed."""

    def call(self, data, training=None):
        return {k: (v + ops.flip(v, axis=0)) / 2.0 for k, v in data.items()}


def _step(mixer, mix_mode="append", ce_weight=0.1, kd_weight=0.9, n=8,
          sample_weight=None, strategy=None):
    """The logs of one step at learning rate 0 (nothing changes)."""
    x, y = tiny_data(n)
    with (strategy or tf.distribute.get_strategy()).scope():
        distiller = keras_mixkd.Distiller(
            student=tiny_model("student", seed=1),
            teacher=tiny_model("teacher", seed=7), mixer=mixer,
            mix_mode=mix_mode, distillation_loss="kd", ce_weight=ce_weight,
            kd_weight=kd_weight)
        distiller.compile(optimizer=keras.optimizers.SGD(0.0),
                          metrics=["accuracy"])
    history = distiller.fit(x, y, sample_weight=sample_weight, batch_size=n,
                            epochs=1, shuffle=False, verbose=0).history
    return {k: v[0] for k, v in history.items()}, distiller, x, y


def _outputs(distiller, images):
    return (distiller.teacher.predict(images, verbose=0),
            distiller.student.predict(images, verbose=0))


def test_without_kd_the_loss_is_the_clean_rows_cross_entropy():
    logs, distiller, x, y = _step(ReverseAverage(), ce_weight=1.0,
                                  kd_weight=0.0)
    _, student = _outputs(distiller, x)
    expected = np.mean(cross_entropy_per_sample(np.eye(CLASSES)[y], student))
    np.testing.assert_allclose(logs["loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(logs["kd_loss"], 0.0, atol=1e-7)
    # Accuracy is the clean rows' against their labels.
    np.testing.assert_allclose(logs["accuracy"],
                               np.mean(student.argmax(1) == y), rtol=1e-6)


def test_an_identity_mixer_gives_plain_kd_on_the_clean_batch():
    appended, _, _, _ = _step(Identity())
    plain, distiller, x, y = _step(None, mix_mode="replace")
    for key in ("loss", "ce_loss", "kd_loss"):
        np.testing.assert_allclose(appended[key], plain[key], rtol=1e-5)
    teacher, student = _outputs(distiller, x)
    np.testing.assert_allclose(
        plain["kd_loss"], 0.9 * np.mean(kd_per_sample(teacher, student)),
        rtol=1e-5)


def test_the_kd_term_is_the_mean_over_clean_and_mixed_rows():
    logs, distiller, x, y = _step(ReverseAverage())
    mixed = (x + x[::-1]) / 2.0
    kd_clean = kd_per_sample(*_outputs(distiller, x)).numpy()
    kd_mixed = kd_per_sample(*_outputs(distiller, mixed)).numpy()
    np.testing.assert_allclose(
        logs["kd_loss"], 0.9 * np.mean(np.concatenate([kd_clean, kd_mixed])),
        rtol=1e-5)
    assert not np.allclose(kd_clean.mean(), kd_mixed.mean())
    ce = cross_entropy_per_sample(np.eye(CLASSES)[y],
                                  distiller.student.predict(x, verbose=0))
    np.testing.assert_allclose(logs["ce_loss"], 0.1 * np.mean(ce), rtol=1e-5)


def test_sample_weights_follow_their_rows():
    w = np.linspace(0.0, 1.5, 8).astype("float32")
    logs, distiller, x, y = _step(ReverseAverage(), sample_weight=w)
    mixed = (x + x[::-1]) / 2.0
    kd_clean = kd_per_sample(*_outputs(distiller, x)).numpy()
    kd_mixed = kd_per_sample(*_outputs(distiller, mixed)).numpy()
    w_mixed = (w + w[::-1]) / 2.0
    expected_kd = 0.9 * np.sum(w * kd_clean + w_mixed * kd_mixed) / 16
    np.testing.assert_allclose(logs["kd_loss"], expected_kd, rtol=1e-5)
    ce = cross_entropy_per_sample(np.eye(CLASSES)[y],
                                  distiller.student.predict(x, verbose=0))
    np.testing.assert_allclose(logs["ce_loss"], 0.1 * np.sum(w * ce) / 8,
                               rtol=1e-5)


def test_the_teacher_stays_frozen_and_the_student_learns():
    x, y = tiny_data(32)
    teacher = tiny_model("teacher", seed=7, batch_norm=True)
    student = tiny_model("student", seed=1, batch_norm=True)
    before = [w.copy() for w in teacher.get_weights()]
    student_before = [w.copy() for w in student.get_weights()]
    distiller = keras_mixkd.Distiller(student=student, teacher=teacher,
                                      mixer="cutmix", mix_mode="append",
                                      seed=2)
    distiller.compile(optimizer="sgd")
    distiller.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for a, b in zip(before, teacher.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b)
               for a, b in zip(student_before, student.get_weights()))


def test_mirrored_strategy_matches_one_device():
    cpus = tf.config.list_logical_devices("CPU")
    mirrored = tf.distribute.MirroredStrategy(
        [c.name for c in cpus[:2]],
        cross_device_ops=tf.distribute.ReductionToOneDevice())
    one, _, _, _ = _step(Identity(), n=16)
    two, _, _, _ = _step(Identity(), n=16, strategy=mirrored)
    for key in ("loss", "ce_loss", "kd_loss"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-5)


def test_append_needs_a_mixer_and_a_known_mode():
    models = dict(student=tiny_model("s"), teacher=tiny_model("t"))
    with pytest.raises(ValueError, match="needs a mixer"):
        keras_mixkd.Distiller(mixer=None, mix_mode="append", **models)
    with pytest.raises(ValueError, match="mix_mode"):
        keras_mixkd.Distiller(mix_mode="prepend", **models)
    assert models["teacher"].trainable  # refused before anything changed


def test_the_mode_is_saved(tmp_path):
    distiller = keras_mixkd.Distiller(student=tiny_model("s"),
                                      teacher=tiny_model("t"), mixer="fmu",
                                      mix_mode="append")
    assert distiller.get_config()["mix_mode"] == "append"
    distiller.save(tmp_path / "d.keras")
    assert keras.saving.load_model(tmp_path / "d.keras").mix_mode == "append"


def test_training_rows_shapes():
    x, y = tiny_data(4)
    labels = np.eye(CLASSES, dtype="float32")[y]
    rows = mixing.training_rows(ReverseAverage(), "append", x, labels,
                                np.ones(4, "float32"))
    assert [tuple(r.shape) for r in rows] == [
        (8, *x.shape[1:]), (8, CLASSES), (8,), (4, CLASSES), (4,)]
    np.testing.assert_array_equal(rows[0][:4], x)
