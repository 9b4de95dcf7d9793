"""Image folders (``folder:PATH``), indexed like Keras's image-directory
utility and checked before they are read.

Two layouts: ``PATH/train/<class>/*`` and ``PATH/test/<class>/*``, or
``PATH/<class>/*`` split 80/20 at random with a fixed seed (the files,
classes and split of `keras.utils.image_dataset_from_directory`: bmp, gif,
jpeg, png). Images are read at one size (``image_size``, default: the size
of the first training image) and one channel count (``channels``: 1
grayscale, 3 RGB; default: as the files are, which must then be all
grayscale or all colour), and held in memory as uint8 arrays; mean and std
come from the training images.

Before anything is decoded, the folder is checked: at least two class
folders, none empty, and the header of every file (its first bytes only:
format and channel count), so a folder of any size is checked in about the
time it takes to list it. A file whose header is fine but whose data is
not is named when the decoder reaches it. Every problem raises
`DatasetError` naming the file or folder and the fix.
"""

import contextlib
import io
import os
import pathlib

import numpy as np

from keras_mixkd.data import image_files
from keras_mixkd.data.errors import DatasetError
from keras_mixkd.data.info import DatasetInfo
from keras_mixkd.data.pipeline import channel_stats
from keras_mixkd.data.source import from_arrays

#: The share of the images held out for testing in the one-folder layout.
TEST_FRACTION = 0.2
#: The seed of that split.
SPLIT_SEED = 1337
#: The channel counts ``channels`` may ask for.
CHANNELS = (1, 3)

_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
#: Files named in a message, at most.
_SHOWN = 3
_FIX_CHANNELS = ("Give `channels=1` to read them all as grayscale, or "
                 "`channels=3` to read them all as RGB.")


def _layout(root):
    """``(train_dir, test_dir or None)`` after checking the folder."""
    root = pathlib.Path(root)
    if not root.is_dir():
        raise DatasetError(f"folder:{root}: no such folder.")
    train, test = root / "train", root / "test"
    if train.is_dir() and test.is_dir():
        return train, test
    if train.is_dir() != test.is_dir():
        has, lacks = ("train", "test") if train.is_dir() else ("test",
                                                                "train")
        raise DatasetError(f"folder:{root} has a {has}/ subfolder but no "
                           f"{lacks}/: give both, or class subfolders only.")
    return root, None


def _class_images(folder):
    """``{class: image count}`` of a folder, as Keras indexes it."""
    classes = sorted(d.name for d in folder.iterdir()
                     if d.is_dir() and not d.name.startswith("."))
    return {name: sum(f.lower().endswith(_SUFFIXES)
                      for _, _, files in os.walk(folder / name)
                      for f in files) for name in classes}


def _listed(items):
    items = list(items)
    shown = ", ".join(str(i) for i in items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more"
                    if len(items) > _SHOWN else "")


def check_classes(root, train_dir, test_dir):
    """Checks that a folder has two or more classes, each with images.

    Args:
        root: the dataset folder (for the messages).
        train_dir: its training class folders (``root`` itself without a
            ``train/`` subfolder).
        test_dir: its ``test/`` folder, or None (the 80/20 split).

    Raises:
        DatasetError: no images, an empty class folder, one class, too few
            images to split, or a class of ``train/`` missing from ``test/``.
    """
    counts = _class_images(train_dir)
    layout = (f"Put each class's images in its own subfolder: "
              f"{root}/<class>/*.png, or {root}/train/<class>/ and "
              f"{root}/test/<class>/.")
    if not any(counts.values()):
        raise DatasetError(
            f"folder:{root} holds no images ({', '.join(_SUFFIXES)}) in "
            f"class subfolders{'' if counts else ' (it has none)'}. "
            f"{layout}")
    empty = [name for name, count in counts.items() if not count]
    if empty:
        raise DatasetError(
            f"folder:{root}: class folder(s) {_listed(empty)} of "
            f"{train_dir} hold no images: add images or remove them.")
    if len(counts) < 2:
        raise DatasetError(
            f"folder:{root} has one class ({next(iter(counts))}): a "
            f"classifier needs at least two class subfolders. {layout}")
    if test_dir is None and int(TEST_FRACTION * sum(counts.values())) < 1:
        raise DatasetError(
            f"folder:{root} holds {sum(counts.values())} images: its "
            f"{TEST_FRACTION:.0%} test split needs at least "
            f"{int(np.ceil(1 / TEST_FRACTION))}. Add images, or give "
            f"{root}/train/ and {root}/test/ class folders.")
    if test_dir is not None:
        missing = sorted(set(counts) - set(_class_images(test_dir)))
        if missing:
            raise DatasetError(
                f"folder:{root}: test/ lacks the class folder(s) "
                f"{_listed(missing)} that train/ has: give test/ the same "
                "class folders.")


def file_channels(root, paths, channels=None):
    """The channel count to read the files at, after checking each header.

    Args:
        root: the dataset folder (for the messages).
        paths: the image files.
        channels: 1 or 3 to convert every file, or None: 1 if all files are
            grayscale, 3 if all are colour.

    Returns:
        1 or 3.

    Raises:
        DatasetError: listing the files that are not readable images, or,
            without ``channels``, the grayscale and colour files mixed.
    """
    found, bad = {}, []
    for path in paths:
        try:
            count = image_files.header_channels(path)
        except ValueError as e:
            bad.append(f"{path}: {e}")
            continue
        found.setdefault("grayscale" if count <= 2 else "colour",
                         []).append(path)
    if bad:
        raise DatasetError(
            f"folder:{root}: {len(bad)} file(s) are not readable "
            f"{image_files.FORMATS} images: {'; '.join(bad[:_SHOWN])}"
            f"{'; ...' if len(bad) > _SHOWN else ''}. Remove or replace "
            "them.")
    if channels is not None:
        return int(channels)
    if len(found) == 2:
        raise DatasetError(
            f"folder:{root} mixes {len(found['grayscale'])} grayscale "
            f"images (e.g. {_listed(found['grayscale'])}) and "
            f"{len(found['colour'])} colour images (e.g. "
            f"{_listed(found['colour'])}). {_FIX_CHANNELS}")
    return 1 if "grayscale" in found else 3


def check_channels(channels):
    """Raises `ValueError` unless ``channels`` is None, 1 or 3."""
    if channels is not None and channels not in CHANNELS:
        raise ValueError(f"`channels` must be 1 (grayscale), 3 (RGB) or "
                         f"None (as the data is), got {channels!r}.")


def _indexed(train_dir, test_dir):
    """Keras's ``(train, test)`` split as ``(paths, labels)`` pairs, and
    the class names (nothing is decoded)."""
    import keras
    import tensorflow as tf

    options = dict(labels="inferred", label_mode="int", batch_size=None,
                   verbose=False)
    # Keras prints the split's counts whatever its verbose says.
    with contextlib.redirect_stdout(io.StringIO()):
        if test_dir is None:
            train, test = keras.utils.image_dataset_from_directory(
                train_dir, validation_split=TEST_FRACTION, subset="both",
                seed=SPLIT_SEED, shuffle=True, **options)
            dirs = (train_dir, train_dir)
        else:
            train = keras.utils.image_dataset_from_directory(
                train_dir, shuffle=False, **options)
            test = keras.utils.image_dataset_from_directory(
                test_dir, shuffle=False, class_names=train.class_names,
                **options)
            dirs = (train_dir, test_dir)
    index = {name: i for i, name in enumerate(train.class_names)}
    splits = []
    for dataset, folder in zip((train, test), dirs):
        paths = list(dataset.file_paths)
        if dataset is train and test_dir is None:
            # Keras's training subset is shuffled once more as it is read.
            paths = [paths[i] for i in tf.data.Dataset.range(len(paths)).
                     shuffle(1024, seed=SPLIT_SEED).as_numpy_iterator()]
        labels = [index[pathlib.Path(os.path.relpath(p, folder)).parts[0]]
                  for p in paths]
        splits.append((paths, np.asarray(labels, np.int64)))
    return splits, tuple(train.class_names)


def _first_size(folder):
    """The ``(H, W)`` of the first image under ``folder`` (sorted paths)."""
    import tensorflow as tf

    first = next(p for p in sorted(pathlib.Path(folder).rglob("*"))
                 if p.suffix.lower() in _SUFFIXES and p.is_file())
    try:
        shape = tf.io.decode_image(tf.io.read_file(str(first)),
                                   expand_animations=False).shape
    except tf.errors.OpError:
        image_files.decode_files([str(first)], 1, (1, 1))  # names it
        raise
    return tuple(shape[:2])


def open_folder(path, image_size=None, dataset_name=None, channels=None):
    """An image folder as a `Source` of uint8 arrays, after checking it.

    Args:
        path: the folder (see the module's docstring for its layouts).
        image_size: ``(H, W)`` to read the images at, or None for the size
            of the first training image.
        dataset_name: the name recorded in the `DatasetInfo`.
        channels: 1 (grayscale) or 3 (RGB) to convert every image, or None
            to read them as they are (all grayscale or all colour).

    Returns:
        A `Source`.

    Raises:
        DatasetError: naming the folder or file at fault and the fix: no
            images, fewer than two classes, an unreadable or corrupt
            image, grayscale and colour images mixed.
    """
    check_channels(channels)
    train_dir, test_dir = _layout(path)
    check_classes(path, train_dir, test_dir)
    ((train_paths, y_train), (test_paths, y_test)), class_names = _indexed(
        train_dir, test_dir)
    channels = file_channels(path, train_paths + test_paths, channels)
    try:
        size = (tuple(image_size) if image_size is not None
                else _first_size(train_dir))
        x_train = image_files.decode_files(train_paths, channels, size)
        x_test = image_files.decode_files(test_paths, channels, size)
    except DatasetError as e:
        raise DatasetError(f"folder:{path}: {e}") from e
    mean, std = channel_stats(x_train)
    info = DatasetInfo(dataset_name or f"folder:{path}", len(class_names),
                       x_train.shape[1:], mean, std, len(x_train),
                       len(x_test), class_names)
    return from_arrays(x_train, y_train, x_test, y_test, info)
