"""Temperature scaling, and calibration compared like with like."""

import numpy as np
import pytest

from keras_mixkd import analysis


def _softmax(z):
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _calibrated(n, classes=10, seed=0, scale=2.0):
    """Logits and labels drawn from softmax(logits): calibrated by design."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, classes)) * scale
    probs = _softmax(logits)
    labels = (rng.uniform(size=(n, 1)) > probs.cumsum(axis=1)).sum(axis=1)
    return logits, np.minimum(labels, classes - 1)


def _nll(logits, labels, t):
    z = logits / t
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.mean(log_p[np.arange(len(labels)), labels])


def test_fitted_temperature_recovers_a_known_scale():
    logits, labels = _calibrated(20000)
    t = analysis.fit_temperature(3.0 * logits, labels)
    assert t == pytest.approx(3.0, rel=0.05)
    # It is the minimum of the NLL: no point of a fine grid does better.
    grid = np.linspace(2.0, 4.0, 401)
    best = min(_nll(3.0 * logits, labels, g) for g in grid)
    assert _nll(3.0 * logits, labels, t) <= best + 1e-9
    # One-hot labels give the same T.
    one_hot = np.eye(10)[labels]
    assert analysis.fit_temperature(3.0 * logits, one_hot) == pytest.approx(
        t, rel=1e-6)


def test_apply_temperature():
    np.testing.assert_allclose(
        analysis.apply_temperature([[2.0, 4.0]], 2.0),
        _softmax(np.array([[1.0, 2.0]])), rtol=1e-12)
    with pytest.raises(ValueError, match="temperature"):
        analysis.apply_temperature([[2.0, 4.0]], 0.0)


def test_separable_data_warns_at_the_bound():
    logits = np.array([[5.0, 0.0], [0.0, 5.0]])
    with pytest.warns(UserWarning, match="at a bound"):
        t = analysis.fit_temperature(logits, [0, 1], bounds=(0.1, 10.0))
    assert t == pytest.approx(0.1, rel=1e-4)
    with pytest.raises(ValueError, match="bounds"):
        analysis.fit_temperature(logits, [0, 1], bounds=(1.0, 0.5))


def test_mixstd_student_is_judged_on_what_it_was_trained_to_output():
    # Calibrated standardized logits (std 1 per row), then an arbitrary
    # small per-sample scale: what a MIXSTD student's raw logits look like.
    rng = np.random.default_rng(1)
    base, labels = _calibrated(6000, seed=1)
    standardized = analysis.trained_logits(base, "mixstd")
    labels = (rng.uniform(size=(6000, 1))
              > _softmax(standardized).cumsum(axis=1)).sum(axis=1)
    labels = np.minimum(labels, 9)
    raw = standardized * rng.uniform(0.05, 0.2, size=(6000, 1))
    split = 3000
    summary = analysis.calibration_summary(
        raw[:split], labels[:split], loss="mixstd",
        heldout=(raw[split:], labels[split:]))
    reference = _softmax(standardized[:split])
    expected_ece = analysis.expected_calibration_error(labels[:split],
                                                       reference)
    assert summary["ece_trained"] == pytest.approx(expected_ece, rel=1e-9)
    assert summary["ece_trained"] < 0.03     # calibrated up to noise
    assert summary["ece_raw"] > 0.1          # the raw softmax: near uniform
    assert summary["confidence_raw"] < summary["confidence_trained"]
    assert summary["nll_trained"] == pytest.approx(
        analysis.negative_log_likelihood(labels[:split], reference),
        rel=1e-9)
    # Already calibrated: the fitted temperature is close to 1.
    assert summary["temperature"] == pytest.approx(1.0, abs=0.1)
    assert summary["ece_fitted"] < 0.03
    assert summary["trained_probabilities"] == (
        "softmax(logits / std(logits, ddof=1))")
    assert summary["entropy_mean"] == pytest.approx(float(np.mean(
        analysis.predictive_entropy(standardized[:split]))), rel=1e-9)


def test_summary_of_a_plain_network():
    logits, labels = _calibrated(4000, seed=2)
    logits = 2.5 * logits                     # over-confident by 2.5
    summary = analysis.calibration_summary(
        logits[:2000], labels[:2000], heldout=(logits[2000:], labels[2000:]))
    for name in ("ece", "nll", "brier", "confidence"):
        assert summary[f"{name}_raw"] == summary[f"{name}_trained"]
    probs = _softmax(logits[:2000])
    assert summary["brier_raw"] == pytest.approx(
        analysis.brier_score(labels[:2000], probs), rel=1e-12)
    assert summary["accuracy"] == pytest.approx(
        float(np.mean(probs.argmax(1) == labels[:2000])))
    assert summary["temperature"] == pytest.approx(2.5, rel=0.1)
    assert summary["nll_fitted"] < summary["nll_raw"]
    assert summary["ece_fitted"] < summary["ece_raw"]
    no_heldout = analysis.calibration_summary(logits, labels)
    assert no_heldout["temperature"] is None
    assert no_heldout["ece_fitted"] is None
