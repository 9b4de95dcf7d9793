"""Dataset names, image folders, tfds datasets (prepared for real), subsets."""

import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_mixkd import data
from keras_mixkd.data import network


class _ImageBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A tfds image classification builder: IMAGE_SHAPE, LABEL_NAMES."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=self.IMAGE_SHAPE),
                "label": tfds.features.ClassLabel(names=self.LABEL_NAMES)}))


class TinyShapes(_ImageBuilder):
    """A tfds dataset prepared by tfds's real download_and_prepare path."""

    IMAGE_SHAPE = (12, 10, 3)
    LABEL_NAMES = ["circle", "square", "star"]

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(30, 0),
                "test": self._generate_examples(9, 1)}

    def _generate_examples(self, count, seed):
        for i, (image, label) in enumerate(zip(*tiny_shapes(count, seed))):
            yield i, {"image": image, "label": label}


class VariedShapes(_ImageBuilder):
    """Images of different sizes, and no test split."""

    IMAGE_SHAPE = (None, None, 3)
    LABEL_NAMES = ["even", "odd"]

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i, image in enumerate(varied_images()):
            yield i, {"image": image, "label": i % 2}


def varied_images():
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, (6 + i, 16 - i, 3), np.uint8)
            for i in range(10)]


def tiny_shapes(count, seed):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (count, 12, 10, 3), np.uint8),
            np.arange(count) % 3)


def test_names_are_checked_without_loading(tmp_path):
    assert data.available() == ["cifar10", "cifar100", "digits",
                                "fashion_mnist"]
    for name in ("digits", "fashion_mnist", "tfds:mnist",
                 f"folder:{tmp_path}"):
        data.check_name(name)
    for bad in ("imagenet", "tfds:", "folder:", "cifar"):
        with pytest.raises(ValueError, match="folder:PATH.*tfds:NAME"):
            data.check_name(bad)
    with pytest.raises(ValueError, match="is not a folder"):
        data.check_name(f"folder:{tmp_path / 'missing'}")
    with pytest.raises(ValueError, match="image_size"):
        data.load("digits", image_size=(0, 3))
    with pytest.raises(ValueError, match="train_size"):
        data.load("digits", train_size=0)


def test_named_infos_without_data(tmp_path):
    info = data.dataset_info("cifar10", data_dir=str(tmp_path))
    assert info.class_names[:2] == ("airplane", "automobile")
    assert (info.num_train, info.num_test, info.image_shape) == (
        50000, 10000, (32, 32, 3))
    # CIFAR-100's names come with its download.
    assert data.dataset_info("cifar100", str(tmp_path)).class_names is None


def test_stratified_indices_by_hand():
    labels = np.array([0] * 6 + [1] * 3 + [2])
    # Exact shares of 5: 3, 1.5, 0.5; the remainder goes to class 1 (tie
    # with class 2, lowest class first).
    chosen = data.stratified_indices(labels, 5, seed=0)
    np.testing.assert_array_equal(np.bincount(labels[chosen], minlength=3),
                                  [3, 2, 0])
    assert list(chosen) == sorted(set(chosen.tolist()))
    np.testing.assert_array_equal(chosen, data.stratified_indices(labels, 5))
    assert not np.array_equal(data.stratified_indices(labels, 5, seed=1),
                              chosen)
    with pytest.raises(ValueError, match=r"in \[1, 10\]"):
        data.stratified_indices(labels, 11)


def test_digits_subset_and_size():
    train, test, info = data.load("digits", batch_size=50, train_size=100,
                                  image_size=(40, 48))
    assert info.num_train == 100 and info.image_shape == (40, 48, 3)
    labels = np.concatenate([y.numpy() for _, y in train])
    np.testing.assert_array_equal(np.sort(np.bincount(labels)), [10] * 10)
    assert next(iter(train))[0].shape == (50, 40, 48, 3)
    assert next(iter(test))[0].shape == (50, 40, 48, 3)
    assert info.class_names == tuple("0123456789")


def write_images(folder, per_class, size=(12, 10), channels=3, seed=0):
    rng = np.random.default_rng(seed)
    images = {}
    for name in ("cat", "dog"):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            image = rng.integers(0, 256, (*size, channels), np.uint8)
            images[name, i] = image
            tf.io.write_file(str(folder / name / f"{i}.png"),
                             tf.io.encode_png(image))
    return images


def test_folder_with_train_and_test(tmp_path):
    train_images = write_images(tmp_path / "train", 6)
    write_images(tmp_path / "test", 2, seed=1)
    train, test, info = data.load(f"folder:{tmp_path}", batch_size=4)
    assert info.class_names == ("cat", "dog") and info.num_classes == 2
    assert (info.num_train, info.num_test) == (12, 4)
    assert info.image_shape == (12, 10, 3)  # the first image's size
    stack = np.stack(list(train_images.values())) / 255.0
    np.testing.assert_allclose(info.mean, stack.mean(axis=(0, 1, 2)),
                               rtol=1e-9)
    np.testing.assert_allclose(info.std, stack.std(axis=(0, 1, 2)),
                               rtol=1e-9)
    images, labels = next(iter(test))
    assert images.shape == (4, 12, 10, 3)
    np.testing.assert_array_equal(labels.numpy(), [0, 0, 1, 1])


def test_one_folder_is_split_80_20_and_grayscale_resized(tmp_path):
    write_images(tmp_path, 10, size=(20, 20), channels=1)
    train, test, info = data.load(f"folder:{tmp_path}", batch_size=32,
                                  image_size=16)
    assert (info.num_train, info.num_test) == (16, 4)
    assert info.image_shape == (16, 16, 1) and len(info.mean) == 1
    images, _ = next(iter(train))
    assert images.shape == (16, 16, 16, 1)
    again = data.dataset_info(f"folder:{tmp_path}", image_size=16)
    assert again == info  # the split is fixed


def test_folder_errors(tmp_path):
    (tmp_path / "train" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match="no test/"):
        data.load(f"folder:{tmp_path}")
    (tmp_path / "test" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no images"):
        data.load(f"folder:{tmp_path}")


def test_tfds_dataset_downloaded_and_prepared(tmp_path):
    train, test, info = data.load("tfds:tiny_shapes", batch_size=9,
                                  data_dir=str(tmp_path))
    assert (tmp_path / "tiny_shapes" / "1.0.0").is_dir()  # prepared there
    assert info.class_names == ("circle", "square", "star")
    assert (info.num_train, info.num_test, info.image_shape) == (
        30, 9, (12, 10, 3))
    images, _ = tiny_shapes(30, 0)
    np.testing.assert_allclose(info.mean, (images / 255.0).mean((0, 1, 2)),
                               rtol=1e-9)
    np.testing.assert_allclose(info.std, (images / 255.0).std((0, 1, 2)),
                               rtol=1e-9)
    # The test images come back (in tfds's order), normalised.
    test_images, test_labels = next(iter(test))
    expected_images, expected_labels = tiny_shapes(9, 1)
    got = test_images.numpy() * np.array(info.std) + np.array(info.mean)
    got = np.round(got * 255).astype(np.uint8)
    assert sorted(zip(map(bytes, got), test_labels.numpy())) == sorted(
        zip(map(bytes, expected_images), expected_labels))
    # Prepared once: a subset at another size reads the same files.
    train, _, small = data.load("tfds:tiny_shapes", batch_size=9,
                                data_dir=str(tmp_path), train_size=9,
                                image_size=16, download=False)
    labels = np.concatenate([y.numpy() for _, y in train])
    np.testing.assert_array_equal(np.bincount(labels), [3, 3, 3])
    assert small.image_shape == (16, 16, 3)
    assert next(iter(train))[0].shape == (9, 16, 16, 3)


def test_tfds_images_of_varied_sizes_need_an_image_size(tmp_path):
    with pytest.raises(ValueError, match="differ in size.*`image_size`"):
        data.load("tfds:varied_shapes", data_dir=str(tmp_path))
    train, test, info = data.load("tfds:varied_shapes", batch_size=8,
                                  data_dir=str(tmp_path), image_size=8)
    # No test split: the last 20% of train evaluates.
    assert (info.num_train, info.num_test, info.image_shape) == (8, 2,
                                                                 (8, 8, 3))
    assert next(iter(train))[0].shape == (8, 8, 8, 3)
    # Every pixel of the (unresized) training images counts once.
    split = tfds.builder("varied_shapes", data_dir=str(tmp_path)).as_dataset(
        "train[:80%]")
    pixels = np.concatenate([ex["image"].reshape(-1, 3) / 255.0
                             for ex in split.as_numpy_iterator()])
    np.testing.assert_allclose(info.mean, pixels.mean(0), rtol=1e-9)
    np.testing.assert_allclose(info.std, pixels.std(0), rtol=1e-9)


@pytest.fixture
def offline(monkeypatch):
    def unreachable(*args, **kwargs):
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(network.socket, "create_connection", unreachable)


def test_offline_download_fails_fast_with_what_to_do(tmp_path, offline):
    start = time.monotonic()
    with pytest.raises(ConnectionError, match="offline.*`data_dir"):
        data.load("tfds:mnist", data_dir=str(tmp_path))
    with pytest.raises(ConnectionError, match="must be downloaded"):
        data.load("cifar10", data_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="downloads are disabled"):
        data.load("cifar10", data_dir=str(tmp_path), download=False)
    assert time.monotonic() - start < 60


def test_network_probe_is_bounded_in_time(monkeypatch):
    def hang(*args, **kwargs):  # a resolver that hangs, then gives up
        time.sleep(3)
        raise OSError("timed out (test)")

    monkeypatch.setattr(network.socket, "create_connection", hang)
    start = time.monotonic()
    assert not network.online(timeout=0.5)
    assert time.monotonic() - start < 5


def test_not_an_image_classification_dataset(tmp_path):
    with pytest.raises(ValueError, match="not a tensorflow-datasets"):
        data.load("tfds:no_such_dataset_here", data_dir=str(tmp_path))
