"""What a MIXSTD student trained at base temperature tau outputs."""

import numpy as np

from keras_mixkd import analysis
from tests.helpers import scaled_softmax


def test_trained_outputs_use_the_temperature():
    logits = np.random.default_rng(0).normal(size=(6, 10)) * 4
    loss = analysis.training_loss("mixstd", 0.5)
    np.testing.assert_allclose(analysis.trained_probabilities(logits, loss),
                               scaled_softmax(logits, 0.5), rtol=1e-10)
    assert analysis.trained_outputs.describe(loss) == (
        "softmax(logits / (0.5 * std(logits, ddof=1)))")
    for same in (None, 1.0):
        assert analysis.training_loss("mixstd", same) == "mixstd"
    assert analysis.training_loss("kd", 4.0) == "kd"
    labels = np.arange(6)
    summary = analysis.calibration_summary(logits, labels, loss)
    assert summary["trained_probabilities"] == analysis.trained_outputs.describe(
        loss)
    np.testing.assert_allclose(
        summary["nll_trained"],
        -np.mean(np.log(scaled_softmax(logits, 0.5)[np.arange(6), labels])),
        rtol=1e-9)