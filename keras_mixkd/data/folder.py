"""Image folders (``folder:PATH``), read with Keras's image-directory utility.

Two layouts: ``PATH/train/<class>/*`` and ``PATH/test/<class>/*``, or
``PATH/<class>/*`` split 80/20 at random with a fixed seed. Images are read by
`keras.utils.image_dataset_from_directory` (bmp, gif, jpeg, png) at one size
(``image_size``, default: the size of the first training image), with the
channels of the first training image (1: grayscale, otherwise RGB), and held
in memory as uint8 arrays; mean and std come from the training images.
"""

import pathlib

import numpy as np
import tensorflow as tf

from keras_mixkd.data.info import DatasetInfo
from keras_mixkd.data.pipeline import channel_stats
from keras_mixkd.data.source import from_arrays

#: The share of the images held out for testing in the one-folder layout.
TEST_FRACTION = 0.2
#: The seed of that split.
SPLIT_SEED = 1337

_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def _first_image(folder):
    for path in sorted(pathlib.Path(folder).rglob("*")):
        if path.suffix.lower() in _SUFFIXES and path.is_file():
            return path
    raise ValueError(f"folder:{folder} holds no images ({', '.join(_SUFFIXES)}"
                     ") in class subfolders.")


def _layout(root):
    """``(train_dir, test_dir or None)`` after checking the folder."""
    root = pathlib.Path(root)
    if not root.is_dir():
        raise ValueError(f"folder:{root}: no such folder.")
    train, test = root / "train", root / "test"
    if train.is_dir() and test.is_dir():
        return train, test
    if train.is_dir() != test.is_dir():
        has, lacks = ("train", "test") if train.is_dir() else ("test",
                                                                "train")
        raise ValueError(f"folder:{root} has a {has}/ subfolder but no "
                         f"{lacks}/: give both, or class subfolders only.")
    return root, None


def _arrays(dataset):
    images, labels = [], []
    for image, label in dataset.as_numpy_iterator():
        images.append(np.clip(np.round(image), 0, 255).astype(np.uint8))
        labels.append(label)
    return np.stack(images), np.asarray(labels, np.int64)


def open_folder(path, image_size=None, dataset_name=None):
    """An image folder as a `Source` of uint8 arrays.

    Args:
        path: the folder (see the module's docstring for its layouts).
        image_size: ``(H, W)`` to read the images at, or None for the size
            of the first training image.
        dataset_name: the name recorded in the `DatasetInfo`.

    Returns:
        A `Source`.
    """
    import keras

    train_dir, test_dir = _layout(path)
    first = _first_image(train_dir)
    shape = tf.io.decode_image(tf.io.read_file(str(first)),
                               expand_animations=False).shape
    size = tuple(image_size) if image_size is not None else tuple(shape[:2])
    mode = "grayscale" if shape[-1] == 1 else "rgb"
    options = dict(labels="inferred", label_mode="int", color_mode=mode,
                   batch_size=None, image_size=size, verbose=False)
    if test_dir is None:
        train, test = keras.utils.image_dataset_from_directory(
            train_dir, validation_split=TEST_FRACTION, subset="both",
            seed=SPLIT_SEED, shuffle=True, **options)
    else:
        train = keras.utils.image_dataset_from_directory(
            train_dir, shuffle=False, **options)
        test = keras.utils.image_dataset_from_directory(
            test_dir, shuffle=False, class_names=train.class_names,
            **options)
    class_names = tuple(train.class_names)
    (x_train, y_train), (x_test, y_test) = _arrays(train), _arrays(test)
    mean, std = channel_stats(x_train)
    info = DatasetInfo(dataset_name or f"folder:{path}", len(class_names),
                       x_train.shape[1:], mean, std, len(x_train),
                       len(x_test), class_names)
    return from_arrays(x_train, y_train, x_test, y_test, info)
