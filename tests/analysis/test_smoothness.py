"""Smoothness measures on constructed logits and on a model."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_mixkd import analysis
from tests.helpers import tiny_data
from tests.helpers import tiny_model


def test_hand_values():
    np.testing.assert_allclose(analysis.logit_std([[1.0, 2.0, 3.0]]), [1.0])
    np.testing.assert_allclose(analysis.logit_std([[1.0, 2.0, 3.0]], ddof=0),
                               [math.sqrt(2 / 3)])
    np.testing.assert_allclose(analysis.predictive_entropy([[0.0, 0.0]]),
                               [math.log(2)])
    np.testing.assert_allclose(analysis.confidence([[0.0, 0.0]]), [0.5])
    # softmax([log 3, 0]) = [.75, .25]
    np.testing.assert_allclose(analysis.confidence([[math.log(3), 0.0]]),
                               [0.75])
    np.testing.assert_allclose(
        analysis.predictive_entropy([[math.log(3), 0.0]]),
        [-(0.75 * math.log(0.75) + 0.25 * math.log(0.25))])


def test_scaled_logits_are_less_smooth():
    logits = np.random.default_rng(0).normal(size=(50, 10))
    soft = analysis.smoothness_summary(logits)
    sharp = analysis.smoothness_summary(3.0 * logits)
    assert sharp["logit_std_mean"] == pytest.approx(3 * soft["logit_std_mean"])
    assert sharp["entropy_mean"] < soft["entropy_mean"]
    assert sharp["confidence_mean"] > soft["confidence_mean"]
    assert sharp["entropy_median"] < soft["entropy_median"]
    assert soft["num_samples"] == 50
    assert set(soft) == {f"{m}_{s}" for m in ("logit_std", "entropy",
                                              "confidence")
                         for s in ("mean", "median")} | {"num_samples"}


def test_large_logits_stay_finite():
    summary = analysis.smoothness_summary([[1000.0, 0.0, -1000.0]])
    assert summary["entropy_mean"] == pytest.approx(0.0, abs=1e-12)
    assert summary["confidence_mean"] == pytest.approx(1.0)


def test_collect_logits_arrays_and_dataset_agree():
    model = tiny_model("m")
    images, labels = tiny_data(n=37)
    expected = model(images, training=False).numpy()
    from_arrays, y = analysis.collect_logits(model, (images, labels),
                                             batch_size=16, return_labels=True)
    np.testing.assert_allclose(from_arrays, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(y, labels)
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(10)
    from_ds, y = analysis.collect_logits(model, ds, return_labels=True)
    np.testing.assert_allclose(from_ds, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(y, labels)
    only_images, none = analysis.collect_logits(model, images,
                                                return_labels=True)
    assert none is None and only_images.shape == (37, 5)


def test_model_smoothness_matches_the_array_version():
    model = tiny_model("m")
    images, labels = tiny_data(n=20)
    logits = analysis.collect_logits(model, images)
    assert analysis.model_smoothness(model, (images, labels)) == (
        pytest.approx(analysis.smoothness_summary(logits)))
