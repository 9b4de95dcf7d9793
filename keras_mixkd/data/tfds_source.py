"""Image classification datasets of tensorflow-datasets (CIFAR, ``tfds:NAME``).

A dataset qualifies when it has an ``image`` feature and a ``label``
`ClassLabel` feature. Its ``train`` split trains; ``test`` evaluates (or
``validation``; without either, the last 20% of ``train``). A dataset not
prepared yet under ``data_dir`` is downloaded and prepared there, after a
bounded check that the machine is online: offline, the error comes within
seconds instead of after minutes of DNS retries.
"""

import numpy as np
import tensorflow as tf

from keras_mixkd.data import network
from keras_mixkd.data.info import DatasetInfo
from keras_mixkd.data.source import Source


def builder(name, data_dir=None, download=True):
    """The prepared tfds builder of ``name`` (downloading it if allowed).

    Raises:
        ValueError: ``name`` is not a tfds dataset.
        FileNotFoundError: not prepared and ``download`` is False.
        ConnectionError: not prepared and the machine is offline.
    """
    import tensorflow_datasets as tfds

    try:
        result = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as e:
        raise ValueError(
            f"tfds:{name} is not a tensorflow-datasets dataset "
            "(see `tfds.list_builders()`).") from e
    if result.is_prepared():
        return result
    where = result.data_dir
    advice = (f"Prepare it on a machine with network (`tfds build {name}` or "
              f"`tfds.load({name!r}, data_dir=...)`), copy that data folder "
              "here and pass it as `data_dir`.")
    if not download:
        raise FileNotFoundError(f"Dataset {name} is not prepared in {where} "
                                f"and downloads are disabled. {advice}")
    if _must_download(result) and not network.online(
            _hosts(result) + network.HOSTS):
        raise ConnectionError(
            f"Dataset {name} is not prepared in {where} and must be "
            f"downloaded, but this machine is offline. {advice}")
    result.download_and_prepare()
    return result


def _must_download(builder_):
    """Whether preparing downloads: the dataset lists URLs (checksums), and
    tfds.testing.mock_data (which prepares nothing) is not in force."""
    prepare = type(builder_).download_and_prepare
    mocked = getattr(prepare, "__module__", "").startswith(
        "tensorflow_datasets.testing")
    return bool(builder_.url_infos) and not mocked


def _hosts(builder_):
    """The ``(host, port)`` pairs of the dataset's download URLs."""
    from urllib.parse import urlparse

    hosts = set()
    for url in builder_.url_infos or ():
        parsed = urlparse(url)
        if parsed.hostname:
            hosts.add((parsed.hostname, parsed.port or (
                80 if parsed.scheme == "http" else 443)))
    return tuple(sorted(hosts))


def _splits(available):
    if not available or "test" in available:  # none: tfds.testing.mock_data
        return "train", "test"
    if "validation" in available:
        return "train", "validation"
    return "train[:80%]", "train[80%:]"


def _examples(builder_, split):
    return builder_.as_dataset(split=split, shuffle_files=False).map(
        lambda ex: (ex["image"], ex["label"]),
        num_parallel_calls=tf.data.AUTOTUNE)


def _labels(builder_, split):
    import tensorflow_datasets as tfds

    ds = builder_.as_dataset(
        split=split, shuffle_files=False,
        decoders={"image": tfds.decode.SkipDecoding()})
    return np.fromiter(ds.map(lambda ex: ex["label"]).as_numpy_iterator(),
                       np.int64)


def dataset_stats(dataset):
    """Per-channel mean and std of the images of ``(image, label)`` pairs.

    Images are uint8 or float in [0, 1] and may differ in size; every pixel
    counts once. In [0, 1] units.
    """

    def sums(image, label):
        scale = 255.0 if image.dtype == tf.uint8 else 1.0
        pixels = tf.reshape(tf.cast(image, tf.float64) / scale,
                            (-1, tf.shape(image)[-1]))
        return (tf.reduce_sum(pixels, 0), tf.reduce_sum(pixels ** 2, 0),
                tf.cast(tf.shape(pixels)[0], tf.float64))

    total, squares, count = dataset.map(
        sums, num_parallel_calls=tf.data.AUTOTUNE).reduce(
            (tf.zeros([1], tf.float64), tf.zeros([1], tf.float64),
             tf.constant(0.0, tf.float64)),
            lambda a, b: (a[0] + b[0], a[1] + b[1], a[2] + b[2]))
    if float(count) == 0:
        raise ValueError("The training split has no images.")
    mean = total.numpy() / float(count)
    std = np.sqrt(np.maximum(squares.numpy() / float(count) - mean ** 2, 0))
    return tuple(mean.tolist()), tuple(std.tolist())


def open_tfds(name, data_dir=None, download=True, normalization=None,
              dataset_name=None, image_size=None):
    """A tfds image-classification dataset as a `Source`.

    Args:
        name: the tfds name (``"cifar10"``, ``"mnist"``, ``"tf_flowers"``).
        data_dir: tfds data directory; default: tfds's.
        download: allow downloading and preparing.
        normalization: ``(mean, std)`` known in advance, or None to compute
            them from the training images (one pass).
        dataset_name: the name recorded in the `DatasetInfo` (default
            ``name``).
        image_size: the ``(H, W)`` the pipelines will resize to; required
            when the dataset's images differ in size.

    Returns:
        A `Source`.
    """
    prepared = builder(name, data_dir, download)
    features = prepared.info.features
    if "image" not in features or "label" not in features or not hasattr(
            features["label"], "num_classes"):
        raise ValueError(
            f"tfds:{name} is not an image classification dataset: it needs "
            "an 'image' feature and a 'label' ClassLabel feature, it has "
            f"{sorted(features)}.")
    train_split, test_split = _splits(prepared.info.splits)
    train = _examples(prepared, train_split)
    test = _examples(prepared, test_split)
    shape = tuple(features["image"].shape)
    if None in shape[:2] and image_size is None:
        raise ValueError(
            f"tfds:{name}'s images differ in size ({shape}): give an "
            "`image_size` (H or H,W) to resize them to.")
    if normalization is None:
        normalization = dataset_stats(train)
    mean, std = normalization
    splits = prepared.info.splits
    counts = [splits[s].num_examples if splits else None
              for s in (train_split, test_split)]
    names = features["label"].names
    info = DatasetInfo(dataset_name or name, features["label"].num_classes,
                       shape, tuple(mean), tuple(std), *counts,
                       tuple(names) if names else None)
    return Source(train, test, info, True,
                  lambda: _labels(prepared, train_split))
