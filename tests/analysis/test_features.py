"""Penultimate features and t-SNE."""

import keras
import numpy as np
import pytest

from keras_mixkd import analysis
from keras_mixkd import models
from tests.helpers import tiny_data
from tests.helpers import tiny_model


def _classify(model, features):
    kernel, bias = model.layers[-1].get_weights()
    return features @ kernel + bias


def test_fallback_features_feed_the_last_dense_layer():
    model = tiny_model("m", hidden=16)
    images, labels = tiny_data(n=21)
    features, y = analysis.penultimate_features(
        model, (images, labels), batch_size=8, return_labels=True)
    assert features.shape == (21, 16)
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_allclose(_classify(model, features),
                               model.predict(images, verbose=0),
                               rtol=1e-4, atol=1e-5)


def test_zoo_model_uses_its_penultimate_layer():
    model = models.create("resnet8", num_classes=5, input_shape=(8, 8, 3))
    images, _ = tiny_data(n=6)
    features = analysis.penultimate_features(model, images)
    assert features.shape == (6, 64)
    np.testing.assert_allclose(_classify(model, features),
                               model.predict(images, verbose=0),
                               rtol=1e-4, atol=1e-4)


def test_model_without_dense_layer_is_an_error():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.ReLU()(inputs))
    with pytest.raises(ValueError, match="Dense"):
        analysis.feature_extractor(model)


def _clusters(n=60, dims=32):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), n // 3)
    centers = rng.normal(0, 5, size=(3, dims))
    return centers[labels] + rng.normal(size=(n, dims)), labels


def test_tsne_shape_and_determinism():
    features, labels = _clusters()
    embedding, y = analysis.tsne_embedding(features, labels, perplexity=10,
                                           seed=0, pca_components=8)
    assert embedding.shape == (60, 2)
    np.testing.assert_array_equal(y, labels)
    again, _ = analysis.tsne_embedding(features, labels, perplexity=10,
                                       seed=0, pca_components=8)
    np.testing.assert_array_equal(embedding, again)
    # Well separated clusters stay separated: each point's nearest
    # neighbour in the embedding has its class.
    distances = np.linalg.norm(embedding[:, None] - embedding[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert np.mean(labels[distances.argmin(1)] == labels) > 0.95


def test_tsne_subsamples_features_and_labels_together():
    features, labels = _clusters()
    embedding, y = analysis.tsne_embedding(features, np.eye(3)[labels],
                                           perplexity=5, max_samples=30)
    assert embedding.shape == (30, 2) and y.shape == (30,)
    _, no_labels = analysis.tsne_embedding(features, perplexity=5,
                                           max_samples=20)
    assert no_labels is None
    with pytest.raises(ValueError, match="perplexity"):
        analysis.tsne_embedding(features[:10], perplexity=30)
