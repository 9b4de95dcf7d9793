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
"""

import collections
import io
import pickle
import zipfile

import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_RESAVE_HINT = ("Load it in PyTorch and re-save the state dict with "
                "torch.save({'model': model.state_dict()}, path).")


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint names a global that a state dict never needs."""


class CheckpointFormatError(ValueError):
    """A file is not a readable PyTorch checkpoint (other file, truncated)."""


class _Frozen:
    """Base of the unpickling stand-ins: immutable to the pickle."""

    __slots__ = ()

    def __init__(self, **values):
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def __setattr__(self, key, value):
        raise UnsafeCheckpointError(
            f"The checkpoint tries to set attribute {key!r} on "
            f"{type(self).__name__}; this is not a state dict.")


class _StorageType(_Frozen):
    """Stand-in for ``torch.FloatStorage`` and friends: a numpy dtype."""

    __slots__ = ("name", "dtype")


class _Storage(_Frozen):
    """A storage named by a persistent id: key, type, length, view offset."""

    __slots__ = ("key", "type", "numel", "base")


class _TensorRef(_Frozen):
    """A tensor to rebuild from a storage: offset, size, stride (elements)."""

    __slots__ = ("storage", "offset", "size", "stride")


class _Rebuild(_Frozen):
    """Stand-in for an allow-listed ``torch._utils`` rebuild function."""

    __slots__ = ("name", "fn")

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def _int_tuple(value, what):
    if not isinstance(value, tuple) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for v in value):
        raise CheckpointFormatError(
            f"Corrupt checkpoint: tensor {what} {value!r} is not a tuple of "
            "non-negative integers.")
    return value


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    if not isinstance(storage, _Storage) or not isinstance(storage_offset, int):
        raise CheckpointFormatError(
            "Corrupt checkpoint: a tensor is rebuilt from something that is "
            "not a storage.")
    size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    if len(size) != len(stride):
        raise CheckpointFormatError(
            f"Corrupt checkpoint: tensor size {size} and stride {stride} "
            "have different lengths.")
    return _TensorRef(storage=storage, offset=storage_offset, size=size,
                      stride=stride)


def _rebuild_parameter(data, *unused):
    return data


_DTYPES = {
    "DoubleStorage": "f8", "FloatStorage": "f4", "HalfStorage": "f2",
    "BFloat16Storage": "bf16", "LongStorage": "i8", "IntStorage": "i4",
    "ShortStorage": "i2", "CharStorage": "i1", "ByteStorage": "u1",
    "BoolStorage": "?",
}
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    **{("torch._utils", name): _Rebuild(name=name, fn=fn) for name, fn in (
        ("_rebuild_tensor", _rebuild_tensor),
        ("_rebuild_tensor_v2", _rebuild_tensor),
        ("_rebuild_parameter", _rebuild_parameter))},
    **{("torch", name): _StorageType(name=name, dtype=code)
       for name, code in _DTYPES.items()},
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals of a state dict.

    Allowed: ``collections.OrderedDict``, ``torch._utils._rebuild_tensor``,
    ``_rebuild_tensor_v2``, ``_rebuild_parameter`` and the typed storage
    classes (``torch.FloatStorage`` ...), each mapped to a local stand-in.
    Any other global raises `UnsafeCheckpointError` naming it, before it is
    imported or called.

    Args:
        file: a binary file object positioned at a pickle.
        legacy: whether persistent ids carry the legacy view metadata.
    """

    def __init__(self, file, legacy=False):
        super().__init__(file)
        self.legacy = legacy
        self.storages = {}

    def find_class(self, module, name):
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise UnsafeCheckpointError(
                f"Refusing to load global '{module}.{name}' from the "
                "checkpoint: a state dict only needs tensors, storages and "
                "OrderedDict, so the file holds other Python objects (a whole "
                "pickled model, a TorchScript archive, or code planted to run "
                f"on load). Nothing was executed. {_RESAVE_HINT}")
        return allowed

    def persistent_load(self, pid):
        length = 6 if self.legacy else 5
        if (not isinstance(pid, tuple) or len(pid) != length
                or pid[0] != "storage" or not isinstance(pid[1], _StorageType)
                or not isinstance(pid[4], int)):
            raise CheckpointFormatError(
                f"Corrupt checkpoint: unexpected persistent id {pid!r}.")
        key, numel = str(pid[2]), pid[4]
        base = 0
        if self.legacy and pid[5] is not None:
            _, base, _ = pid[5]  # (view key, offset, view size)
        storage = self.storages.setdefault(
            key, _Storage(key=key, type=pid[1], numel=numel, base=0))
        return _Storage(key=key, type=storage.type, numel=storage.numel,
                        base=int(base))


def _array_from_bytes(raw, storage_type, numel, byteorder):
    """Decodes ``numel`` elements of a storage type from raw bytes."""
    code = storage_type.dtype
    itemsize = 2 if code == "bf16" else np.dtype(code).itemsize
    if len(raw) != numel * itemsize:
        raise CheckpointFormatError(
            f"Corrupt checkpoint: a {storage_type.name} of {numel} elements "
            f"has {len(raw)} bytes instead of {numel * itemsize}.")
    if code == "bf16":
        bits = np.frombuffer(raw, dtype=byteorder + "u2").astype(np.uint32)
        return (bits << 16).view(np.float32)
    return np.frombuffer(raw, dtype=byteorder + code).astype(code)


def _materialize(ref, arrays):
    """Rebuilds a `_TensorRef` as a new numpy array (offset, size, stride)."""
    flat = arrays[ref.storage.key]
    offset = ref.storage.base + ref.offset
    if 0 in ref.size:
        return np.zeros(ref.size, dtype=flat.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride))
    if offset < 0 or last >= flat.size:
        raise CheckpointFormatError(
            f"Corrupt checkpoint: a tensor of size {ref.size}, stride "
            f"{ref.stride} and offset {offset} overruns its storage of "
            f"{flat.size} elements.")
    view = np.lib.stride_tricks.as_strided(
        flat[offset:], shape=ref.size,
        strides=[s * flat.itemsize for s in ref.stride], writeable=False)
    return np.array(view)


def _resolve(obj, arrays):
    """Replaces every `_TensorRef` in dicts, lists and tuples by an array."""
    if isinstance(obj, _TensorRef):
        return _materialize(obj, arrays)
    if isinstance(obj, dict):
        resolved = type(obj)() if type(obj) is collections.OrderedDict else {}
        for key, value in obj.items():
            resolved[key] = _resolve(value, arrays)
        return resolved
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(value, arrays) for value in obj)
    return obj


def _read_zip(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("data.pkl")
                   and n.count("/") == 1]
        if len(pickles) != 1:
            hint = (" It looks like a TorchScript archive (torch.jit.save)."
                    if any("/code/" in n for n in names) else "")
            raise CheckpointFormatError(
                "Not a PyTorch checkpoint: the zip archive has no single "
                f"'<root>/data.pkl'.{hint} {_RESAVE_HINT}")
        root = pickles[0][:-len("data.pkl")]
        order = (archive.read(root + "byteorder").decode().strip()
                 if root + "byteorder" in names else "little")
        unpickler = RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])))
        obj = unpickler.load()
        arrays = {}
        for key, storage in unpickler.storages.items():
            entry = f"{root}data/{key}"
            if entry not in names:
                raise CheckpointFormatError(
                    f"Corrupt checkpoint: storage {entry!r} is missing.")
            arrays[key] = _array_from_bytes(
                archive.read(entry), storage.type, storage.numel,
                "<" if order == "little" else ">")
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
    order = "<" if sys_info.get("little_endian", True) else ">"
    unpickler = RestrictedUnpickler(stream, legacy=True)
    obj = unpickler.load()
    keys = RestrictedUnpickler(stream).load()
    arrays = {}
    for key in keys:
        storage = unpickler.storages.get(str(key))
        if storage is None:
            raise CheckpointFormatError(
                f"Corrupt checkpoint: unknown storage key {key!r}.")
        numel = int(np.frombuffer(stream.read(8), dtype=order + "i8")[0])
        code = storage.type.dtype
        itemsize = 2 if code == "bf16" else np.dtype(code).itemsize
        arrays[str(key)] = _array_from_bytes(
            stream.read(numel * itemsize), storage.type, numel, order)
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
            "tar checkpoints are not supported: " + _RESAVE_HINT)
    try:
        return reader(data)
    except (UnsafeCheckpointError, CheckpointFormatError):
        raise
    except Exception as e:  # Truncated or corrupt: zip, pickle or EOF errors.
        raise CheckpointFormatError(
            f"Cannot read checkpoint {str(path)!r}: the file is truncated or "
            f"corrupt ({type(e).__name__}: {e}). Re-download or re-save it."
        ) from e
