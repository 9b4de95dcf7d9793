"""Image folders: checked before they are read, and read at one channel
count (``channels``) whatever each file holds."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixkd import data
from keras_mixkd.data import folder
from keras_mixkd.data import image_files


def png(image):
    return tf.io.encode_png(image).numpy()


def write_folder(root, channels_per_class, size=(8, 8), seed=0):
    """``{class: [channels of each file]}`` as PNG files; returns the
    images by relative path."""
    rng = np.random.default_rng(seed)
    images = {}
    for name, channels in channels_per_class.items():
        (root / name).mkdir(parents=True)
        for i, count in enumerate(channels):
            image = rng.integers(0, 256, (*size, count), np.uint8)
            (root / name / f"{i}.png").write_bytes(png(image))
            images[f"{name}/{i}.png"] = image
    return images


def error_of(name, **kwargs):
    with pytest.raises(data.DatasetError) as caught:
        data.load(name, batch_size=4, **kwargs)
    return str(caught.value)


def test_uniform_folders_read_exactly_as_keras_reads_them(tmp_path):
    # An independent reference: Keras's own reader, same split and order.
    write_folder(tmp_path, {"cat": [3] * 8, "dog": [3] * 7},
                 size=(12, 10))
    reference = keras.utils.image_dataset_from_directory(
        tmp_path, validation_split=folder.TEST_FRACTION, subset="both",
        seed=folder.SPLIT_SEED, shuffle=True, batch_size=None,
        image_size=(9, 7), verbose=False)
    source = folder.open_folder(tmp_path, image_size=(9, 7))
    for ours, theirs in zip((source.train, source.test), reference):
        ours = list(ours.as_numpy_iterator())
        theirs = list(theirs.as_numpy_iterator())  # one pass: reshuffles
        np.testing.assert_array_equal(
            np.stack([x for x, _ in ours]),
            np.stack([np.round(x).astype(np.uint8) for x, _ in theirs]))
        np.testing.assert_array_equal([y for _, y in ours],
                                      [y for _, y in theirs])


def test_channels_convert_every_file(tmp_path):
    images = write_folder(tmp_path, {"a": [1, 3, 4], "b": [2, 1, 3]})
    gray = folder.open_folder(tmp_path, channels=1)
    rgb = folder.open_folder(tmp_path, channels=3)
    assert gray.info.image_shape == (8, 8, 1)
    assert rgb.info.image_shape == (8, 8, 3)
    by_bytes = {}
    for path, image in images.items():
        if image.shape[-1] in (2, 4):
            image = image[..., :-1]  # alpha dropped
        if image.shape[-1] == 1:
            want_gray, want_rgb = image, np.repeat(image, 3, -1)
        else:
            luma = image @ np.array([0.299, 0.587, 0.114])
            want_gray = np.round(luma)[..., None].astype(np.uint8)
            want_rgb = image
        by_bytes[want_rgb.tobytes()] = want_gray
    got = {x.tobytes(): None for x, _ in rgb.train.concatenate(
        rgb.test).as_numpy_iterator()}
    assert set(got) == set(by_bytes)
    for (x_rgb, _), (x_gray, _) in zip(
            rgb.train.concatenate(rgb.test).as_numpy_iterator(),
            gray.train.concatenate(gray.test).as_numpy_iterator()):
        # float32 luma vs float64: at most one level apart.
        assert np.abs(x_gray.astype(int)
                      - by_bytes[x_rgb.tobytes()].astype(int)).max() <= 1


def test_the_channel_count_does_not_depend_on_file_order(tmp_path):
    # A grayscale file first, or a colour one: the same refusal, naming both.
    for first, order in (("a", {"a": [1, 1, 1], "b": [3, 3, 3]}),
                         ("b", {"a": [3, 3, 3], "b": [1, 1, 1]})):
        root = tmp_path / first
        write_folder(root, order)
        message = error_of(f"folder:{root}")
        assert "mixes 3 grayscale images" in message
        assert "3 colour images" in message
        assert "`channels=1`" in message and "`channels=3`" in message
        gray_class = "a" if order["a"][0] == 1 else "b"
        assert f"{root / gray_class / '0.png'}" in message
    # All grayscale or all colour needs no flag.
    write_folder(tmp_path / "gray", {"a": [1, 2, 1], "b": [1, 1, 2]})
    assert data.dataset_info(
        f"folder:{tmp_path / 'gray'}").image_shape == (8, 8, 1)
    write_folder(tmp_path / "rgb", {"a": [3, 4, 3], "b": [3, 3, 4]})
    assert data.dataset_info(
        f"folder:{tmp_path / 'rgb'}").image_shape == (8, 8, 3)


@pytest.mark.parametrize("content, found", [
    (b"hello, not an image", "not a PNG, JPEG, GIF or BMP file"),
    (b"", "an empty file"),
    (b"\x89PNG\r\n\x1a\n\0\0", "a PNG without its IHDR header"),
    (b"\xff\xd8\xff\xe0\0\x10JFIF", "a JPEG that ends before its frame"),
])
def test_a_file_that_is_not_an_image_is_named(tmp_path, content, found):
    write_folder(tmp_path, {"a": [3, 3, 3], "b": [3, 3, 3]})
    (tmp_path / "b" / "bad.png").write_bytes(content)
    message = error_of(f"folder:{tmp_path}")
    assert f"{tmp_path / 'b' / 'bad.png'}: {found}" in message
    assert "Remove or replace" in message


def test_a_corrupt_image_body_is_named_when_decoded(tmp_path):
    write_folder(tmp_path, {"a": [3] * 5, "b": [3] * 5})
    bad = tmp_path / "a" / "3.png"
    content = bytearray(bad.read_bytes())
    content[41:] = b"\0" * (len(content) - 41)  # header intact, data not
    bad.write_bytes(bytes(content))
    assert image_files.header_channels(bad) == 3  # passes the cheap scan
    message = error_of(f"folder:{tmp_path}")
    assert f"{bad} cannot be decoded" in message
    assert "remove or replace the file" in message


def test_header_channels_of_each_format(tmp_path):
    from PIL import Image

    rgb = np.random.default_rng(1).integers(0, 256, (6, 5, 3), np.uint8)
    cases = {("PNG", "L"): 1, ("PNG", "LA"): 2, ("PNG", "RGB"): 3,
             ("PNG", "RGBA"): 4, ("PNG", "P"): 3, ("JPEG", "L"): 1,
             ("JPEG", "RGB"): 3, ("JPEG", "CMYK"): 3, ("GIF", "RGB"): 3,
             ("BMP", "L"): 1, ("BMP", "RGB"): 3}
    for (kind, mode), channels in cases.items():
        path = tmp_path / f"{mode}.{kind.lower()}"
        image = Image.fromarray(rgb).convert(mode)
        # A JPEG with a comment segment before its frame header.
        image.save(path, format=kind, **(
            {"comment": b"x" * 300} if kind == "JPEG" else {}))
        assert image_files.header_channels(path) == channels, (kind, mode)
        # What TensorFlow decodes the file to (alpha counts).
        decoded = tf.io.decode_image(path.read_bytes(),
                                     expand_animations=False)
        assert decoded.shape[-1] == channels, (kind, mode)


@pytest.mark.parametrize("layout, found", [
    ({}, "holds no images"),
    ({"a": [3] * 6}, "has one class (a)"),
    ({"a": [3, 3, 3], "b": [3, 3], "c": []}, "class folder(s) c of"),
    ({"a": [3, 3], "b": [3, 3]}, "holds 4 images: its 20% test split"),
])
def test_folders_without_two_classes_of_images(tmp_path, layout, found):
    write_folder(tmp_path, layout)
    message = error_of(f"folder:{tmp_path}")
    assert found in message and f"folder:{tmp_path}" in message
    assert "digits" not in message and "network" not in message


def test_test_folder_lacking_a_class(tmp_path):
    write_folder(tmp_path / "train", {"a": [3, 3], "b": [3, 3]})
    write_folder(tmp_path / "test", {"a": [3]})
    assert "test/ lacks the class folder(s) b" in error_of(
        f"folder:{tmp_path}")


def test_named_datasets_convert_too():
    gray = data.dataset_info("digits", channels=1)
    rgb = data.dataset_info("digits")
    assert gray.image_shape == (32, 32, 1) and rgb.image_shape[-1] == 3
    # Digits are gray in three equal channels: the luma is that gray.
    from keras_mixkd.data import digits

    x_train = digits.digits_arrays(0.2, 0)[0][..., 0].astype("float64")
    np.testing.assert_allclose(gray.mean, [x_train.mean()], rtol=1e-6)
    np.testing.assert_allclose(gray.std, [x_train.std()], rtol=1e-6)
    train, _, info = data.load("digits", batch_size=8, channels=1)
    assert next(iter(train))[0].shape == (8, 32, 32, 1)
    with pytest.raises(ValueError, match="`channels` must be 1"):
        data.load("digits", channels=2)


def test_grayscale_made_rgb_keeps_its_statistics(tmp_path):
    write_folder(tmp_path, {"a": [1] * 4, "b": [1] * 4})
    gray = data.dataset_info(f"folder:{tmp_path}")
    rgb = data.dataset_info(f"folder:{tmp_path}", channels=3)
    assert rgb.image_shape == (8, 8, 3)
    np.testing.assert_allclose(rgb.mean, gray.mean * 3, rtol=1e-12)
    np.testing.assert_allclose(rgb.std, gray.std * 3, rtol=1e-12)
