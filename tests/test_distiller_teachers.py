"""The Distiller with several teachers: the KD term is the weighted mean of
each teacher's on the same batch, against a hand computation; ``[t, t]`` is
the single-teacher loss; every teacher frozen; saved and reloaded; refusals."""

import keras
import numpy as np
import pytest

import keras_mixkd
from tests.helpers import CLASSES
from tests.helpers import assert_mirrored_matches_single_device
from tests.helpers import tiny_data
from tests.helpers import tiny_model
from tests.test_distiller_features import _np_ce
from tests.test_distiller_features import _np_kd


def _teachers():
    return [tiny_model("teacher_a", seed=5), tiny_model("teacher_b", seed=9)]


def _step(teacher, weights=None, **kwargs):
    x, y = tiny_data(8)
    student = tiny_model("student", seed=1)
    d = keras_mixkd.Distiller(student=student, teacher=teacher, mixer=None,
                              distillation_loss="kd",
                              teacher_loss_weights=weights, **kwargs)
    d.compile(optimizer=keras.optimizers.SGD(0.1))
    return d, d.train_on_batch(x, y, return_dict=True)


@pytest.mark.parametrize("weights,shares", [(None, (0.5, 0.5)),
                                            ([1.0, 3.0], (0.25, 0.75))])
def test_kd_term_is_the_weighted_mean_of_the_teachers(weights, shares):
    x, y = tiny_data(8)
    teachers = _teachers()
    student = tiny_model("student", seed=1)
    s_logits = np.asarray(student(x), "float64")
    kd = sum(share * _np_kd(np.asarray(t(x), "float64"), s_logits)
             for share, t in zip(shares, teachers))
    d, logs = _step(teachers, weights)
    np.testing.assert_allclose(logs["kd_loss"], 0.9 * kd, rtol=1e-5)
    np.testing.assert_allclose(logs["loss"],
                               0.1 * _np_ce(y, s_logits) + 0.9 * kd,
                               rtol=1e-5)
    assert [t.name for t in d.teachers] == ["teacher_a", "teacher_b"]


def test_the_same_teacher_twice_is_the_single_teacher_loss():
    teacher = tiny_model("teacher", seed=5)
    single, single_logs = _step(teacher)
    double, double_logs = _step([teacher, teacher], [2.0, 5.0])
    for key in ("loss", "kd_loss", "ce_loss"):
        np.testing.assert_allclose(double_logs[key], single_logs[key],
                                   rtol=1e-6)
    for a, b in zip(single.student.get_weights(),
                    double.student.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_every_teacher_is_frozen():
    teachers = _teachers()
    before = [[np.array(w) for w in t.get_weights()] for t in teachers]
    x, y = tiny_data(32)
    d = keras_mixkd.Distiller(student=tiny_model("student", seed=1),
                              teacher=teachers, mixer="pmu", seed=2)
    d.compile(optimizer="sgd", metrics=["accuracy"])
    d.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for teacher, weights in zip(teachers, before):
        assert not teacher.trainable
        for a, b in zip(weights, teacher.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_label_aware_loss_with_two_teachers():
    x, y = tiny_data(8)
    d = keras_mixkd.Distiller(student=tiny_model("student", seed=1),
                              teacher=_teachers(), mixer="fmu", seed=1,
                              distillation_loss="dkd")
    d.compile(optimizer="sgd")
    assert np.isfinite(d.train_on_batch(x, y, return_dict=True)["kd_loss"])


def test_saved_distiller_keeps_its_teachers(tmp_path):
    x, y = tiny_data(16)
    d, _ = _step(_teachers(), [1.0, 2.0])
    d.save(tmp_path / "distiller.keras")
    restored = keras.saving.load_model(tmp_path / "distiller.keras")
    assert [t.name for t in restored.teachers] == ["teacher_a", "teacher_b"]
    assert restored.teacher_loss_weights == [1.0, 2.0]
    for a, b in zip(d.extra_teachers[0].weights,
                    restored.extra_teachers[0].weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    continued = [m.fit(x, y, batch_size=8, epochs=1, shuffle=False,
                       verbose=0).history["loss"][0] for m in (d, restored)]
    np.testing.assert_allclose(continued[0], continued[1], rtol=1e-5)


@pytest.mark.parametrize("teacher,weights,match", [
    ([], None, "empty list"),
    (None, [1.0], "1 value\\(s\\) for 2 teacher"),
    (None, [1.0, -1.0], "must be >= 0 and not all 0"),
    (None, [0.0, 0.0], "must be >= 0 and not all 0"),
    ("wide", None, "the teacher 2 outputs 7"),
    ("object", None, "`teacher 2` must be a keras.Model"),
    ("shape", None, r"The teacher 2 expects inputs of shape \(4, 4, 3\) but "
                    r"the student \(8, 8, 3\).*for the teacher 2's shape"),
])
def test_bad_teachers_are_refused(teacher, weights, match):
    if teacher is None:
        teacher = _teachers()
    elif teacher == "wide":
        teacher = [tiny_model("a", seed=5), tiny_model("b", classes=7)]
    elif teacher == "object":
        teacher = [tiny_model("a", seed=5), "teacher.keras"]
    elif teacher == "shape":
        small = keras.Sequential([keras.Input((4, 4, 3)),
                                  keras.layers.Flatten(),
                                  keras.layers.Dense(CLASSES)])
        teacher = [tiny_model("a", seed=5), small]
    with pytest.raises((ValueError, TypeError), match=match):
        keras_mixkd.Distiller(student=tiny_model("student", seed=1,
                                                 classes=CLASSES),
                              teacher=teacher, teacher_loss_weights=weights)


def test_mirrored_strategy_matches_single_device():
    """Two teachers' weighted KD term: two replicas' halves of the batch give
    the one-device step."""
    x, y = tiny_data(8)
    init = tiny_model("student", seed=1).get_weights()

    def build():
        student = tiny_model("student", seed=1)
        student.set_weights(init)
        d = keras_mixkd.Distiller(student=student, teacher=_teachers(),
                                  teacher_loss_weights=[1.0, 3.0], mixer=None,
                                  distillation_loss="kd")
        d.compile(optimizer=keras.optimizers.SGD(0.5))
        return d

    assert_mirrored_matches_single_device(build, x, y, init)
