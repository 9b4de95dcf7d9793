"""Teacher-student agreement and KL on constructed cases."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_mixkd import analysis
from tests.helpers import tiny_data
from tests.helpers import tiny_model


def test_identical_logits():
    logits = np.random.default_rng(0).normal(size=(20, 7))
    assert analysis.top1_agreement(logits, logits) == 1.0
    assert analysis.mean_kl(logits, logits) == pytest.approx(0.0, abs=1e-12)
    assert analysis.mean_kl(logits, logits + 5.0) == pytest.approx(
        0.0, abs=1e-12)  # softmax ignores shifts


def test_known_argmax_differences():
    teacher = np.array([[3.0, 1, 0], [0, 3, 1], [1, 0, 3], [3, 0, 1]])
    student = np.array([[2.0, 0, 0], [0, 2, 0], [0, 0, 2], [0, 2, 0]])
    assert analysis.top1_agreement(teacher, student) == 0.75
    assert analysis.top1_agreement(teacher, -teacher) == 0.0


def test_kl_by_hand():
    # p = [.5, .5], q = softmax([log 3, 0]) = [.75, .25]
    # KL(p || q) = .5 log(.5/.75) + .5 log(.5/.25) = .5 log(4/3)
    teacher = [[0.0, 0.0]]
    student = [[math.log(3.0), 0.0]]
    assert analysis.mean_kl(teacher, student) == pytest.approx(
        0.5 * math.log(4 / 3), abs=1e-12)
    # The same distributions at temperature 2 from doubled logits.
    assert analysis.mean_kl([[0.0, 0.0]], [[2 * math.log(3.0), 0.0]],
                            temperature=2.0) == pytest.approx(
        0.5 * math.log(4 / 3), abs=1e-12)
    # KL is not symmetric: KL(q || p) = .75 log 1.5 + .25 log .5
    assert analysis.mean_kl(student, teacher) == pytest.approx(
        0.75 * math.log(1.5) + 0.25 * math.log(0.5), abs=1e-12)
    with pytest.raises(ValueError, match="temperature"):
        analysis.mean_kl(teacher, student, temperature=0.0)


def test_model_fidelity_one_pass_over_a_shuffled_dataset():
    teacher, student = tiny_model("t", seed=0), tiny_model("s", seed=3)
    images, labels = tiny_data(n=40)
    from_arrays = analysis.model_fidelity(teacher, student, (images, labels))
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(
        40, seed=1).batch(8)
    from_ds = analysis.model_fidelity(teacher, student, ds)
    assert from_ds == pytest.approx(from_arrays)
    t_logits = teacher.predict(images, verbose=0)
    s_logits = student.predict(images, verbose=0)
    assert from_arrays["top1_agreement"] == pytest.approx(
        analysis.top1_agreement(t_logits, s_logits))
    assert from_arrays["student_accuracy"] == pytest.approx(
        np.mean(s_logits.argmax(1) == labels))
    same = analysis.model_fidelity(teacher, teacher, images)
    assert same == pytest.approx({"top1_agreement": 1.0, "mean_kl": 0.0})
