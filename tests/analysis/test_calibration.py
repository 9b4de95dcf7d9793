"""Calibration metrics against hand computations."""

import math

import numpy as np
import pytest

from keras_mixkd import analysis

# Six samples, three classes. With num_bins=5 the bins are (0, .2], (.2, .4],
# (.4, .6], (.6, .8], (.8, 1]; sample 5 sits exactly on the edge 0.4 and must
# fall in (.2, .4].
PROBS = np.array([
    [0.90, 0.05, 0.05],  # label 0: conf .90, bin 4, correct
    [0.85, 0.10, 0.05],  # label 1: conf .85, bin 4, wrong
    [0.70, 0.20, 0.10],  # label 0: conf .70, bin 3, correct
    [0.10, 0.65, 0.25],  # label 1: conf .65, bin 3, correct
    [0.40, 0.30, 0.30],  # label 0: conf .40, bin 1, correct
    [0.50, 0.45, 0.05],  # label 1: conf .50, bin 2, wrong
])
LABELS = np.array([0, 1, 0, 1, 0, 1])


def test_ece_by_hand():
    # bin 4: 2 samples, acc 1/2, conf .875 -> gap .375
    # bin 3: 2 samples, acc 1,   conf .675 -> gap .325
    # bin 1: 1 sample,  acc 1,   conf .40  -> gap .60
    # bin 2: 1 sample,  acc 0,   conf .50  -> gap .50
    expected = (2 * 0.375 + 2 * 0.325 + 0.60 + 0.50) / 6  # = 2.5 / 6
    ece = analysis.expected_calibration_error(LABELS, PROBS, num_bins=5)
    assert ece == pytest.approx(expected, abs=1e-12)
    assert ece == pytest.approx(0.4166667, abs=1e-6)


def test_ece_accepts_one_hot_labels():
    one_hot = np.eye(3)[LABELS]
    assert analysis.expected_calibration_error(one_hot, PROBS, 5) == (
        pytest.approx(analysis.expected_calibration_error(LABELS, PROBS, 5)))


def test_ece_of_a_perfectly_calibrated_construction_is_zero():
    # In each bin, 20 samples of confidence c of which exactly 20c are right.
    probs, labels = [], []
    for c in (0.55, 0.65, 0.75, 0.85, 0.95):
        correct = round(20 * c)
        probs += [[c, 1 - c]] * 20
        labels += [0] * correct + [1] * (20 - correct)
    ece = analysis.expected_calibration_error(labels, probs, num_bins=10)
    assert ece == pytest.approx(0.0, abs=1e-12)
    # Over-confident: the same outcomes with every confidence pushed to .99.
    overconfident = np.array([[0.99, 0.01]] * len(labels))
    ece = analysis.expected_calibration_error(labels, overconfident, 10)
    assert ece == pytest.approx(0.99 - 0.75, abs=1e-12)


def test_nll_by_hand():
    expected = -(math.log(0.9) + math.log(0.1) + math.log(0.7)
                 + math.log(0.65) + math.log(0.4) + math.log(0.45)) / 6
    nll = analysis.negative_log_likelihood(LABELS, PROBS)
    assert nll == pytest.approx(expected, abs=1e-12)
    assert nll == pytest.approx(0.818367, abs=1e-6)


def test_brier_by_hand():
    # Per sample sum over classes of (p - y)^2:
    # .015, 1.535, .14, .195, .54, .555 -> sum 2.98
    expected = 2.98 / 6
    assert analysis.brier_score(LABELS, PROBS) == pytest.approx(expected,
                                                               abs=1e-12)
    assert analysis.brier_score(np.eye(3)[LABELS], PROBS) == pytest.approx(
        expected, abs=1e-12)


def test_reliability_diagram_statistics():
    stats = analysis.reliability_diagram(LABELS, PROBS, num_bins=5)
    np.testing.assert_array_equal(stats["counts"], [0, 1, 1, 2, 2])
    np.testing.assert_allclose(stats["accuracy"][1:], [1, 0, 1, 0.5])
    np.testing.assert_allclose(stats["confidence"][1:],
                               [0.4, 0.5, 0.675, 0.875])
    assert np.isnan(stats["accuracy"][0])
    np.testing.assert_allclose(stats["edges"], np.linspace(0, 1, 6))
    assert stats["ece"] == pytest.approx(2.5 / 6)


def test_logits_are_rejected():
    with pytest.raises(ValueError, match="softmax"):
        analysis.expected_calibration_error(LABELS, 5 * PROBS - 1)
    with pytest.raises(ValueError, match="labels"):
        analysis.brier_score(LABELS[:4], PROBS)
