"""Fashion-MNIST: the IDX reader, its sources in order, its pipelines."""

import gzip
import pathlib
import struct
import time

import numpy as np
import pytest

from keras_mixkd import data
from keras_mixkd.data import fashion_mnist
from keras_mixkd.data import idx
from keras_mixkd.data import network

REAL_DIR = pathlib.Path(fashion_mnist.DEBIAN_DIR)
HAVE_REAL = all((REAL_DIR / f).is_file() for f in fashion_mnist.FILES.values())
needs_real = pytest.mark.skipif(
    not HAVE_REAL, reason=f"Fashion-MNIST IDX files not in {REAL_DIR} "
    "(apt-get install dataset-fashion-mnist)")


def idx_bytes(array, magic_type=0x08):
    """An IDX file's bytes, written by hand from the format's definition."""
    header = bytes([0, 0, magic_type, array.ndim])
    header += b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.astype(">u1").tobytes()


def write_folder(folder, n_train=12, n_test=6, seed=0):
    """Four small gzipped IDX files of random 28x28 images."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        arrays[split, "images"] = rng.integers(0, 256, (n, 28, 28), np.uint8)
        arrays[split, "labels"] = (np.arange(n) % 10).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in fashion_mnist.FILES.items():
        (folder / name).write_bytes(gzip.compress(idx_bytes(arrays[key])))
    return arrays


def test_read_idx_round_trips_gzipped_and_plain(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "a").write_bytes(idx_bytes(images))
    for name in ("a.gz", "a"):
        out = idx.read_idx(tmp_path / name, idx.IMAGES_MAGIC)
        np.testing.assert_array_equal(out, images)
        assert out.dtype == np.uint8
    # 2051 = 0x00000803: unsigned bytes, three dimensions.
    assert struct.unpack(">I", idx_bytes(images)[:4])[0] == 2051


def test_read_idx_errors_are_clear(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    good = idx_bytes(labels)
    (tmp_path / "labels").write_bytes(good)
    with pytest.raises(idx.IDXFormatError, match="magic number 2049, "
                       "expected 2051"):
        idx.read_idx(tmp_path / "labels", idx.IMAGES_MAGIC)
    (tmp_path / "short").write_bytes(good[:-3])
    with pytest.raises(idx.IDXFormatError, match="7 bytes follow.*truncated"):
        idx.read_idx(tmp_path / "short", idx.LABELS_MAGIC)
    (tmp_path / "long").write_bytes(good + b"\0")
    with pytest.raises(idx.IDXFormatError, match="too long"):
        idx.read_idx(tmp_path / "long")
    (tmp_path / "header").write_bytes(good[:6])
    with pytest.raises(idx.IDXFormatError, match="header is truncated"):
        idx.read_idx(tmp_path / "header")
    (tmp_path / "text").write_bytes(b"hello world")
    with pytest.raises(idx.IDXFormatError, match="not an IDX header"):
        idx.read_idx(tmp_path / "text")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(idx.IDXFormatError, match="gzip stream is truncated"):
        idx.read_idx(tmp_path / "cut.gz")


def test_count_mismatch_between_images_and_labels(tmp_path):
    write_folder(tmp_path)
    labels = np.zeros(11, np.uint8)  # 12 train images
    (tmp_path / fashion_mnist.FILES["train", "labels"]).write_bytes(
        gzip.compress(idx_bytes(labels)))
    with pytest.raises(idx.IDXFormatError,
                       match="12 train images but 11 labels"):
        fashion_mnist.read_folder(tmp_path)


@pytest.fixture
def no_sources(tmp_path, monkeypatch):
    """No Debian folder, an empty Keras cache, and no network."""
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(tmp_path / "deb"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))

    def unreachable(*args, **kwargs):
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(network.socket, "create_connection", unreachable)
    return tmp_path


def test_data_dir_comes_first_and_loads(no_sources):
    arrays = write_folder(no_sources / "mine", n_train=20, n_test=10)
    train, test, info = data.load("fashion_mnist", batch_size=8,
                                  data_dir=str(no_sources / "mine"))
    assert (info.num_train, info.num_test, info.num_classes) == (20, 10, 10)
    assert info.image_shape == (32, 32, 1)
    images, labels = next(iter(test))
    assert images.shape == (8, 32, 32, 1)
    # The eval pipeline: padded by 2 zero pixels, then normalised.
    mean, std = info.mean[0], info.std[0]
    expected = (np.pad(arrays["test", "images"][:8] / 255.0,
                       ((0, 0), (2, 2), (2, 2))) - mean) / std
    np.testing.assert_allclose(images.numpy()[..., 0], expected, atol=1e-5)
    np.testing.assert_array_equal(labels.numpy(), np.arange(8) % 10)
    assert sum(int(y.shape[0]) for _, y in train) == 20


def test_keras_cache_is_a_source(no_sources):
    write_folder(no_sources / "keras" / "datasets" / "fashion-mnist",
                 n_train=10, n_test=4)
    _, _, info = data.load("fashion_mnist", batch_size=4)
    assert (info.num_train, info.num_test) == (10, 4)


def test_no_source_fails_fast_naming_every_source(no_sources):
    start = time.monotonic()
    with pytest.raises(FileNotFoundError) as error:
        data.load("fashion_mnist", data_dir=str(no_sources / "empty"))
    assert time.monotonic() - start < 10
    message = str(error.value)
    for part in ("`data_dir=", str(no_sources / "deb"),
                 str(no_sources / "keras"), "keras.datasets.fashion_mnist",
                 "apt-get install dataset-fashion-mnist", "cannot reach"):
        assert part in message


def test_download_is_the_last_source(no_sources, monkeypatch):
    monkeypatch.setattr(network, "online", lambda *a, **k: True)
    arrays = ((np.zeros((10, 28, 28), np.uint8), np.arange(10) % 10),
              (np.zeros((3, 28, 28), np.uint8), np.arange(3)))
    monkeypatch.setattr(fashion_mnist, "_download", lambda: arrays)
    _, _, info = data.load("fashion_mnist", batch_size=4)
    assert (info.num_train, info.num_test) == (10, 3)


def test_info_without_loading():
    info = data.dataset_info("fashion_mnist")
    assert (info.num_train, info.num_test, info.num_classes) == (60000,
                                                                10000, 10)
    assert info.image_shape == (32, 32, 1) and len(info.class_names) == 10
    assert data.dataset_info("fashion_mnist", image_size=(40, 48)
                             ).image_shape == (40, 48, 1)


@needs_real
def test_real_files_and_their_statistics():
    (x_train, y_train), (x_test, y_test) = fashion_mnist.read_folder(
        REAL_DIR)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28,
                                                                 28)
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    padded = fashion_mnist.pad(x_train) / 255.0
    mean, std = data.NORMALIZATION["fashion_mnist"]
    np.testing.assert_allclose(padded.mean(), mean[0], rtol=1e-9)
    np.testing.assert_allclose(padded.std(), std[0], rtol=1e-9)
    # The 28x28 images' own statistics (0.2860, 0.3530) scale with padding.
    np.testing.assert_allclose(padded.mean(), x_train.mean() / 255 * 784 /
                               1024, rtol=1e-9)


@needs_real
def test_real_pipelines_with_a_subset():
    train, test, info = data.load("fashion_mnist", batch_size=500,
                                  data_dir=str(REAL_DIR), train_size=1000)
    assert (info.num_train, info.num_test, info.num_classes) == (1000,
                                                                10000, 10)
    labels = np.concatenate([y.numpy() for _, y in train])
    np.testing.assert_array_equal(np.bincount(labels), [100] * 10)
    images, _ = next(iter(train))
    assert images.shape == (500, 32, 32, 1)
    _, _, full = data.load("fashion_mnist", batch_size=500)
    assert full.num_train == 60000 and full.mean == info.mean
