"""Input pipelines: bundled digits and CIFAR through (mocked) tfds."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_mixkd import data


def test_digits_arrays_are_normalised_and_split():
    (x_train, y_train), (x_test, y_test) = data.load_digits()
    assert x_train.shape == (1437, 32, 32, 3) and x_test.shape == (360, 32,
                                                                   32, 3)
    assert abs(x_train.mean()) < 1e-3 and abs(x_train.std() - 1) < 1e-3
    assert set(np.unique(y_train)) == set(range(10))
    # Stratified: every class in the test split in proportion.
    assert np.bincount(y_test).min() >= 30


def test_digits_pipelines():
    train, test, info = data.load("digits", batch_size=64)
    assert (info.num_classes, info.num_train, info.num_test) == (10, 1437,
                                                                 360)
    images, labels = next(iter(test))
    assert images.shape == (64, 32, 32, 3) and images.dtype == tf.float32
    assert labels.dtype == tf.int64
    assert int(train.cardinality()) == 23  # ceil(1437 / 64)
    assert sum(int(y.shape[0]) for _, y in test) == 360
    # The eval pipeline is deterministic; train batches are reshuffled.
    a = next(iter(test))[0].numpy()
    np.testing.assert_array_equal(a, next(iter(test))[0].numpy())
    first = [y.numpy() for _, y in train.take(2)]
    second = [y.numpy() for _, y in train.take(2)]
    assert any(not np.array_equal(p, q) for p, q in zip(first, second))


def test_augment_is_a_padded_crop_and_a_flip():
    image = tf.random.stateless_uniform((32, 32, 3), seed=(1, 2))
    outputs = [data.augment(image, tf.constant([i, 7], tf.int64)).numpy()
               for i in range(40)]
    padded = np.pad(image.numpy(), ((4, 4), (4, 4), (0, 0)))
    for out in outputs:
        assert out.shape == (32, 32, 3)
        windows = [padded[r:r + 32, c:c + 32] for r in range(9)
                   for c in range(9)]
        windows += [w[:, ::-1] for w in windows]
        assert any(np.array_equal(out, w) for w in windows)
    # Both flips and several offsets occur; zero padding shows up.
    assert len({o.tobytes() for o in outputs}) > 10
    assert any((o == 0).all(axis=-1).any() for o in outputs)
    again = data.augment(image, tf.constant([3, 7], tf.int64)).numpy()
    np.testing.assert_array_equal(again, outputs[3])


def test_digits_are_not_flipped():
    image = tf.reshape(tf.range(32 * 32 * 3, dtype=tf.float32), (32, 32, 3))
    for i in range(20):
        out = data.augment(image, tf.constant([i, 1], tf.int64), flip=False)
        # Without a flip, values increase left to right inside the image.
        row = out.numpy()[16, :, 0]
        nonzero = row[row > 0]
        assert np.all(np.diff(nonzero) > 0)


@pytest.mark.parametrize("name,classes", [("cifar100", 100), ("cifar10", 10)])
def test_cifar_through_mocked_tfds(name, classes):
    with tfds.testing.mock_data(num_examples=20):
        train, test, info = data.load(name, batch_size=8, seed=1)
        images, labels = next(iter(train))
        test_images, _ = next(iter(test))
    assert info.num_classes == classes and info.mean == data.NORMALIZATION[
        name][0]
    assert images.shape == (8, 32, 32, 3) and images.dtype == tf.float32
    assert labels.dtype == tf.int64 and int(tf.reduce_max(labels)) < classes
    # Normalised with the dataset's statistics: uint8 pixels in [0, 255]
    # land in [(0 - mean) / std, (1 - mean) / std].
    mean = np.array(info.mean)
    std = np.array(info.std)
    low, high = (0 - mean) / std, (1 - mean) / std
    for batch in (images.numpy(), test_images.numpy()):
        assert np.all(batch >= low - 1e-5) and np.all(batch <= high + 1e-5)


def test_global_batch_size_follows_the_strategy():
    assert data.global_batch_size(64) == 64
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")[:2]]
    assert data.global_batch_size(
        64, tf.distribute.MirroredStrategy(cpus)) == 128


def test_bad_names_and_sizes():
    with pytest.raises(ValueError, match="Unknown dataset 'imagenet'"):
        data.load("imagenet")
    with pytest.raises(ValueError, match="batch_size"):
        data.load("digits", batch_size=0)
    with pytest.raises(ValueError, match="test_fraction"):
        data.load_digits(test_fraction=1.5)


def test_one_hot_and_mix_pipelines():
    from keras_mixkd.mixing import PartialMixUp

    _, test, info = data.load("digits", batch_size=32)
    encoded = data.one_hot(test, info.num_classes)
    (images, labels), (_, integers) = next(iter(encoded)), next(iter(test))
    np.testing.assert_array_equal(labels.numpy().argmax(1), integers.numpy())
    mixed = data.mix(encoded, PartialMixUp(mix_fraction=1.0, seed=3))
    mixed_images, mixed_labels = next(iter(mixed))
    np.testing.assert_allclose(mixed_labels.numpy().sum(1), 1.0, rtol=1e-5)
    # Soft labels, except where a row's partner has its class (about 1 in
    # 10 on the digits: 0.9 failed at 27 of 32 rows); unmixed gives 0.
    assert (mixed_labels.numpy().max(1) < 1).mean() > 0.6
    assert not np.allclose(mixed_images.numpy(), images.numpy())
