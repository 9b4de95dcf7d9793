"""The allow-list unpickler of PyTorch checkpoints and its stand-ins.

`RestrictedUnpickler` resolves only the globals a state dict needs, each to
a local stand-in that records what to build, and checks every tensor view
against its storage as the pickle is read: a tensor may not describe more
elements than its storage holds, nor overlap itself. Python's pure
unpickler is used (its memo is a dict, so no index read from the file sizes
an allocation), without the opcodes that preallocate buffers.
"""

import collections
import math
import pickle
import reprlib

import numpy as np

#: Opcodes that allocate a buffer of a size read from the file before reading
#: it (protocol 5 out-of-band buffers): a state dict never uses them.
_REFUSED_OPCODES = (pickle.BYTEARRAY8, pickle.NEXT_BUFFER,
                    pickle.READONLY_BUFFER)

#: How to turn any checkpoint into one this reader accepts.
RESAVE_HINT = ("Load it in PyTorch and re-save the state dict with "
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


class TensorRef(_Frozen):
    """A tensor to rebuild from a storage: offset, size, stride (elements)."""

    __slots__ = ("storage", "offset", "size", "stride")


class _Rebuild(_Frozen):
    """Stand-in for an allow-listed ``torch._utils`` rebuild function."""

    __slots__ = ("name", "fn")

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def corrupt(message):
    """A `CheckpointFormatError` saying what is corrupt."""
    return CheckpointFormatError(f"Corrupt checkpoint: {message}")


def _int_tuple(value, what):
    if not isinstance(value, tuple) or len(value) > 64 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for v in value):
        raise corrupt(f"tensor {what} {reprlib.repr(value)} is not a tuple "
                      "of at most 64 non-negative integers.")
    return value


def _check_view(storage, offset, size, stride):
    """Refuses a view that overruns its storage or overlaps itself.

    Every check uses Python integers (no overflow) and runs while the pickle
    is read, before any storage is read or any tensor allocated.
    """
    elements = math.prod(size)
    available = storage.numel - storage.base - offset
    if elements > max(available, 0):
        raise corrupt(
            f"a tensor of size {size} describes {elements} elements but its "
            f"storage holds {max(available, 0)} after offset "
            f"{storage.base + offset}.")
    if elements == 0:
        return
    # Non-overlapping: along increasing strides, each stride exceeds the
    # span of the dimensions before it (which rules out a stride of 0).
    span = 0
    for step, n in sorted((s, n) for n, s in zip(size, stride) if n > 1):
        if step <= span:
            raise corrupt(
                f"a tensor of size {size} and stride {stride} overlaps "
                "itself (a stride of 0, or interleaved strides).")
        span += (n - 1) * step
    if storage.base + offset + span >= storage.numel:
        raise corrupt(
            f"a tensor of size {size}, stride {stride} and offset "
            f"{storage.base + offset} overruns its storage of "
            f"{storage.numel} elements.")


def _rebuild_parameter(data, *unused):
    return data


_DTYPES = {
    "DoubleStorage": "f8", "FloatStorage": "f4", "HalfStorage": "f2",
    "BFloat16Storage": "bf16", "LongStorage": "i8", "IntStorage": "i4",
    "ShortStorage": "i2", "CharStorage": "i1", "ByteStorage": "u1",
    "BoolStorage": "?",
}
_TENSOR_REBUILDS = ("_rebuild_tensor", "_rebuild_tensor_v2")
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_parameter"): _Rebuild(
        name="_rebuild_parameter", fn=_rebuild_parameter),
    **{("torch._utils", name): None for name in _TENSOR_REBUILDS},
    **{("torch", name): _StorageType(name=name, dtype=code)
       for name, code in _DTYPES.items()},
}


def itemsize(storage_type, decoded=False):
    """Bytes per element in the file (or, ``decoded``, as a numpy array)."""
    if storage_type.dtype == "bf16":
        return 4 if decoded else 2
    return np.dtype(storage_type.dtype).itemsize


class RestrictedUnpickler(pickle._Unpickler):
    """An unpickler that resolves only the globals of a state dict.

    Allowed: ``collections.OrderedDict``, ``torch._utils._rebuild_tensor``,
    ``_rebuild_tensor_v2``, ``_rebuild_parameter`` and the typed storage
    classes (``torch.FloatStorage`` ...), each mapped to a local stand-in.
    Any other global raises `UnsafeCheckpointError` naming it, before it is
    imported or called. Python's pure unpickler is used (its memo is a dict,
    so no index read from the file sizes an allocation), without the
    protocol-5 buffer opcodes, and every tensor view is checked against its
    storage as it is rebuilt.

    Args:
        file: a binary file object positioned at a pickle.
        legacy: whether persistent ids carry the legacy view metadata.
    """

    dispatch = {code: load for code, load in pickle._Unpickler.dispatch.items()
                if bytes([code]) not in _REFUSED_OPCODES}

    def __init__(self, file, legacy=False):
        super().__init__(file)
        self.legacy = legacy
        self.storages = {}
        self.tensors = []

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise UnsafeCheckpointError(
                f"Refusing to load global '{module}.{name}' from the "
                "checkpoint: a state dict only needs tensors, storages and "
                "OrderedDict, so the file holds other Python objects (a whole "
                "pickled model, a TorchScript archive, or code planted to run "
                f"on load). Nothing was executed. {RESAVE_HINT}")
        if name in _TENSOR_REBUILDS:
            return _Rebuild(name=name, fn=self._rebuild_tensor)
        return _ALLOWED_GLOBALS[module, name]

    def _rebuild_tensor(self, storage, storage_offset, size, stride, *unused):
        if (not isinstance(storage, _Storage)
                or not isinstance(storage_offset, int)
                or isinstance(storage_offset, bool) or storage_offset < 0):
            raise corrupt("a tensor is rebuilt from something that is not a "
                          "storage and a non-negative offset.")
        size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
        if len(size) != len(stride):
            raise corrupt(f"tensor size {size} and stride {stride} have "
                          "different lengths.")
        _check_view(storage, storage_offset, size, stride)
        ref = TensorRef(storage=storage, offset=storage_offset, size=size,
                         stride=stride)
        self.tensors.append(ref)
        return ref

    def persistent_load(self, pid):
        length = 6 if self.legacy else 5
        if (not isinstance(pid, tuple) or len(pid) != length
                or pid[0] != "storage" or not isinstance(pid[1], _StorageType)
                or not isinstance(pid[4], int) or isinstance(pid[4], bool)
                or pid[4] < 0):
            raise corrupt(f"unexpected persistent id {reprlib.repr(pid)}.")
        key, numel, base = str(pid[2]), pid[4], 0
        if self.legacy and pid[5] is not None:
            view = pid[5]  # (view key, offset, view size)
            if not isinstance(view, tuple) or len(view) != 3:
                raise corrupt(
                    f"unexpected storage view {reprlib.repr(view)}.")
            base = _int_tuple(view[1:], "storage view")[0]
        storage = self.storages.setdefault(
            key, _Storage(key=key, type=pid[1], numel=numel, base=0))
        if storage.type is not pid[1] or storage.numel != numel:
            raise corrupt(f"storage {key!r} is declared twice, differently.")
        return _Storage(key=key, type=storage.type, numel=numel, base=base)

    def tensor_bytes(self):
        """Bytes of the distinct tensors rebuilt so far (as numpy arrays)."""
        distinct = {id(ref): ref for ref in self.tensors}.values()
        return sum(math.prod(ref.size) * itemsize(ref.storage.type, True)
                   for ref in distinct)
