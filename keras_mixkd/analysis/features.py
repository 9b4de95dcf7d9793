"""Penultimate features and their t-SNE embedding.

The paper visualises how mixup changes a network's feature space: features
of a mixup-trained network form tighter, more separated class clusters.
`penultimate_features` extracts the pooled features the classifier sees,
`tsne_embedding` embeds them in 2-D, and `plot_tsne` draws them by class.
"""

import keras
import numpy as np

from keras_mixkd.analysis._utils import integer_labels
from keras_mixkd.analysis._utils import predict_batches
from keras_mixkd.analysis.plots import plot_tsne  # noqa: F401 (re-export)


def feature_extractor(model):
    """A model sharing ``model``'s weights, outputting its penultimate features.

    For a model of the zoo (`keras_mixkd.models.create`) these are the pooled
    features (`keras_mixkd.models.feature_model`); for any other functional
    or sequential model, the input of its last `keras.layers.Dense` layer.

    Args:
        model: a built `keras.Model`.

    Returns:
        A `keras.Model` mapping the same inputs to the features.

    Example:

    >>> extractor = feature_extractor(keras_mixkd.models.create("resnet8"))
    """
    from keras_mixkd import models

    try:
        return models.feature_model(model)
    except ValueError:
        pass
    dense = [layer for layer in model.layers
             if isinstance(layer, keras.layers.Dense)]
    if not dense:
        raise ValueError(
            f"Model {model.name!r} has neither a 'penultimate' layer nor a "
            "Dense layer whose input could serve as its features. Build the "
            "feature model yourself and use collect_logits on it.")
    return keras.Model(model.inputs, dense[-1].input,
                       name=f"{model.name}_features")


def penultimate_features(model, data, batch_size=256, return_labels=False):
    """Penultimate features of ``model`` over a dataset (inference mode).

    Args:
        model: a `keras.Model` (see `feature_extractor` for which layer).
        data: images (array), ``(images, labels)`` arrays, or a
            `tf.data.Dataset` of ``(images, labels)`` batches.
        batch_size: batch size for arrays.
        return_labels: also return the labels found in ``data``.

    Returns:
        A ``(N, features)`` numpy array; with ``return_labels``, the pair
        ``(features, labels)`` (labels None where ``data`` has none).

    Example:

    >>> features, labels = penultimate_features(teacher, test_ds,
    ...                                         return_labels=True)
    """
    (features,), labels = predict_batches([feature_extractor(model)], data,
                                          batch_size)
    features = features.reshape(len(features), -1)
    return (features, labels) if return_labels else features


def tsne_embedding(features, labels=None, perplexity=30.0, seed=0,
                   max_samples=None, pca_components=50):
    """2-D t-SNE embedding of feature vectors (scikit-learn), reproducible.

    Features wider than ``pca_components`` are first reduced with PCA, the
    usual speed-up; ``max_samples`` embeds a random subset (t-SNE is
    quadratic in the number of samples). The same ``seed`` gives the same
    embedding.

    Args:
        features: ``(N, D)`` features.
        labels: optional ``(N,)`` integer or one-hot labels, subsampled along
            with the features.
        perplexity: t-SNE perplexity; must be below the number of samples.
        seed: seed of the subset, the PCA and t-SNE.
        max_samples: embed at most this many samples (None: all).
        pca_components: PCA width before t-SNE (None: no PCA).

    Returns:
        ``(embedding, labels)``: a float ``(n, 2)`` array and the integer
        labels of the embedded rows (None when no labels were given).

    Example:

    >>> embedding, y = tsne_embedding(features, labels, max_samples=2000)
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    features = np.asarray(features, dtype="float64").reshape(len(features), -1)
    if labels is not None:
        labels = integer_labels(labels, len(features))
    if max_samples is not None and len(features) > max_samples:
        keep = np.sort(np.random.default_rng(seed).choice(
            len(features), int(max_samples), replace=False))
        features = features[keep]
        labels = None if labels is None else labels[keep]
    if not 0 < perplexity < len(features):
        raise ValueError(
            f"`perplexity` must be in (0, {len(features)}) for "
            f"{len(features)} samples, got {perplexity}; lower it (5-50 is "
            "usual) or embed more samples.")
    if pca_components is not None:
        width = min(int(pca_components), len(features))
        if features.shape[1] > width:
            features = PCA(width, svd_solver="full",
                           random_state=seed).fit_transform(features)
    embedding = TSNE(n_components=2, perplexity=perplexity, init="pca",
                     learning_rate="auto",
                     random_state=seed).fit_transform(features)
    return embedding, labels
