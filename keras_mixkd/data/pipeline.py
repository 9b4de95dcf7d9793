"""Input pipelines: augmentation, resizing, subsets, batching, mixing.

The train pipeline follows the RepDistiller protocol: random crop after
4-pixel zero padding (in pixel space, before normalisation), horizontal flip,
normalisation with the dataset's mean and std; the eval pipeline only
normalises. Pipelines cache the images (as uint8 when the source yields
uint8, after any resizing), shuffle each epoch, map in parallel and prefetch
with AUTOTUNE; they are batched by the *global* batch size, which Keras
splits across the replicas of a `tf.distribute` strategy.
"""

import numpy as np
import tensorflow as tf


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


def image_size_of(image_size):
    """``image_size`` as ``(H, W)``: ``None``, ``H``, ``(H, W)`` or ``"H,W"``.

    Raises:
        ValueError: when a size is not a positive integer.
    """
    if image_size is None:
        return None
    if isinstance(image_size, str):
        image_size = [s for s in image_size.replace("x", ",").split(",") if s]
        image_size = image_size * 2 if len(image_size) == 1 else image_size
    sizes = (tuple(image_size) if isinstance(image_size, (tuple, list))
             else (image_size, image_size))
    try:
        sizes = tuple(int(s) for s in sizes)
    except (TypeError, ValueError):
        sizes = ()
    if len(sizes) != 2 or min(sizes) < 1:
        raise ValueError(
            f"`image_size` must be H or (H, W) with positive integers (e.g. "
            f"32 or (40, 48)), got {image_size!r}.")
    return sizes


def resize(dataset, image_size):
    """Resizes the images of ``(image, label)`` examples (bilinear).

    uint8 images stay uint8 (rounded), so the cache stays small.

    Args:
        dataset: a `tf.data.Dataset` of ``(image, label)`` examples.
        image_size: ``(H, W)``, or None to leave the images as they are.

    Returns:
        The dataset of resized examples.
    """
    if image_size is None:
        return dataset

    def apply(image, label):
        out = tf.image.resize(image, image_size)
        if image.dtype == tf.uint8:
            out = tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8)
        return out, label

    return dataset.map(apply, num_parallel_calls=tf.data.AUTOTUNE)


def stratified_indices(labels, size, seed=0):
    """A fixed-seed, class-stratified choice of ``size`` example indices.

    Each class gets ``size * count / len(labels)`` examples, rounded down;
    the remaining examples go to the classes with the largest remainders
    (ties: lowest class first). Within a class the examples are a seeded
    random choice.

    Args:
        labels: the integer labels of the whole set.
        size: how many examples to keep, in ``[1, len(labels)]``.
        seed: seed of the choice within each class.

    Returns:
        The sorted int64 indices of the chosen examples.

    Example:

    >>> stratified_indices([0, 0, 1, 1], 2)  # one of each class
    """
    labels = np.asarray(labels).astype("int64").reshape(-1)
    if not 1 <= int(size) <= len(labels):
        raise ValueError(
            f"`train_size` must be in [1, {len(labels)}] (the training set's "
            f"size), got {size}.")
    classes, counts = np.unique(labels, return_counts=True)
    exact = int(size) * counts / len(labels)
    quota = np.floor(exact).astype("int64")
    order = sorted(range(len(classes)), key=lambda i: (quota[i] - exact[i],
                                                       classes[i]))
    for i in order[:int(size) - quota.sum()]:
        quota[i] += 1
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:q]
              for c, q in zip(classes, quota)]
    return np.sort(np.concatenate(chosen))


def take_indices(dataset, indices, total):
    """Keeps the examples of ``dataset`` at ``indices`` (out of ``total``)."""
    mask = np.zeros(int(total), bool)
    mask[np.asarray(indices)] = True
    kept = int(mask.sum())
    mask = tf.constant(mask)
    # The filter hides the length; declaring it spares Keras a first epoch
    # that runs out of data ("Your input ran out of data").
    return dataset.enumerate().filter(
        lambda i, example: tf.gather(mask, i)).map(
            lambda i, example: example).apply(
                tf.data.experimental.assert_cardinality(kept))


def channel_stats(images, batch=4096):
    """Per-channel mean and std of uint8 or [0, 1] NHWC images, [0, 1] units.

    Args:
        images: a numpy array ``(N, H, W, C)``.
        batch: images summed at a time (bounds the float64 memory).

    Returns:
        ``(mean, std)``, tuples of floats per channel.
    """
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    total = np.zeros(images.shape[-1])
    squares = np.zeros(images.shape[-1])
    for start in range(0, len(images), batch):
        chunk = images[start:start + batch].astype("float64") / scale
        total += chunk.sum(axis=(0, 1, 2))
        squares += np.square(chunk).sum(axis=(0, 1, 2))
    count = images.shape[0] * images.shape[1] * images.shape[2]
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean ** 2, 0.0))
    return tuple(mean.tolist()), tuple(std.tolist())


def build(dataset, info, batch_size, training, seed=0, flip=True,
          shuffle_buffer=50_000, image_size=None):
    """Resize, cache, shuffle, augment, normalise, batch and prefetch.

    Args:
        dataset: a `tf.data.Dataset` of ``(image, label)`` examples, uint8
            images in [0, 255] or float images in [0, 1].
        info: the `DatasetInfo` whose mean and std normalise the images.
        batch_size: global batch size.
        training: shuffle and augment (the train pipeline).
        seed: seed of shuffling and augmentation.
        flip: flip horizontally in the augmentation.
        shuffle_buffer: shuffle buffer of the train pipeline.
        image_size: ``(H, W)`` to resize to, or None.

    Returns:
        A `tf.data.Dataset` of ``(images, labels)`` batches: normalised
        float32 NHWC images and int64 labels.
    """
    mean = tf.constant(info.mean, tf.float32)
    std = tf.constant(info.std, tf.float32)
    autotune = tf.data.AUTOTUNE

    def to_unit(image):
        if image.dtype == tf.uint8:
            return tf.cast(image, tf.float32) / 255.0
        return tf.cast(image, tf.float32)

    ds = resize(dataset, image_size).map(
        lambda image, label: (image, tf.cast(label, tf.int64)),
        num_parallel_calls=autotune).cache()
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed,
                        reshuffle_each_iteration=True)
        seeds = tf.data.Dataset.random(
            seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds).map(
            lambda example, s: (augment(to_unit(example[0]), s, flip=flip),
                                example[1]),
            num_parallel_calls=autotune)
    # Scaling and normalising whole batches, not images one at a time:
    # the same values, an element-wise map's per-image cost saved (a pass
    # over 10,000 test images: 0.34 s -> 0.04 s on 2 CPU cores).
    ds = ds.batch(batch_size).map(
        lambda images, labels: ((to_unit(images) - mean) / std, labels),
        num_parallel_calls=autotune)
    return ds.prefetch(autotune)


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


