"""A reader of IDX files, the format of (Fashion-)MNIST.

An IDX file is a big-endian header, ``0x00 0x00 <type> <ndim>`` followed by
``ndim`` uint32 dimension sizes, then the values in C order. The images of
(Fashion-)MNIST have magic number 2051 (unsigned bytes, 3 dimensions), the
labels 2049 (unsigned bytes, 1 dimension). Files may be gzipped.
"""

import gzip
import pathlib
import struct
import zlib

import numpy as np

#: IDX type codes and the big-endian numpy dtypes they denote.
_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
          0x0E: ">f8"}

#: Magic numbers of the (Fashion-)MNIST files.
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


class IDXFormatError(ValueError):
    """An IDX file that cannot be read: bad magic number, truncated, ..."""


def _read_bytes(path):
    path = pathlib.Path(path)
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        raise IDXFormatError(
            f"{path}: the gzip stream is truncated or corrupt ({e}); download"
            " the file again.") from e


def read_idx(path, magic=None):
    """Reads an IDX file (gzipped or not) into a numpy array.

    Args:
        path: the file.
        magic: the expected magic number (e.g. `IMAGES_MAGIC`), or None to
            accept any valid header.

    Returns:
        A numpy array of the file's shape and type (native byte order).

    Raises:
        IDXFormatError: naming the file and what is wrong with it.

    Example:

    >>> labels = read_idx("train-labels-idx1-ubyte.gz", LABELS_MAGIC)
    """
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise IDXFormatError(f"{path}: {len(raw)} bytes, too short for an "
                             "IDX header (the file is truncated).")
    found = struct.unpack(">I", raw[:4])[0]
    if magic is not None and found != magic:
        raise IDXFormatError(
            f"{path}: magic number {found}, expected {magic} (not an IDX "
            f"{'image' if magic == IMAGES_MAGIC else 'label'} file, or "
            "corrupt).")
    type_code, ndim = raw[2], raw[3]
    if raw[:2] != b"\0\0" or type_code not in _TYPES or ndim == 0:
        raise IDXFormatError(f"{path}: magic number {found} is not an IDX "
                             "header (0x0000, a type code, a dimension "
                             "count).")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXFormatError(f"{path}: the header is truncated ({len(raw)} "
                             f"bytes, {header} needed).")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_TYPES[type_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        state = "truncated" if len(raw) - header < expected else "too long"
        raise IDXFormatError(
            f"{path}: the header announces shape {shape} ({expected} bytes) "
            f"but {len(raw) - header} bytes follow: the file is {state}.")
    array = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))
