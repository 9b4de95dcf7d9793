"""mixkd compare's library: methods, folder, results, summary, runner."""

import numpy as np

from keras_mixkd import data


def test_clean_train_pipeline_is_unshuffled_and_unaugmented():
    train, _, info = data.load("digits", batch_size=64, augment_train=False,
                               train_size=100)
    first = [(x.numpy(), y.numpy()) for x, y in train]
    second = [(x.numpy(), y.numpy()) for x, y in train]
    assert sum(len(y) for _, y in first) == 100
    for (x1, y1), (x2, y2) in zip(first, second):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    augmented, _, _ = data.load("digits", batch_size=64, train_size=100)
    images = np.concatenate([x for x, _ in first])
    shuffled = np.concatenate([x.numpy() for x, _ in augmented])
    # The same images, but the augmented pipeline moves (crops) them.
    assert images.shape == shuffled.shape
    assert not np.allclose(np.sort(images.ravel()), np.sort(shuffled.ravel()))
