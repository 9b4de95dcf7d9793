"""keras_mixkd's losses inside Keras's own `keras.distillation.Distiller`."""

import keras
import numpy as np
import pytest

import keras_mixkd
from keras_mixkd import losses
from keras_mixkd.losses.keras_adapters import KDDistillationLoss
from keras_mixkd.losses.keras_adapters import LogitStandardizationDistillationLoss
from keras_mixkd.losses.keras_adapters import MixStdDistillationLoss
from tests.helpers import CLASSES
from tests.helpers import tiny_data
from tests.helpers import tiny_model


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("case", range(4))
def test_values_match_the_official_figures(reference_dir, case):
    ref = np.load(reference_dir / "losses.npz")
    t = ref[f"case{case}_teacher_logits"]
    s = ref[f"case{case}_student_logits"]
    # The official MIXSTD KD term carries alpha = 0.9; DistillKL(T=4) none.
    np.testing.assert_allclose(
        0.9 * _np(MixStdDistillationLoss().compute_loss(t, s)),
        ref[f"case{case}_mixstd_kd"], rtol=1e-9)
    np.testing.assert_allclose(
        _np(KDDistillationLoss(4.0).compute_loss(t, s)),
        ref[f"case{case}_kd_T4"], rtol=1e-9)
    # With tau = 1, logit standardization is the MIXSTD KD term.
    np.testing.assert_allclose(
        _np(LogitStandardizationDistillationLoss(1.0).compute_loss(t, s)),
        ref[f"case{case}_mixstd_kd"] / 0.9, rtol=1e-9)


@pytest.mark.parametrize("loss", [
    MixStdDistillationLoss(ddof=0), KDDistillationLoss(temperature=2.0),
    LogitStandardizationDistillationLoss(3.0, 0)])
def test_serializable(loss):
    config = keras.saving.serialize_keras_object(loss)
    assert config["registered_name"].startswith("keras_mixkd>")
    clone = keras.saving.deserialize_keras_object(config)
    assert type(clone) is type(loss)
    assert clone.get_config() == loss.get_config()
    t, s = np.random.default_rng(0).normal(size=(2, 3, 5))
    np.testing.assert_allclose(_np(clone.compute_loss(t, s)),
                               _np(loss.compute_loss(t, s)), rtol=1e-12)


def test_keras_distiller_trains_with_mixstd_and_reports_its_loss():
    images, labels = tiny_data(16)
    one_hot = np.eye(CLASSES, dtype="float32")[labels]
    teacher = tiny_model("teacher", hidden=32, seed=3)
    student = tiny_model("student", seed=5)
    distiller = keras.distillation.Distiller(
        teacher, student, MixStdDistillationLoss(), student_loss_weight=0.1)
    distiller.compile(
        optimizer=keras_mixkd.recipe.paper_optimizer(
            "resnet8", steps_per_epoch=2, epochs=1),
        loss=losses.StdCrossEntropy())
    before = [w.numpy().copy() for w in student.trainable_weights]
    history = distiller.fit(images, one_hot, batch_size=8, epochs=1,
                            verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    assert any(not np.array_equal(b, w.numpy())
               for b, w in zip(before, student.trainable_weights))
    # The Distiller's loss is the paper's objective on the same logits.
    t, s = _np(teacher(images)), _np(student(images))
    expected = (0.1 * _np(losses.std_cross_entropy(one_hot, s))
                + 0.9 * _np(losses.std_kd_divergence(t, s)))
    got = _np(distiller.compute_loss(images, one_hot, training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_refuses_outputs_that_are_not_logits():
    loss = MixStdDistillationLoss()
    with pytest.raises(ValueError, match="single logits output"):
        loss.validate_outputs(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))
