"""The Distiller: training step semantics, evaluation, serialization."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mixkd
from keras_mixkd.mixing import PartialMixUp
from tests.helpers import CLASSES
from tests.helpers import Recorder
from tests.helpers import assert_mirrored_matches_single_device
from tests.helpers import tiny_data
from tests.helpers import tiny_model


def _distiller(**kwargs):
    return keras_mixkd.Distiller(student=tiny_model("student", seed=1),
                                 teacher=tiny_model("teacher", seed=7),
                                 **kwargs)


def _np_mixstd(labels_onehot, teacher, student, ce_w=0.1, kd_w=0.9):
    def log_softmax(z):
        z = z / z.std(1, ddof=1, keepdims=True)
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    ls, lt = log_softmax(student), log_softmax(teacher)
    ce = -np.sum(labels_onehot * ls, 1)
    kd = np.sum(np.exp(lt) * (lt - ls), 1)
    return ce_w * ce, kd_w * kd


def test_defaults_are_the_paper_recipe():
    d = _distiller()
    assert isinstance(d.mixer, PartialMixUp)
    assert (d.mixer.alpha, d.mixer.mix_fraction, d.mixer.sampling) == (
        1.0, 0.1, "official")
    assert isinstance(d.distillation_loss, keras_mixkd.StdKDDivergence)
    assert isinstance(d.student_loss, keras_mixkd.StdCrossEntropy)
    assert (d.ce_weight, d.kd_weight) == (0.1, 0.9)
    assert d.teacher.trainable is False


@pytest.mark.parametrize("one_hot", [False, True])
def test_fit_evaluate_predict(one_hot):
    x, y = tiny_data(64)
    labels = np.eye(CLASSES, dtype="float32")[y] if one_hot else y
    d = _distiller()
    d.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
              metrics=["accuracy"])
    history = d.fit(x, labels, batch_size=16, epochs=2, verbose=0,
                    validation_data=(x, labels)).history
    for key in ("loss", "ce_loss", "kd_loss", "accuracy", "val_loss",
                "val_accuracy"):
        assert len(history[key]) == 2 and np.all(np.isfinite(history[key]))
    for key in ("loss", "ce_loss", "kd_loss", "val_loss"):
        assert min(history[key]) > 0
    np.testing.assert_allclose(
        np.array(history["loss"]),
        np.array(history["ce_loss"]) + np.array(history["kd_loss"]), rtol=1e-5)
    results = d.evaluate(x, labels, verbose=0, return_dict=True)
    assert set(results) == {"loss", "raw_ce", "accuracy"}
    # Evaluation loss: the clean cross-entropy of what the student is
    # trained to output (MIXSTD: std-scaled logits); raw_ce: of raw logits.
    logits = d.student.predict(x, verbose=0)
    expected = keras.losses.CategoricalCrossentropy(from_logits=True)(
        np.eye(CLASSES)[y], logits)
    np.testing.assert_allclose(results["raw_ce"], expected, rtol=1e-5)
    std_ce, _ = _np_mixstd(np.eye(CLASSES)[y], logits, logits.astype(
        "float64"), ce_w=1.0)
    np.testing.assert_allclose(results["loss"], std_ce.mean(), rtol=1e-5)
    np.testing.assert_allclose(d.predict(x, verbose=0), logits, rtol=1e-6)


def test_history_equals_hand_computed_first_step():
    x, y = tiny_data(16)
    d = _distiller(mixer=None)
    teacher_logits = d.teacher.predict(x, verbose=0).astype("float64")
    student_logits = d.student.predict(x, verbose=0).astype("float64")
    ce, kd = _np_mixstd(np.eye(CLASSES)[y], teacher_logits, student_logits)
    d.compile(optimizer=keras.optimizers.SGD(0.1))
    history = d.fit(x, y, batch_size=16, epochs=1, shuffle=False,
                    verbose=0).history
    np.testing.assert_allclose(history["ce_loss"][0], ce.mean(), rtol=1e-5)
    np.testing.assert_allclose(history["kd_loss"][0], kd.mean(), rtol=1e-5)
    np.testing.assert_allclose(history["loss"][0], (ce + kd).mean(), rtol=1e-5)


def test_sample_weights_are_honoured():
    x, y = tiny_data(16)
    w = np.where(np.arange(16) % 2 == 0, 1.0, 0.0).astype("float32")
    d = _distiller(mixer=None, distillation_loss="kd")
    t = d.teacher.predict(x, verbose=0)
    s = d.student.predict(x, verbose=0)
    kd = keras_mixkd.losses.kd_per_sample(t, s, 4.0).numpy()
    ce = keras_mixkd.losses.cross_entropy_per_sample(np.eye(CLASSES)[y], s)
    expected = np.sum(w * (0.1 * ce.numpy() + 0.9 * kd)) / 16
    d.compile(optimizer=keras.optimizers.SGD(0.1))
    history = d.fit(x, y, sample_weight=w, batch_size=16, epochs=1,
                    shuffle=False, verbose=0).history
    np.testing.assert_allclose(history["loss"][0], expected, rtol=1e-5)


def test_teacher_weights_are_bit_identical_after_fit():
    x, y = tiny_data(32)
    teacher = tiny_model("teacher", seed=7, batch_norm=True)
    before = [w.copy() for w in teacher.get_weights()]
    student = tiny_model("student", seed=1, batch_norm=True)
    student_before = [w.copy() for w in student.get_weights()]
    d = keras_mixkd.Distiller(student=student, teacher=teacher)
    d.compile(optimizer="sgd")
    d.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for a, b in zip(before, teacher.get_weights()):
        np.testing.assert_array_equal(a, b)  # BN moving stats included
    assert any(not np.array_equal(a, b)
               for a, b in zip(student_before, student.get_weights()))


def test_teacher_sees_exactly_the_students_mixed_batch():
    x, y = tiny_data(8)
    teacher = tiny_model("teacher", seed=7, first_layer=Recorder(8, name="rt"))
    student = tiny_model("student", seed=1, first_layer=Recorder(8, name="rs"))
    d = keras_mixkd.Distiller(student=student, teacher=teacher,
                              mixer=PartialMixUp(mix_fraction=1.0, seed=3))
    d.compile(optimizer="sgd")
    d.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    seen_t = teacher.get_layer("rt").seen.numpy()
    seen_s = student.get_layer("rs").seen.numpy()
    np.testing.assert_array_equal(seen_t, seen_s)
    assert not np.allclose(seen_s, x)  # really mixed
    # Evaluation calls the student only.
    calls = teacher.get_layer("rt").calls.numpy()
    d.evaluate(x, y, batch_size=8, verbose=0)
    d.predict(x, batch_size=8, verbose=0)
    assert teacher.get_layer("rt").calls.numpy() == calls
    np.testing.assert_array_equal(student.get_layer("rs").seen.numpy(), x)


@pytest.mark.parametrize("mixer", [
    "fmu", "pmu_exact", "mixup", "cutmix", None,
    keras.layers.MixUp(alpha=0.4, seed=1),
])
def test_interchangeable_mixers(mixer):
    x, y = tiny_data(16)
    d = _distiller(mixer=mixer, seed=2)
    d.compile(optimizer="sgd", metrics=["accuracy"])
    history = d.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0]) and history["loss"][0] > 0


@pytest.mark.parametrize("loss,temperature", [("kd", 4.0), ("kd", 1.0),
                                              ("ls", 2.0)])
def test_other_losses_and_temperatures(loss, temperature):
    x, y = tiny_data(16)
    d = _distiller(distillation_loss=loss, temperature=temperature,
                   kd_weight=0.9)
    assert d.distillation_loss.temperature == temperature
    d.compile(optimizer="sgd")
    assert np.isfinite(d.fit(x, y, batch_size=8, verbose=0).history["loss"][0])


def test_mirrored_strategy_matches_single_device():
    x, y = tiny_data(8)
    init = tiny_model("student", seed=1).get_weights()

    def build():
        student = tiny_model("student", seed=1)
        student.set_weights(init)
        d = keras_mixkd.Distiller(student=student,
                                  teacher=tiny_model("teacher", seed=7),
                                  mixer=None)
        d.compile(optimizer=keras.optimizers.SGD(0.5))
        return d

    assert_mirrored_matches_single_device(build, x, y, init)


def test_mirrored_strategy_with_partial_mixup_trains():
    cpus = tf.config.list_logical_devices("CPU")
    x, y = tiny_data(32)
    with tf.distribute.MirroredStrategy([c.name for c in cpus[:2]]).scope():
        d = _distiller(seed=4)
        d.compile(optimizer="sgd", metrics=["accuracy"])
    history = d.fit(x, y, batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0]) and history["loss"][0] > 0


def test_save_and_load_round_trip(tmp_path):
    x, y = tiny_data(16)
    d = _distiller(mixer=PartialMixUp(alpha=0.4, mix_fraction=0.3,
                                      sampling="exact", seed=5),
                   distillation_loss="kd", temperature=2.0, ce_weight=0.3,
                   kd_weight=0.7)
    d.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
              metrics=["accuracy"])
    d.fit(x, y, batch_size=8, verbose=0)
    path = tmp_path / "distiller.keras"
    d.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, keras_mixkd.Distiller)
    assert loaded.teacher.trainable is False
    assert (loaded.ce_weight, loaded.kd_weight) == (0.3, 0.7)
    assert loaded.distillation_loss.temperature == 2.0
    assert loaded.mixer.get_config()["sampling"] == "exact"
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               d.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(loaded.teacher.predict(x, verbose=0),
                               d.teacher.predict(x, verbose=0), rtol=1e-6)
    # Training goes on after loading (recompiled from the saved config).
    loaded.fit(x, y, batch_size=8, verbose=0)
    student_path = tmp_path / "student.keras"
    d.student.save(student_path)
    student = keras.saving.load_model(student_path)
    np.testing.assert_allclose(student.predict(x, verbose=0),
                               d.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        x, y = tiny_data(16)
        d = _distiller()
        d.compile(optimizer="sgd")
        if policy == "mixed_float16":
            assert isinstance(d.optimizer, keras.optimizers.LossScaleOptimizer)
        history = d.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(history["loss"][0]) and history["loss"][0] > 0
    assert d.student.layers[-1].kernel.dtype == "float32"


@pytest.mark.parametrize("make,match", [
    (lambda: _distiller(mixer=PartialMixUp(mix_fraction=1.5)), "mix_fraction"),
    (lambda: _distiller(mixer=PartialMixUp(mix_fraction=-0.5)), "mix_fraction"),
    (lambda: _distiller(mixer=PartialMixUp(alpha=0.0)), "alpha"),
    (lambda: _distiller(distillation_loss="kd", temperature=0.0),
     "temperature"),
    (lambda: _distiller(distillation_loss="kd", temperature=-2.0),
     "temperature"),
    (lambda: _distiller(temperature=0.0), "temperature"),
    (lambda: _distiller(distillation_loss=keras_mixkd.losses.KDDivergence(),
                        temperature=2.0), "set it on your loss object"),
    (lambda: keras_mixkd.Distiller(student=tiny_model("s", classes=3),
                                   teacher=tiny_model("t", classes=5)),
     "3 logits but the teacher outputs 5"),
    (lambda: _distiller(ce_weight=-1.0), "ce_weight"),
    (lambda: _distiller(mixer="blend"), "Unknown mixer"),
    (lambda: keras_mixkd.Distiller(student="resnet", teacher=tiny_model("t")),
     "keras.Model"),
])
def test_bad_arguments_fail_before_training(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_compile_rejects_a_loss():
    with pytest.raises(ValueError, match="no `loss`"):
        _distiller().compile(optimizer="sgd", loss="mse")


def test_one_hot_of_wrong_width_is_rejected_before_any_update():
    x, y = tiny_data(8)
    d = _distiller()
    d.compile(optimizer="sgd")
    before = [w.copy() for w in d.student.get_weights()]
    with pytest.raises(ValueError, match="width 7"):
        d.fit(x, np.eye(7, dtype="float32")[y % 7], batch_size=8, verbose=0)
    for a, b in zip(before, d.student.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("layer_name", ["MixUp", "CutMix"])
def test_kerascv_mixing_layers(layer_name):
    keras_cv = pytest.importorskip(
        "keras_cv", reason="keras-cv is an optional extra (pip install "
        "'.[kerascv]')")
    x, y = tiny_data(16)
    d = _distiller(mixer=getattr(keras_cv.layers, layer_name)(seed=1))
    d.compile(optimizer="sgd")
    history = d.fit(x, y, batch_size=8, verbose=0).history
    assert np.isfinite(history["loss"][0]) and history["loss"][0] > 0


@pytest.mark.parametrize("make,match", [
    # The keras.distillation.Distiller order: (teacher, student).
    (lambda s, t: keras_mixkd.Distiller(t, s), "student=.*teacher="),
    (lambda s, t: keras_mixkd.Distiller(s, teacher=t), "1 positional"),
    (lambda s, t: keras_mixkd.Distiller(student=s), "needs teacher="),
    (lambda s, t: keras_mixkd.Distiller(), "needs student= and teacher="),
])
def test_models_are_given_by_keyword_only(make, match):
    student, teacher = tiny_model("s"), tiny_model("t", seed=3)
    with pytest.raises(TypeError, match=match) as caught:
        make(student, teacher)
    if "positional" in str(caught.value):
        assert "keras.distillation.Distiller" in str(caught.value)
    assert teacher.trainable  # refused before touching the models
