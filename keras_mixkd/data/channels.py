"""``channels``: every image of a dataset read as grayscale (1) or RGB (3).

Folders decode at the asked count (`keras_mixkd.data.folder`); the other
sources are converted here, before their pipelines cache them. Gray becomes
RGB by repeating it (mean and std repeat too); RGB becomes gray by the
ITU-R 601 luma weights (mean and std are then measured on the training
images, one pass).
"""

import dataclasses

import tensorflow as tf

from keras_mixkd.data.folder import CHANNELS
from keras_mixkd.data.folder import check_channels
from keras_mixkd.data.image_files import LUMA
from keras_mixkd.data.tfds_source import dataset_stats

__all__ = ["CHANNELS", "check_channels", "convert", "convert_source"]


def convert(image, channels):
    """One image, uint8 or float, with ``channels`` channels (1 or 3).

    Args:
        image: an ``(H, W, C)`` tensor with 1 or 3 channels (a 4th, alpha,
            is dropped).
        channels: 1 (grayscale) or 3 (RGB).

    Returns:
        The image in its dtype (uint8 rounded) with ``channels`` channels.

    Example:

    >>> convert(tf.zeros((8, 8, 3), tf.uint8), 1).shape
    TensorShape([8, 8, 1])
    """
    have = image.shape[-1]
    if have == 4:
        image, have = image[..., :3], 3
    if have == channels:
        return image
    if channels == 3:
        return tf.tile(image, [1, 1, 3])
    gray = tf.tensordot(tf.cast(image, tf.float32), tf.constant(LUMA), 1)
    if image.dtype == tf.uint8:
        gray = tf.cast(tf.clip_by_value(tf.round(gray), 0, 255), tf.uint8)
    return tf.cast(gray, image.dtype)[..., None]


def convert_source(source, channels):
    """A `Source` whose images have ``channels`` channels.

    Args:
        source: a `Source` (see `keras_mixkd.data.source`).
        channels: 1, 3, or None to leave it as it is.

    Returns:
        The `Source`, its examples converted and its `DatasetInfo`'s image
        shape, mean and std those of the converted images.
    """
    check_channels(channels)
    info = source.info
    if channels is None or info.image_shape[-1] == channels:
        return source

    def apply(image, label):
        return convert(image, channels), label

    train = source.train.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
    test = source.test.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
    if channels == 3:
        mean, std = tuple(info.mean) * 3, tuple(info.std) * 3
    else:
        mean, std = dataset_stats(train)
    info = dataclasses.replace(
        info, image_shape=(*tuple(info.image_shape)[:2], channels),
        mean=tuple(mean), std=tuple(std))
    return source._replace(train=train, test=test, info=info)
