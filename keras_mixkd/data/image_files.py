"""Image files: their channel count from the header, and their decoding.

`header_channels` reads only a file's first bytes (for a JPEG, the segment
headers up to its frame header), so a whole folder is checked in about the
time it takes to list it; `decode_files` then decodes every file once, with
TensorFlow's decoder, at one channel count whatever each file holds.
"""

import struct

import numpy as np
import tensorflow as tf

from keras_mixkd.data.errors import DatasetError

#: The channels TensorFlow decodes a PNG of each colour type to.
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}
#: JPEG start-of-frame markers (not DHT C4, JPG C8, DAC CC).
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: Markers without a length field.
_JPEG_STANDALONE = frozenset([0x01, *range(0xD0, 0xD8)])
#: The formats `header_channels` recognises, as messages list them.
FORMATS = "PNG, JPEG, GIF or BMP"
#: ITU-R 601 luma weights of R, G, B (they sum to 1: a gray image made RGB
#: and back is unchanged; `tf.image.rgb_to_grayscale` rounds them to 0.9999).
LUMA = (0.299, 0.587, 0.114)


def _png(head):
    if len(head) < 26 or head[12:16] != b"IHDR":
        raise ValueError("a PNG without its IHDR header (truncated?)")
    if head[25] not in _PNG_CHANNELS:
        raise ValueError(f"a PNG of unknown colour type {head[25]}")
    return _PNG_CHANNELS[head[25]]


def _bmp(head):
    if len(head) < 30:
        raise ValueError("a BMP without its header (truncated?)")
    bits = struct.unpack("<H", head[28:30])[0]
    if bits not in (8, 24, 32):
        raise ValueError(f"a BMP of {bits} bits per pixel (TensorFlow "
                         "decodes 8, 24 and 32)")
    return bits // 8


def _jpeg(file):
    """Walks the JPEG segments to the frame header: its component count."""
    file.seek(2)
    while True:
        byte = file.read(1)
        if not byte:
            raise ValueError("a JPEG that ends before its frame header "
                             "(truncated?)")
        if byte != b"\xff":
            continue  # stray bytes between segments (libjpeg skips them)
        marker = file.read(1)
        while marker == b"\xff":
            marker = file.read(1)
        if not marker or marker[0] in (0xD9, 0xDA):
            raise ValueError("a JPEG without a frame header before its "
                             "image data")
        if marker[0] in _JPEG_STANDALONE or marker[0] == 0xD8:
            continue
        length = file.read(2)
        if len(length) < 2:
            raise ValueError("a truncated JPEG")
        if marker[0] in _JPEG_FRAMES:
            frame = file.read(6)
            if len(frame) < 6:
                raise ValueError("a truncated JPEG frame header")
            return 1 if frame[5] == 1 else 3  # CMYK decodes to RGB
        file.seek(struct.unpack(">H", length)[0] - 2, 1)


def header_channels(path):
    """The channels TensorFlow decodes an image file to, from its header.

    Args:
        path: a PNG, JPEG, GIF or BMP file (recognised by its first bytes,
            whatever its suffix).

    Returns:
        1 (grayscale), 2 (grayscale and alpha), 3 (colour) or 4 (colour and
        alpha).

    Raises:
        ValueError: saying what the file is instead (empty, another format,
            a truncated header), or why it cannot be read.

    Example:

    >>> header_channels("flowers/rose/1.png")
    3
    """
    try:
        with open(path, "rb") as file:
            head = file.read(32)
            if not head:
                raise ValueError("an empty file")
            if head.startswith(b"\x89PNG\r\n\x1a\n"):
                return _png(head)
            if head.startswith(b"\xff\xd8"):
                return _jpeg(file)
            if head[:6] in (b"GIF87a", b"GIF89a"):
                return 3
            if head.startswith(b"BM"):
                return _bmp(head)
    except OSError as e:
        raise ValueError(f"cannot be read ({e.strerror or e})") from e
    raise ValueError(f"not a {FORMATS} file (it starts with {head[:8]!r})")


def _decode(path, channels, size):
    """One file as float32 ``(H, W, channels)`` pixels in [0, 255]."""
    image = tf.io.decode_image(tf.io.read_file(path), expand_animations=False)
    count = tf.shape(image)[-1]
    # Drop alpha (2 -> 1, 4 -> 3), as the decoder does when asked for fewer.
    image = tf.cast(image[..., :count - 1 + count % 2], tf.float32)
    if channels == 1:
        image = tf.cond(
            tf.shape(image)[-1] == 3,
            lambda: tf.tensordot(image, tf.constant(LUMA), 1)[..., None],
            lambda: image)
    else:
        image = tf.cond(tf.shape(image)[-1] == 1,
                        lambda: tf.tile(image, [1, 1, 3]), lambda: image)
    image = tf.image.resize(image, size)  # bilinear, as Keras reads folders
    return tf.ensure_shape(image, (*size, channels))


def _short(error):
    """A TensorFlow error's message without its op and function names."""
    message = error.message.split("}}")[-1].split("[Op:")[0]
    return " ".join(message.split()).strip(" .")


def _first_undecodable(paths, channels, size):
    for path in paths:
        try:
            _decode(tf.constant(path), channels, size)
        except tf.errors.OpError as e:
            return path, _short(e)
    return None, None


def decode_files(paths, channels, size, batch=256):
    """Decodes image files at one channel count and size, as uint8 arrays.

    Grayscale files become RGB by repeating the gray (``channels=3``);
    colour files become gray by the ITU-R 601 luma weights
    (``channels=1``); alpha is dropped. Each image is resized to ``size``
    (bilinear) and rounded. Files that need no conversion come out exactly
    as `keras.utils.image_dataset_from_directory` reads them.

    Args:
        paths: the image files, in order.
        channels: 1 or 3.
        size: ``(H, W)``.
        batch: images decoded per step.

    Returns:
        A uint8 array ``(len(paths), H, W, channels)``.

    Raises:
        DatasetError: naming the first file TensorFlow cannot decode.
    """
    size = tuple(int(s) for s in size)
    dataset = tf.data.Dataset.from_tensor_slices(list(map(str, paths))).map(
        lambda path: _decode(path, channels, size),
        num_parallel_calls=tf.data.AUTOTUNE).batch(batch)
    chunks = []
    try:
        for images in dataset.as_numpy_iterator():
            chunks.append(np.clip(np.round(images), 0, 255).astype(np.uint8))
    except tf.errors.OpError as e:
        # Batches come in order: the culprit is in the failed batch or after.
        path, reason = _first_undecodable(
            list(map(str, paths))[len(chunks) * batch:], channels, size)
        raise DatasetError(
            f"{path or 'an image'} cannot be decoded "
            f"({reason or _short(e)}): remove or replace the file.") from e
    if not chunks:
        return np.zeros((0, *size, channels), np.uint8)
    return np.concatenate(chunks)
