"""`Source`: a dataset opened from where it lives, before its pipelines."""

import collections

import tensorflow as tf

#: A dataset opened from its source: ``(image, label)`` example datasets
#: (uint8 images, or float images in [0, 1]), the `DatasetInfo`, whether the
#: augmentation flips, and a function returning the training labels (for
#: stratified subsets).
Source = collections.namedtuple("Source",
                                "train test info flip train_labels")


def from_arrays(x_train, y_train, x_test, y_test, info, flip=True):
    """A `Source` of in-memory numpy arrays."""
    train = tf.data.Dataset.from_tensor_slices((x_train, y_train))
    test = tf.data.Dataset.from_tensor_slices((x_test, y_test))
    return Source(train, test, info, flip, lambda: y_train)
