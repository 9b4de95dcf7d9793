"""The catalogue of datasets: which dataset a name means, and `load`.

Names: ``cifar10``, ``cifar100`` (tensorflow-datasets), ``digits`` (bundled
with scikit-learn), ``fashion_mnist`` (IDX files), ``folder:PATH`` (an image
folder) and ``tfds:NAME`` (any tensorflow-datasets image classification
dataset).
"""

import collections
import dataclasses
import os
import pathlib

import numpy as np

from keras_mixkd.data import channels as channels_lib
from keras_mixkd.data import digits
from keras_mixkd.data import fashion_mnist
from keras_mixkd.data import folder
from keras_mixkd.data import pipeline
from keras_mixkd.data.errors import DatasetError
from keras_mixkd.data.info import DatasetInfo
from keras_mixkd.data.source import from_arrays
from keras_mixkd.data.tfds_source import open_tfds

#: Per-channel mean and std of the training images, in [0, 1] pixel units
#: (Fashion-MNIST: of its 60,000 images zero-padded to 32x32).
NORMALIZATION = {
    "cifar100": ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "fashion_mnist": fashion_mnist.NORMALIZATION,
}

_NUM_CLASSES = {"cifar100": 100, "cifar10": 10, "digits": 10,
                "fashion_mnist": 10}
_COUNTS = {"cifar100": (50_000, 10_000), "cifar10": (50_000, 10_000),
           "fashion_mnist": (60_000, 10_000)}

#: The named datasets (``folder:PATH`` and ``tfds:NAME`` come beside them).
DATASETS = tuple(sorted(_NUM_CLASSES))

#: The forms `load` accepts, as error messages list them.
FORMS = (f"{', '.join(DATASETS)} ('digits' works offline), folder:PATH (a "
         "folder with train/ and test/ subfolders of class folders, or of "
         "class folders only), tfds:NAME (a tensorflow-datasets image "
         "classification dataset)")

_PREFIXES = ("folder:", "tfds:")


def available():
    """The named datasets `load` knows, sorted.

    Returns:
        A list of names; ``folder:PATH`` and ``tfds:NAME`` are accepted too.
    """
    return list(DATASETS)


def resolved_name(name):
    """A dataset name as one rule compares it: ``folder:PATH`` with its path
    absolute, the user's home expanded and symbolic links resolved (one
    folder named two ways gives one name); other names as they are.

    Args:
        name: a dataset name (see `load`), or any other value (returned).

    Returns:
        The name to compare.

    Example:

    >>> resolved_name("folder:fm5")
    'folder:/home/me/fm5'
    """
    if not isinstance(name, str) or not name.startswith("folder:"):
        return name
    path = pathlib.Path(name[len("folder:"):]).expanduser().resolve()
    return f"folder:{path}"


def check_name(name):
    """Checks a dataset name without loading anything.

    Args:
        name: a named dataset (`available()`), ``folder:PATH`` or
            ``tfds:NAME``.

    Raises:
        ValueError: naming the accepted forms, or the missing folder.
    """
    if not isinstance(name, str):
        raise ValueError(f"A dataset name must be a string, got {name!r}.")
    if name in _NUM_CLASSES:
        return
    prefix = next((p for p in _PREFIXES if name.startswith(p)), None)
    if prefix is None or not name[len(prefix):]:
        raise ValueError(f"Unknown dataset {name!r}. Datasets: {FORMS}.")
    if prefix == "folder:":
        path = name[len(prefix):]
        if not os.path.isdir(path):
            raise ValueError(f"Dataset {name!r}: {path} is not a folder.")


def _open(name, data_dir, seed, download, image_size, channels=None):
    """The `Source` of a checked dataset name, at ``channels``."""
    if name.startswith("folder:"):
        return folder.open_folder(name[len("folder:"):], image_size,
                                  dataset_name=name, channels=channels)
    return channels_lib.convert_source(
        _open_as_stored(name, data_dir, seed, download, image_size),
        channels)


def _open_as_stored(name, data_dir, seed, download, image_size):
    """The `Source` of a checked dataset name other than a folder."""
    if name == "digits":
        x_train, x_test, y_train, y_test = digits.digits_arrays(0.2, seed)
        return from_arrays(x_train, y_train, x_test, y_test,
                           digits.digits_info(x_train, x_test), False)
    if name == "fashion_mnist":
        return fashion_mnist.open_fashion_mnist(data_dir, download)
    if name.startswith("tfds:"):
        return open_tfds(name[len("tfds:"):], data_dir, download,
                         dataset_name=name, image_size=image_size)
    return open_tfds(name, data_dir, download, NORMALIZATION[name])


def _shaped(info, image_size, train_size):
    """``info`` with the pipeline's image shape and training count."""
    shape = tuple(info.image_shape)
    if image_size is not None:
        shape = (*image_size, shape[-1])
    return dataclasses.replace(
        info, image_shape=shape,
        num_train=info.num_train if train_size is None else int(train_size))


def _check_arguments(name, batch_size, image_size, train_size, channels):
    check_name(name)
    channels_lib.check_channels(channels)
    if int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be >= 1, got {batch_size}.")
    if train_size is not None and int(train_size) < 1:
        raise ValueError(f"`train_size` must be >= 1, got {train_size}.")
    return pipeline.image_size_of(image_size)


def dataset_info(name, data_dir=None, image_size=None, train_size=None,
                 channels=None):
    """The `DatasetInfo` of a dataset, without loading its images if known.

    Named datasets answer from what is known about them; ``folder:`` and
    ``tfds:`` datasets, and named ones at another channel count, are opened
    (their mean and std come from the training images).

    Args:
        name: a dataset name (see `load`).
        data_dir: as for `load`.
        image_size: as for `load`.
        train_size: as for `load`.
        channels: as for `load`.

    Returns:
        The `DatasetInfo` `load` would return.
    """
    size = _check_arguments(name, 1, image_size, train_size, channels)
    if name == "digits":
        x_train, x_test, _, _ = digits.digits_arrays(0.2, 0)
        info = digits.digits_info(x_train, x_test)
    elif name in NORMALIZATION:
        mean, std = NORMALIZATION[name]
        names = (fashion_mnist.CLASS_NAMES if name == "fashion_mnist"
                 else _tfds_class_names(name, data_dir))
        info = DatasetInfo(name, _NUM_CLASSES[name], (32, 32, len(mean)),
                           mean, std, *_COUNTS[name], names)
    else:
        info = _open(name, data_dir, 0, True, size, channels).info
    if channels is not None and info.image_shape[-1] != channels:
        info = _open(name, data_dir, 0, True, size, channels).info
    return _shaped(info, size, train_size)


#: CIFAR-10's classes (tfds reads the names from the download).
CIFAR10_CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog",
                       "frog", "horse", "ship", "truck")


def _tfds_class_names(name, data_dir):
    """CIFAR's class names: known for CIFAR-10, CIFAR-100's once prepared."""
    import tensorflow_datasets as tfds

    if name == "cifar10":
        return CIFAR10_CLASS_NAMES
    builder = tfds.builder(name, data_dir=data_dir)
    if not builder.is_prepared():
        return None
    return tuple(builder.info.features["label"].names)


def check_validation_split(fraction):
    """``fraction`` as a float in (0, 1), or None for 0 / None.

    Raises:
        ValueError: when it is outside [0, 1).
    """
    if fraction is None or float(fraction) == 0:
        return None
    if not 0 < float(fraction) < 1:
        raise ValueError(
            f"`validation_split` must be a fraction in (0, 1) of the "
            f"training images (e.g. 0.1), got {fraction}.")
    return float(fraction)


def held_out_indices(labels, fraction, seed, train_size=None):
    """The training and held-out example indices of a training set.

    The training set (or its `train_size` subset, chosen with seed 0 as
    `load` does) is split class-stratified: ``round(fraction * n)`` of its
    ``n`` examples, a seeded choice within each class
    (`keras_mixkd.data.pipeline.stratified_indices`), are held out.

    Args:
        labels: the integer labels of the whole training set.
        fraction: the share to hold out, in (0, 1).
        seed: seed of the choice (the run's ``seed``).
        train_size: the subset size, or None for the whole set.

    Returns:
        ``(kept, held_out)``: sorted int64 index arrays, disjoint.

    Example:

    >>> kept, held = held_out_indices([0, 0, 1, 1] * 5, 0.2, seed=0)
    """
    labels = np.asarray(labels).astype("int64").reshape(-1)
    base = np.arange(len(labels))
    if train_size is not None:
        base = pipeline.stratified_indices(labels, train_size, seed=0)
    size = int(round(check_validation_split(fraction) * len(base)))
    if not 1 <= size < len(base):
        raise DatasetError(
            f"`validation_split={fraction}` of {len(base)} training images "
            f"holds out {size}: choose a fraction that leaves at least one "
            "image on each side.")
    held = base[pipeline.stratified_indices(labels[base], size, seed=seed)]
    return np.setdiff1d(base, held), held


#: `load_splits`'s result: train, held-out and test pipelines (held-out is
#: None without a ``validation_split``) and the `DatasetInfo`.
Splits = collections.namedtuple("Splits", "train validation test info")


def load_splits(name, batch_size=64, data_dir=None, seed=0, download=True,
                shuffle_buffer=50_000, image_size=None, train_size=None,
                augment_train=True, channels=None, validation_split=None,
                eval_batch_size=None):
    """Train, held-out and test pipelines of a dataset.

    Like `load`, and with ``validation_split=F`` a class-stratified fraction
    F of the training images (after any ``train_size`` subset), chosen by
    ``seed`` (`held_out_indices`), is held out of the train pipeline and
    yielded, clean, by the ``validation`` pipeline: data to choose the best
    epoch or to fit a calibration temperature on, never trained on, so that
    the test set stays for reporting only. ``info.num_train`` counts the
    images trained on; mean and std stay those of the full training set.

    Args:
        name, batch_size, data_dir, seed, download, shuffle_buffer,
            image_size, train_size, augment_train, channels: as for
            `load`.
        validation_split: the fraction to hold out, in (0, 1); None or 0:
            none (``validation`` is None).
        eval_batch_size: global batch size of the held-out and test
            pipelines (None: ``batch_size``). Evaluation runs in inference
            mode, so its results do not depend on it, and a larger batch
            evaluates faster.

    Returns:
        A `Splits` ``(train, validation, test, info)``.

    Example:

    >>> train_ds, val_ds, test_ds, info = load_splits(
    ...     "digits", validation_split=0.1)
    """
    size = _check_arguments(name, batch_size, image_size, train_size,
                            channels)
    if eval_batch_size is None:
        eval_batch_size = batch_size
    elif int(eval_batch_size) < 1:
        raise ValueError(
            f"`eval_batch_size` must be >= 1, got {eval_batch_size}.")
    fraction = check_validation_split(validation_split)
    source = _open(name, data_dir, seed, download, size, channels)
    train, held_out, num_train = source.train, None, train_size
    if train_size is not None or fraction is not None:
        labels = source.train_labels()
        if fraction is None:
            kept = pipeline.stratified_indices(labels, train_size, seed=0)
        else:
            kept, held = held_out_indices(labels, fraction, seed, train_size)
            held_out = pipeline.take_indices(train, held, len(labels))
        train = pipeline.take_indices(train, kept, len(labels))
        num_train = len(kept)
    info = _shaped(source.info, size, num_train)
    if size is not None and tuple(source.info.image_shape[:2]) == size:
        size = None  # the source already yields that size
    kwargs = dict(seed=seed, flip=source.flip, shuffle_buffer=shuffle_buffer,
                  image_size=size)
    train_ds = pipeline.build(train, info, batch_size, augment_train,
                              **kwargs)
    test_ds = pipeline.build(source.test, info, eval_batch_size, False,
                             **kwargs)
    validation_ds = None if held_out is None else pipeline.build(
        held_out, info, eval_batch_size, False, **kwargs)
    return Splits(train_ds, validation_ds, test_ds, info)


def load(name, batch_size=64, data_dir=None, seed=0, download=True,
         shuffle_buffer=50_000, image_size=None, train_size=None,
         augment_train=True, channels=None):
    """Train and test pipelines of a dataset, ready for `model.fit`.

    Args:
        name: ``"cifar10"``, ``"cifar100"`` (tensorflow-datasets),
            ``"digits"`` (bundled, offline), ``"fashion_mnist"`` (IDX files:
            ``data_dir``, Debian's ``dataset-fashion-mnist``, Keras's cache,
            then a download), ``"folder:PATH"`` (``train/`` and ``test/``
            subfolders of class folders, or class folders split 80/20 with a
            fixed seed) or ``"tfds:NAME"`` (any tfds image classification
            dataset). See ``docs/data.md``.
        batch_size: global batch size (see `global_batch_size`).
        data_dir: tfds data directory (default tfds's,
            ``~/tensorflow_datasets``), or Fashion-MNIST's IDX folder.
        seed: seed of shuffling and augmentation (and of the digits split).
        download: allow downloading data that is not on this machine.
        shuffle_buffer: shuffle buffer of the train pipeline (the whole
            training set by default).
        image_size: ``H`` or ``(H, W)``: resize the images to it (bilinear,
            after any padding); default: the size the dataset yields (32 for
            the padded Fashion-MNIST).
        train_size: train on a class-stratified subset of this many training
            images, chosen with a fixed seed (the same subset for every
            ``seed``); mean and std stay those of the full training set.
        augment_train: False builds the train pipeline like the test one
            (no shuffling, no augmentation), to measure the clean
            training-set accuracy of a trained model.
        channels: 1 reads every image as grayscale, 3 as RGB (None: as the
            data is; a folder must then not mix grayscale and colour
            files). Mean and std are those of the converted images.

    Returns:
        ``(train_ds, test_ds, info)``: `tf.data.Dataset`s of ``(images,
        labels)`` batches (normalised float32 NHWC images, int64 labels) and
        the `DatasetInfo`.

    Example:

    >>> train_ds, test_ds, info = load("fashion_mnist", batch_size=64)
    """
    train_ds, _, test_ds, info = load_splits(
        name, batch_size, data_dir, seed, download, shuffle_buffer,
        image_size, train_size, augment_train, channels=channels)
    return train_ds, test_ds, info
