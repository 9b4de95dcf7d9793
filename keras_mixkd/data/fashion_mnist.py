"""Fashion-MNIST from its IDX files: Debian's package, Keras's cache, a folder.

Zalando's 70,000 28x28 grayscale images of 10 clothing classes (60,000 to
train, 10,000 to test), zero-padded to 32x32 in pixel space: the input size of
the zoo's CIFAR networks.
"""

import os
import pathlib

import numpy as np

from keras_mixkd.data import idx
from keras_mixkd.data import network
from keras_mixkd.data.info import DatasetInfo
from keras_mixkd.data.source import from_arrays

#: The four standard files, as ``(split, kind) -> name``.
FILES = {("train", "images"): "train-images-idx3-ubyte.gz",
         ("train", "labels"): "train-labels-idx1-ubyte.gz",
         ("test", "images"): "t10k-images-idx3-ubyte.gz",
         ("test", "labels"): "t10k-labels-idx1-ubyte.gz"}

#: Where Debian's ``dataset-fashion-mnist`` package puts the files.
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

#: Zero padding on each side: 28 + 2 * 2 = 32.
PADDING = 2

#: Mean and std of the 60,000 training images padded to 32x32, in [0, 1]
#: units (the tests recompute them from the files).
NORMALIZATION = ((0.21899983206954657,), (0.33181137299995894,))


def keras_cache_dir():
    """Keras's dataset cache folder of Fashion-MNIST."""
    base = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras")
    return os.path.join(base, "datasets", "fashion-mnist")


def _has_files(folder):
    return folder is not None and all(
        (pathlib.Path(folder) / name).is_file() for name in FILES.values())


def local_folder(data_dir=None):
    """The first local folder holding Fashion-MNIST's four IDX files.

    Args:
        data_dir: a folder tried first, or None.

    Returns:
        ``data_dir``, Debian's package folder or Keras's cache folder,
        whichever has the files first; None when none has them.
    """
    for folder in (data_dir, DEBIAN_DIR, keras_cache_dir()):
        if _has_files(folder):
            return str(folder)
    return None


def read_folder(folder):
    """The four IDX files of ``folder`` as arrays.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: uint8 ``(N, 28, 28)``
        images and uint8 labels.

    Raises:
        idx.IDXFormatError: a file is corrupt, or images and labels differ in
            number.
    """
    folder = pathlib.Path(folder)
    splits = []
    for split in ("train", "test"):
        images = idx.read_idx(folder / FILES[split, "images"],
                              idx.IMAGES_MAGIC)
        labels = idx.read_idx(folder / FILES[split, "labels"],
                              idx.LABELS_MAGIC)
        if images.ndim != 3 or labels.ndim != 1:
            raise idx.IDXFormatError(
                f"{folder}: {split} images of shape {images.shape} and labels"
                f" of shape {labels.shape}; expected (N, 28, 28) and (N,).")
        if len(images) != len(labels):
            raise idx.IDXFormatError(
                f"{folder}: {len(images)} {split} images but {len(labels)} "
                "labels; the files do not belong together.")
        splits.append((images, labels))
    return tuple(splits)


def _download():
    import keras

    return keras.datasets.fashion_mnist.load_data()


def load_arrays(data_dir=None, download=True):
    """Fashion-MNIST's arrays from the first source that has them.

    Sources, in order: ``data_dir`` (a folder with the four IDX gz files),
    Debian's package folder (`DEBIAN_DIR`), Keras's cache
    (``~/.keras/datasets/fashion-mnist``), then
    ``keras.datasets.fashion_mnist`` (downloads, when online and
    ``download``).

    Args:
        data_dir: a folder with the four IDX files, or None.
        download: allow the download of the last source.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: uint8 ``(N, 28, 28)``
        images and uint8 labels.

    Raises:
        FileNotFoundError: no source has the files (within seconds offline).
        idx.IDXFormatError: a source's files are corrupt.
    """
    folder = local_folder(data_dir)
    if folder is not None:
        return read_folder(folder)
    tried = [f"`data_dir={data_dir}`"] if data_dir else []
    tried += [DEBIAN_DIR, keras_cache_dir()]
    if download and network.online():
        return _download()
    reason = ("downloads are disabled" if not download
              else "this machine cannot reach the download server")
    raise FileNotFoundError(
        "Fashion-MNIST not found. Looked for its four IDX files ("
        f"{', '.join(FILES.values())}) in: {'; '.join(tried)}, and "
        f"keras.datasets.fashion_mnist could not download them ({reason}). "
        "Install them with `apt-get install dataset-fashion-mnist` (Debian/"
        "Ubuntu) or copy them into a folder and pass it as `data_dir`.")


def pad(images):
    """Zero-pads ``(N, 28, 28)`` images to ``(N, 32, 32, 1)`` uint8."""
    return np.pad(images, ((0, 0), (PADDING, PADDING), (PADDING, PADDING)))[
        ..., None]


def open_fashion_mnist(data_dir=None, download=True):
    """Fashion-MNIST as a `Source` of padded 32x32x1 uint8 arrays."""
    (x_train, y_train), (x_test, y_test) = load_arrays(data_dir, download)
    x_train, x_test = pad(x_train), pad(x_test)
    info = DatasetInfo("fashion_mnist", 10, x_train.shape[1:],
                       *NORMALIZATION, len(x_train), len(x_test),
                       CLASS_NAMES)
    return from_arrays(x_train, y_train.astype("int64"), x_test,
                       y_test.astype("int64"), info)
