"""Datasets and input pipelines: CIFAR-10/100 through tfds, bundled digits.

The train pipeline follows the RepDistiller protocol: random crop 32 after
4-pixel zero padding (in pixel space, before normalisation), horizontal flip,
normalisation with the dataset's mean and std; the eval pipeline only
normalises. Pipelines cache the raw images, shuffle each epoch, map in
parallel and prefetch with AUTOTUNE; they are batched by the *global* batch
size, which Keras splits across the replicas of a `tf.distribute` strategy.

``digits`` is scikit-learn's bundled 8x8 digits (real data, shipped with the
library, no network), upscaled to 32x32x3 with a fixed stratified split: the
offline default of the command line and the tests.
"""

import dataclasses

import numpy as np
import tensorflow as tf

#: Images of the bundled digits data are upscaled to this CIFAR-like shape.
DIGITS_IMAGE_SHAPE = (32, 32, 3)

#: Per-channel mean and std of the training images, in [0, 1] pixel units.
NORMALIZATION = {
    "cifar100": ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}

_NUM_CLASSES = {"cifar100": 100, "cifar10": 10, "digits": 10}
DATASETS = tuple(sorted(_NUM_CLASSES))


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset.

    Attributes:
        name: dataset name.
        num_classes: number of classes.
        image_shape: NHWC image shape without the batch dimension.
        mean: per-channel mean used for normalisation (pixel units in [0, 1]).
        std: per-channel std used for normalisation.
        num_train: number of training examples (None if unknown).
        num_test: number of test examples (None if unknown).
    """

    name: str
    num_classes: int
    image_shape: tuple
    mean: tuple
    std: tuple
    num_train: int = None
    num_test: int = None


def _check_name(name):
    if name not in _NUM_CLASSES:
        raise ValueError(
            f"Unknown dataset {name!r}. Available datasets: "
            f"{', '.join(DATASETS)} ('digits' works offline).")


def _digits_arrays(test_fraction, seed):
    """The digits as [0, 1] 32x32x3 float arrays, stratified split."""
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


def _digits_info(x_train, x_test):
    return DatasetInfo("digits", 10, DIGITS_IMAGE_SHAPE,
                       tuple(x_train.mean(axis=(0, 1, 2)).tolist()),
                       tuple(x_train.std(axis=(0, 1, 2)).tolist()),
                       len(x_train), len(x_test))


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
    x_train, x_test, y_train, y_test = _digits_arrays(test_fraction, seed)
    info = _digits_info(x_train, x_test)
    mean, std = np.array(info.mean), np.array(info.std)
    x_train = ((x_train - mean) / std).astype("float32")
    x_test = ((x_test - mean) / std).astype("float32")
    return (x_train, y_train), (x_test, y_test)


def augment(image, seed, flip=True, padding=4):
    """RepDistiller's train augmentation of one [0, 1] image (deterministic).

    Zero-pads by ``padding`` pixels, crops back to the original size at a
    random position, and flips horizontally with probability 1/2.

    Args:
        image: a float ``(H, W, C)`` image in pixel units.
        seed: a ``(2,)`` int seed for the stateless random ops.
        flip: whether to flip (not for digits, which are not mirror-symmetric).
        padding: zero padding before the crop.

    Returns:
        The augmented image, same shape.
    """
    shape = tf.shape(image)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    image = tf.image.stateless_random_crop(padded, shape, seed=seeds[0])
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=seeds[1])
    return image


def _pipeline(ds, info, batch_size, training, seed, flip, shuffle_buffer):
    """Cache, shuffle, augment, normalise, batch and prefetch ``(image, y)``."""
    mean = tf.constant(info.mean, tf.float32)
    std = tf.constant(info.std, tf.float32)
    autotune = tf.data.AUTOTUNE

    def to_unit(image, label):
        if image.dtype == tf.uint8:
            image = tf.cast(image, tf.float32) / 255.0
        return tf.cast(image, tf.float32), label

    ds = ds.map(to_unit, num_parallel_calls=autotune).cache()
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed,
                        reshuffle_each_iteration=True)
        seeds = tf.data.Dataset.random(
            seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds).map(
            lambda example, s: (augment(example[0], s, flip=flip),
                                example[1]),
            num_parallel_calls=autotune)
    ds = ds.map(lambda image, label: ((image - mean) / std, label),
                num_parallel_calls=autotune)
    return ds.batch(batch_size).prefetch(autotune)


def one_hot(dataset, num_classes):
    """Maps the integer labels of ``(images, labels)`` batches to one-hot.

    Args:
        dataset: a `tf.data.Dataset` of ``(images, labels)`` batches.
        num_classes: width of the one-hot vectors.

    Returns:
        The dataset with float32 one-hot labels.
    """
    return dataset.map(
        lambda x, y: (x, tf.one_hot(tf.cast(y, tf.int32), num_classes)),
        num_parallel_calls=tf.data.AUTOTUNE)


def mix(dataset, mixer):
    """Applies a mixing layer to every ``(images, one-hot labels)`` batch.

    How a teacher is trained with mixup (the paper compares such teachers):
    the mixing happens in the input pipeline, once per batch.

    Args:
        dataset: a `tf.data.Dataset` of ``(images, one-hot labels)`` batches.
        mixer: a layer taking and returning ``{"images", "labels"}`` (e.g.
            `keras_mixkd.mixing.PartialMixUp(mix_fraction=1.0)`).

    Returns:
        The dataset of mixed batches.

    Example:

    >>> train_ds = mix(one_hot(train_ds, 10), PartialMixUp(mix_fraction=1.0))
    """

    def apply(images, labels):
        out = mixer({"images": images, "labels": labels}, training=True)
        return out["images"], out["labels"]

    return dataset.map(apply, num_parallel_calls=tf.data.AUTOTUNE)


def global_batch_size(per_replica_batch_size, strategy=None):
    """The batch size a dataset must yield so each replica gets its share.

    Args:
        per_replica_batch_size: the batch each replica trains on (64 in the
            paper).
        strategy: a `tf.distribute.Strategy`, default: the current one.

    Returns:
        ``per_replica_batch_size * num_replicas_in_sync``.
    """
    strategy = strategy or tf.distribute.get_strategy()
    return int(per_replica_batch_size) * strategy.num_replicas_in_sync


def dataset_info(name, data_dir=None):
    """The `DatasetInfo` of a dataset, without loading its images.

    Args:
        name: ``"cifar100"``, ``"cifar10"`` or ``"digits"``.
        data_dir: tfds data directory (CIFAR only).

    Returns:
        A `DatasetInfo`; for CIFAR, ``num_train``/``num_test`` are filled in
        only once tfds has prepared the data.
    """
    _check_name(name)
    if name == "digits":
        x_train, x_test, _, _ = _digits_arrays(0.2, 0)
        return _digits_info(x_train, x_test)
    mean, std = NORMALIZATION[name]
    return DatasetInfo(name, _NUM_CLASSES[name], (32, 32, 3), mean, std)


def load(name, batch_size=64, data_dir=None, seed=0, download=True,
         shuffle_buffer=50_000):
    """Train and test pipelines of a dataset, ready for `model.fit`.

    CIFAR-10/100 come from tensorflow-datasets (the first use downloads and
    prepares them under ``data_dir``, as tfds does); ``digits`` is bundled.

    Args:
        name: ``"cifar100"``, ``"cifar10"`` or ``"digits"``.
        batch_size: global batch size (see `global_batch_size`).
        data_dir: tfds data directory; default: tfds's (``~/tensorflow_datasets``).
        seed: seed of shuffling and augmentation (and of the digits split).
        download: let tfds download the data when it is not prepared yet.
        shuffle_buffer: shuffle buffer of the train pipeline (the whole
            training set by default).

    Returns:
        ``(train_ds, test_ds, info)``: `tf.data.Dataset`s of ``(images,
        labels)`` batches (normalised float32 NHWC images, int64 labels) and
        the `DatasetInfo`.

    Example:

    >>> train_ds, test_ds, info = load("digits", batch_size=64)
    """
    _check_name(name)
    if int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be >= 1, got {batch_size}.")
    if name == "digits":
        x_train, x_test, y_train, y_test = _digits_arrays(0.2, seed)
        info = _digits_info(x_train, x_test)
        train = tf.data.Dataset.from_tensor_slices((x_train, y_train))
        test = tf.data.Dataset.from_tensor_slices((x_test, y_test))
        flip = False
    else:
        import tensorflow_datasets as tfds

        (train, test), tfds_info = tfds.load(
            name, split=["train", "test"], as_supervised=True,
            data_dir=data_dir, download=download, with_info=True)
        mean, std = NORMALIZATION[name]
        splits = tfds_info.splits
        counts = [splits[s].num_examples if s in splits else None
                  for s in ("train", "test")]
        info = DatasetInfo(name, _NUM_CLASSES[name], (32, 32, 3), mean, std,
                           *counts)
        flip = True
    train_ds = _pipeline(train, info, batch_size, True, seed, flip,
                         shuffle_buffer)
    test_ds = _pipeline(test, info, batch_size, False, seed, flip,
                        shuffle_buffer)
    return train_ds, test_ds, info
