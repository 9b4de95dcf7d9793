"""What each network was trained to output; smoothness on it."""

import math

import keras
import numpy as np
import pytest

from keras_mixkd import analysis
from keras_mixkd import losses


def _softmax(z):
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_hand_values():
    # std([2, 4, 6], ddof=1) = 2: the trained distribution is softmax(1, 2, 3).
    logits = [[2.0, 4.0, 6.0]]
    np.testing.assert_allclose(analysis.trained_logits(logits, "mixstd"),
                               [[-1.0, 0.0, 1.0]], rtol=1e-12)
    np.testing.assert_allclose(analysis.trained_probabilities(logits, "mixstd"),
                               _softmax(np.array([[1.0, 2.0, 3.0]])),
                               rtol=1e-12)
    for loss in (None, "ce", "kd", "ls", "dkd", "dist", "KD"):
        np.testing.assert_allclose(
            analysis.trained_probabilities(logits, loss),
            _softmax(np.array(logits)), rtol=1e-12)
    assert analysis.trained_outputs.describe("mixstd") == (
        "softmax(logits / std(logits, ddof=1))")
    assert analysis.trained_outputs.describe("kd") == "softmax(logits)"


def test_student_loss_objects():
    logits = np.random.default_rng(0).normal(size=(4, 6)) * 7
    np.testing.assert_allclose(
        analysis.trained_probabilities(logits, losses.StdCrossEntropy()),
        analysis.trained_probabilities(logits, "mixstd"), rtol=1e-12)
    # ddof 0 divides by the population std: a different distribution.
    ddof0 = analysis.trained_logits(logits, losses.StdCrossEntropy(ddof=0))
    np.testing.assert_allclose(
        ddof0 / analysis.trained_logits(logits, "mixstd"), math.sqrt(6 / 5),
        rtol=1e-9)
    np.testing.assert_allclose(
        analysis.trained_probabilities(
            logits, keras.losses.CategoricalCrossentropy(from_logits=True)),
        _softmax(logits), rtol=1e-12)


def test_bad_loss_is_rejected():
    with pytest.raises(ValueError, match="Unknown training loss 'nope'"):
        analysis.trained_probabilities([[0.0, 1.0]], "nope")
    with pytest.raises(TypeError, match="pass a loss name"):
        analysis.trained_probabilities([[0.0, 1.0]], losses.KDDivergence())


def test_smoothness_of_trained_probabilities():
    # A MIXSTD-like student: any per-sample scale of the same logits.
    rng = np.random.default_rng(1)
    base = rng.normal(size=(20, 10))
    scaled = base * rng.uniform(0.01, 100, size=(20, 1))
    standardized = analysis.trained_logits(base, "mixstd")
    np.testing.assert_allclose(
        analysis.predictive_entropy(scaled, loss="mixstd"),
        analysis.predictive_entropy(standardized), rtol=1e-9)
    np.testing.assert_allclose(analysis.confidence(scaled, loss="mixstd"),
                               analysis.confidence(standardized), rtol=1e-9)
    summary = analysis.smoothness_summary(scaled, loss="mixstd")
    assert summary["entropy_mean"] == pytest.approx(
        float(np.mean(analysis.predictive_entropy(standardized))), rel=1e-9)
    # The logit std stays the raw logits'.
    assert summary["logit_std_mean"] == pytest.approx(
        float(np.mean(scaled.std(axis=1, ddof=1))), rel=1e-12)
    # Without a loss, nothing changes: the raw softmax.
    assert analysis.smoothness_summary(scaled) != summary
