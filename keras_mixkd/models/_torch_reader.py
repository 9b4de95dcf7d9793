"""Reads PyTorch checkpoints as numpy arrays, without torch or running code.

A PyTorch checkpoint is a pickle. Plain `pickle.load` would import and call
any global the file names, so this reader unpickles with an allow-list
(`RestrictedUnpickler`): only the globals a state dict needs are resolved,
each to a local stand-in that records what to build; every other global is
refused before anything runs. Storages are then read as raw bytes and
tensors rebuilt with numpy from their offset, size and stride.

Two formats are read:

- the zip format of ``torch.save`` (PyTorch >= 1.6): ``<root>/data.pkl``
  whose persistent ids ``('storage', type, key, location, numel)`` name the
  raw storages ``<root>/data/<key>``;
- the legacy format (PyTorch < 1.6): consecutive pickles (magic number,
  protocol version, system info, the object, the storage keys), then each
  storage as an int64 element count followed by its bytes.

A hostile or corrupt file cannot make the reader allocate more than a small
multiple of its own size: the unpickler checks every tensor view against its
storage (`keras_mixkd.models._torch_pickle`); every size and count is checked
against the bytes actually there, and the totals against ``_MAX_EXPANSION``
times the file size, before anything is allocated.
"""

import collections
import io
import reprlib
import zipfile

import numpy as np

from keras_mixkd.models._torch_pickle import RESAVE_HINT
from keras_mixkd.models._torch_pickle import CheckpointFormatError
from keras_mixkd.models._torch_pickle import RestrictedUnpickler
from keras_mixkd.models._torch_pickle import TensorRef
from keras_mixkd.models._torch_pickle import UnsafeCheckpointError
from keras_mixkd.models._torch_pickle import corrupt
from keras_mixkd.models._torch_pickle import itemsize

__all__ = ["CheckpointFormatError", "RestrictedUnpickler",
           "UnsafeCheckpointError", "read_checkpoint"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
#: No file makes the reader decompress, or rebuild as tensors, more than this
#: many times its own size (an honest checkpoint needs at most 2: bfloat16
#: storages widen to float32).
_MAX_EXPANSION = 4


def _array_from_bytes(raw, storage_type, numel, byteorder):
    """Decodes ``numel`` elements of a storage type from raw bytes."""
    code = storage_type.dtype
    if len(raw) != numel * itemsize(storage_type):
        raise corrupt(
            f"a {storage_type.name} of {numel} elements has {len(raw)} bytes "
            f"instead of {numel * itemsize(storage_type)}.")
    if code == "bf16":
        bits = np.frombuffer(raw, dtype=byteorder + "u2").astype(np.uint32)
        return (bits << 16).view(np.float32)
    return np.frombuffer(raw, dtype=byteorder + code).astype(code)


def _materialize(ref, arrays):
    """Rebuilds a checked `TensorRef` as a new numpy array."""
    flat = arrays[ref.storage.key]
    if 0 in ref.size:
        return np.zeros(ref.size, dtype=flat.dtype)
    view = np.lib.stride_tricks.as_strided(
        flat[ref.storage.base + ref.offset:], shape=ref.size,
        strides=[s * flat.itemsize for s in ref.stride], writeable=False)
    return np.array(view)


def _resolve(obj, arrays, done=None, busy=None):
    """Replaces every `TensorRef` in dicts, lists and tuples by an array.

    Each object is resolved once (shared references stay shared, so a pickle
    cannot multiply the work by referencing one container many times), and a
    container that contains itself is refused.
    """
    done = {} if done is None else done
    busy = set() if busy is None else busy
    key = id(obj)
    if key in done:
        return done[key]
    if isinstance(obj, TensorRef):
        result = _materialize(obj, arrays)
    elif isinstance(obj, (dict, list, tuple)):
        if key in busy:
            raise corrupt("a container contains itself.")
        busy.add(key)
        if isinstance(obj, dict):
            result = (collections.OrderedDict()
                      if type(obj) is collections.OrderedDict else {})
            for name, value in obj.items():
                result[name] = _resolve(value, arrays, done, busy)
        else:
            result = type(obj)(_resolve(value, arrays, done, busy)
                               for value in obj)
        busy.discard(key)
    else:
        return obj
    done[key] = result
    return result


def _check_budget(unpickler, limit):
    """Refuses a pickle whose tensors would take more than ``limit`` bytes."""
    needed = unpickler.tensor_bytes()
    if needed > limit:
        raise corrupt(
            f"its tensors would take {needed} bytes, more than "
            f"{_MAX_EXPANSION} times the file's size; they overlap each other "
            "or the file is corrupt.")


def _read_entry(archive, info, limit):
    if info.file_size > limit:
        raise corrupt(f"the zip entry {info.filename!r} would expand to "
                      f"{info.file_size} bytes, more than the file allows.")
    return archive.read(info)


def _read_zip(data):
    limit = _MAX_EXPANSION * len(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = {info.filename: info for info in archive.infolist()}
        pickles = [n for n in entries if n.endswith("data.pkl")
                   and n.count("/") == 1]
        if len(pickles) != 1:
            hint = (" It looks like a TorchScript archive (torch.jit.save)."
                    if any("/code/" in n for n in entries) else "")
            raise CheckpointFormatError(
                "Not a PyTorch checkpoint: the zip archive has no single "
                f"'<root>/data.pkl'.{hint} {RESAVE_HINT}")
        root = pickles[0][:-len("data.pkl")]
        order = "little"
        if root + "byteorder" in entries:
            order = _read_entry(archive, entries[root + "byteorder"],
                                16).decode("ascii").strip()
        if order not in ("little", "big"):
            raise corrupt(f"unknown byte order {order!r}.")
        unpickler = RestrictedUnpickler(io.BytesIO(
            _read_entry(archive, entries[pickles[0]], limit)))
        obj = unpickler.load()
        _check_budget(unpickler, limit)
        storages = []
        for key, storage in unpickler.storages.items():
            info = entries.get(f"{root}data/{key}")
            if info is None:
                raise corrupt(f"storage {root}data/{key!r} is missing.")
            if info.file_size != storage.numel * itemsize(storage.type):
                raise corrupt(
                    f"storage {info.filename!r} holds {info.file_size} bytes "
                    f"but is declared as {storage.numel} elements of "
                    f"{storage.type.name}.")
            storages.append((key, storage, info))
        if sum(info.file_size for _, _, info in storages) > limit:
            raise corrupt("its storages would expand to more than "
                          f"{_MAX_EXPANSION} times the file's size.")
        arrays = {key: _array_from_bytes(
            archive.read(info), storage.type, storage.numel,
            "<" if order == "little" else ">")
            for key, storage, info in storages}
    return _resolve(obj, arrays)


def _read_legacy(data):
    stream = io.BytesIO(data)
    if RestrictedUnpickler(stream).load() != _LEGACY_MAGIC:
        raise CheckpointFormatError(
            "Not a PyTorch checkpoint: a pickle without torch.save's magic "
            "number.")
    protocol = RestrictedUnpickler(stream).load()
    if protocol != _LEGACY_PROTOCOL:
        raise CheckpointFormatError(
            f"Unsupported legacy checkpoint protocol {protocol!r}.")
    sys_info = RestrictedUnpickler(stream).load()
    if not isinstance(sys_info, dict):
        raise corrupt(
            f"system information {reprlib.repr(sys_info)} is not a dict.")
    order = "<" if sys_info.get("little_endian", True) else ">"
    unpickler = RestrictedUnpickler(stream, legacy=True)
    obj = unpickler.load()
    _check_budget(unpickler, _MAX_EXPANSION * len(data))
    keys = RestrictedUnpickler(stream).load()
    if not isinstance(keys, list):
        raise corrupt(f"the storage keys {reprlib.repr(keys)} are not a list.")
    arrays = {}
    for key in keys:
        storage = unpickler.storages.get(str(key))
        if storage is None or str(key) in arrays:
            raise corrupt(f"unknown or repeated storage key {key!r}.")
        numel = int(np.frombuffer(stream.read(8), dtype=order + "i8")[0])
        nbytes = numel * itemsize(storage.type)
        if numel != storage.numel or nbytes > len(data) - stream.tell():
            raise corrupt(
                f"storage {key!r} claims {numel} elements; it was declared "
                f"with {storage.numel} and {len(data) - stream.tell()} bytes "
                "remain in the file.")
        arrays[str(key)] = _array_from_bytes(
            stream.read(nbytes), storage.type, numel, order)
    missing = set(unpickler.storages) - set(arrays)
    if missing:
        raise corrupt(f"storages {sorted(missing)} are missing.")
    return _resolve(obj, arrays)


def read_checkpoint(path):
    """Reads a ``torch.save`` file into dicts, lists and numpy arrays.

    Args:
        path: path of a ``.pth`` / ``.pt`` file, zip or legacy format.

    Returns:
        The saved object with every tensor replaced by a numpy array.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafeCheckpointError: the pickle names a global outside the
            allow-list (nothing is executed).
        CheckpointFormatError: the file is not a checkpoint, or is
            truncated or corrupt.

    Example:

    >>> ckpt = read_checkpoint("resnet8x4.pth")
    >>> ckpt["model"]["conv1.weight"].shape
    (32, 3, 3, 3)
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"No checkpoint file at {str(path)!r}: check the path.") from None
    except IsADirectoryError:
        raise CheckpointFormatError(
            f"{str(path)!r} is a directory, not a checkpoint file.") from None
    if data[:2] == b"PK":
        reader = _read_zip
    elif data[:1] == b"\x80":
        reader = _read_legacy
    else:
        raise CheckpointFormatError(
            f"{str(path)!r} is not a PyTorch checkpoint (neither the zip "
            "format of torch.save nor the legacy pickle format). Pre-0.4 "
            "tar checkpoints are not supported: " + RESAVE_HINT)
    try:
        return reader(data)
    except (UnsafeCheckpointError, CheckpointFormatError, MemoryError):
        raise  # a MemoryError would be a bug in the checks above: not hidden
    except Exception as e:  # Truncated or corrupt: zip, pickle or EOF errors.
        raise CheckpointFormatError(
            f"Cannot read checkpoint {str(path)!r}: the file is truncated or "
            f"corrupt ({type(e).__name__}: {e}). Re-download or re-save it."
        ) from e
