"""Scikit-learn's bundled 8x8 digits, upscaled to 32x32x3.

Real data that ships with the library (1,797 images, 10 classes), so it works
offline: the offline default of the command line and of the tests. The split
is stratified and fixed by a seed.
"""

import numpy as np
import tensorflow as tf

from keras_mixkd.data.info import DatasetInfo

#: Images of the bundled digits data are upscaled to this CIFAR-like shape.
DIGITS_IMAGE_SHAPE = (32, 32, 3)

CLASS_NAMES = tuple(str(i) for i in range(10))


def digits_arrays(test_fraction=0.2, seed=0):
    """The digits as [0, 1] 32x32x3 float arrays, stratified split.

    Returns:
        ``(x_train, x_test, y_train, y_test)``.
    """
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(
            f"`test_fraction` must be in (0, 1), got {test_fraction}.")
    digits = sk_load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    images = tf.image.resize(images, DIGITS_IMAGE_SHAPE[:2]).numpy()
    images = np.repeat(np.clip(images, 0.0, 1.0), DIGITS_IMAGE_SHAPE[2], -1)
    labels = digits.target.astype("int64")
    return train_test_split(images, labels, test_size=test_fraction,
                            stratify=labels, random_state=seed)


def digits_info(x_train, x_test):
    """The `DatasetInfo` of a digits split (its training images' mean/std)."""
    return DatasetInfo("digits", 10, DIGITS_IMAGE_SHAPE,
                       tuple(x_train.mean(axis=(0, 1, 2)).tolist()),
                       tuple(x_train.std(axis=(0, 1, 2)).tolist()),
                       len(x_train), len(x_test), CLASS_NAMES)


def load_digits(test_fraction=0.2, seed=0):
    """Scikit-learn's bundled 8x8 digits as normalised 32x32x3 float arrays.

    Real data that ships with scikit-learn (1,797 images, 10 classes), so it
    works offline. Images are scaled to [0, 1], upscaled bilinearly to 32x32,
    replicated to three channels and normalised with the training split's
    mean and std. The split is stratified and fixed by ``seed``.

    Args:
        test_fraction: share of the images held out for testing.
        seed: seed of the stratified split.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: float32 NHWC images and
        int64 labels.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_digits()
    """
    x_train, x_test, y_train, y_test = digits_arrays(test_fraction, seed)
    info = digits_info(x_train, x_test)
    mean, std = np.array(info.mean), np.array(info.std)
    x_train = ((x_train - mean) / std).astype("float32")
    x_test = ((x_test - mean) / std).astype("float32")
    return (x_train, y_train), (x_test, y_test)
