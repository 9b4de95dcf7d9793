"""Import official PyTorch checkpoints (RepDistiller, MIX-KD) into zoo models.

Weights map by name: every Keras layer that holds weights is named after
its PyTorch module path (``"layer1.0.conv1"``), and takes the tensors
``"<path>.weight"``, ``"<path>.bias"`` and, for BatchNorm,
``"<path>.running_mean"`` / ``"<path>.running_var"`` (``num_batches_tracked``
is ignored). Layouts are converted:

- ``nn.Conv2d`` weight ``(O, I / groups, kh, kw)`` -> `Conv2D` kernel
  ``(kh, kw, I / groups, O)`` (ordinary and grouped convolutions);
- depthwise ``nn.Conv2d`` weight ``(C * m, 1, kh, kw)`` -> `DepthwiseConv2D`
  kernel ``(kh, kw, C, m)``;
- ``nn.Linear`` weight ``(out, in)`` -> `Dense` kernel ``(in, out)``;
- ``nn.BatchNorm2d`` weight, bias, running_mean, running_var -> gamma,
  beta, moving_mean, moving_variance.

Checkpoints are read without torch and without executing any code from the
file (see `keras_mixkd.models._torch_reader`). The whole checkpoint is
validated before anything is assigned.
"""

import os

import keras
import numpy as np

from keras_mixkd.models._registry import create
from keras_mixkd.models._torch_reader import CheckpointFormatError
from keras_mixkd.models._torch_reader import UnsafeCheckpointError
from keras_mixkd.models._torch_reader import read_checkpoint

__all__ = [
    "CheckpointFormatError",
    "CheckpointMismatchError",
    "UnsafeCheckpointError",
    "convert_torch_checkpoint",
    "load_torch_state_dict",
    "load_torch_weights",
]

#: Keys under which training scripts nest the model's state dict.
_STATE_DICT_KEYS = ("model", "state_dict", "model_state_dict", "net")
_MAX_LISTED = 8


class CheckpointMismatchError(ValueError):
    """A checkpoint's tensors do not match the model's layers."""


def _is_state_dict(obj):
    return (isinstance(obj, dict) and obj
            and all(isinstance(k, str) for k in obj)
            and all(isinstance(v, np.ndarray) for v in obj.values()))


def load_torch_state_dict(path):
    """Reads the model state dict of a PyTorch checkpoint as numpy arrays.

    Accepts a bare state dict or a dict that nests it under ``"model"`` (as
    RepDistiller and MIX-KD save), ``"state_dict"``, ``"model_state_dict"``
    or ``"net"``. A ``"module."`` prefix on every key (``nn.DataParallel``)
    is removed.

    Args:
        path: a ``torch.save`` file (zip format, or the legacy format of
            PyTorch < 1.6).

    Returns:
        A dict from parameter names to numpy arrays in PyTorch layout.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafeCheckpointError: the file would run code when unpickled.
        CheckpointFormatError: not a checkpoint, truncated, corrupt, or no
            state dict inside.

    Example:

    >>> state = load_torch_state_dict("resnet8x4.pth")
    >>> state["fc.weight"].shape
    (100, 256)
    """
    obj = read_checkpoint(path)
    state = obj
    if not _is_state_dict(obj) and isinstance(obj, dict):
        state = next((obj[k] for k in _STATE_DICT_KEYS
                      if _is_state_dict(obj.get(k))), None)
    if not _is_state_dict(state):
        found = (f"a dict with keys {sorted(map(str, obj))[:_MAX_LISTED]}"
                 if isinstance(obj, dict) else f"a {type(obj).__name__}")
        raise CheckpointFormatError(
            f"No state dict in checkpoint {str(path)!r}: it holds {found}. "
            "Expected a state dict of tensors, bare or under one of the keys "
            f"{list(_STATE_DICT_KEYS)}.")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return {k: v for k, v in state.items()
            if not k.endswith("num_batches_tracked")}


def _conv_kernel(kernel):
    """(O, I/g, kh, kw) -> (kh, kw, I/g, O)."""
    return kernel.transpose(2, 3, 1, 0)


def _depthwise_kernel(kernel, channels):
    """(C * m, 1, kh, kw) -> (kh, kw, C, m)."""
    out, _, kh, kw = kernel.shape
    kernel = kernel.reshape(channels, out // channels, kh, kw)
    return kernel.transpose(2, 3, 0, 1)


def _layer_params(layer):
    """``(torch suffix, variable, expected torch shape, converter)`` of a layer.

    Returns None for a layer type this importer cannot map.
    """
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw, channels, mult = layer.kernel.shape
        params = [("weight", layer.kernel, (channels * mult, 1, kh, kw),
                   lambda w: _depthwise_kernel(w, channels))]
    elif isinstance(layer, keras.layers.Conv2D):
        kh, kw, cin, cout = layer.kernel.shape
        params = [("weight", layer.kernel, (cout, cin, kh, kw), _conv_kernel)]
    elif isinstance(layer, keras.layers.Dense):
        cin, cout = layer.kernel.shape
        params = [("weight", layer.kernel, (cout, cin), np.transpose)]
    elif isinstance(layer, keras.layers.BatchNormalization):
        params = [(suffix, var, tuple(var.shape), None) for suffix, var in (
            ("weight", layer.gamma), ("bias", layer.beta),
            ("running_mean", layer.moving_mean),
            ("running_var", layer.moving_variance)) if var is not None]
        return params
    else:
        return None
    if getattr(layer, "bias", None) is not None:
        params.append(("bias", layer.bias, tuple(layer.bias.shape), None))
    return params


def _weighted_layers(model):
    """Every layer holding weights, looking inside nested models."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _weighted_layers(layer)
        elif layer.weights:
            yield layer


def _listing(title, names):
    shown = ", ".join(repr(n) for n in names[:_MAX_LISTED])
    extra = len(names) - _MAX_LISTED
    more = f" and {extra} more" if extra > 0 else ""
    return f"- {title} ({len(names)}): {shown}{more}"


def _match(model, state):
    """Pairs model variables with converted checkpoint arrays.

    Returns:
        ``(assignments, problems)``: ``(variable, value)`` pairs, and the
        descriptions of every mismatch (empty when the checkpoint fits).
    """
    assignments, missing, mismatched, unsupported = [], [], [], []
    used = set()
    for layer in _weighted_layers(model):
        params = _layer_params(layer)
        if params is None or len(params) != len(layer.weights):
            unsupported.append(f"{layer.name} ({type(layer).__name__})")
            continue
        for suffix, variable, torch_shape, convert in params:
            key = f"{layer.name}.{suffix}"
            if key not in state:
                missing.append(key)
                continue
            used.add(key)
            value = state[key]
            if value.shape != torch_shape:
                mismatched.append(
                    f"layer {layer.name!r}: {key!r} has shape "
                    f"{tuple(value.shape)} in the checkpoint but the model "
                    f"expects {torch_shape}")
                continue
            value = convert(value) if convert else value
            assignments.append((variable, value.astype(variable.dtype)))
    unexpected = [k for k in state if k not in used]
    problems = []
    if unsupported:
        problems.append(_listing(
            "layers with weights of a type the importer cannot map",
            unsupported))
    if mismatched:
        problems.append(_listing("shape mismatches (PyTorch layout)",
                                 mismatched))
    if missing:
        problems.append(_listing("missing from the checkpoint", missing))
    if unexpected:
        problems.append(_listing("unexpected in the checkpoint", unexpected))
    return assignments, problems


def _assign(model, state, source):
    assignments, problems = _match(model, state)
    if problems:
        raise CheckpointMismatchError(
            f"Checkpoint {source!r} does not match model {model.name!r}; "
            "nothing was loaded.\n" + "\n".join(problems) + "\nThe checkpoint "
            "was probably saved from another architecture or number of "
            "classes: build the model with keras_mixkd.models.create(<the "
            "checkpoint's architecture>, num_classes=<its classes>).")
    for variable, value in assignments:
        variable.assign(value)


def load_torch_weights(model, path):
    """Loads an official PyTorch checkpoint into a zoo model, all or nothing.

    Args:
        model: a model built by `keras_mixkd.models.create` for the same
            architecture and number of classes as the checkpoint.
        path: a checkpoint saved by ``torch.save``: ``{"model": state_dict,
            ...}`` as RepDistiller saves it, or a bare state dict; zip or
            legacy format. No code from the file is executed and torch is not
            needed.

    Returns:
        The same ``model``, with every weight and BatchNorm statistic set.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafeCheckpointError: the file would run code when unpickled.
        CheckpointFormatError: not a checkpoint, truncated or corrupt.
        CheckpointMismatchError: missing or unexpected tensors, or shape
            mismatches; the model is left unchanged.

    Example:

    >>> model = keras_mixkd.models.create("resnet8x4", num_classes=100)
    >>> load_torch_weights(model, "ckpt_epoch_240.pth")
    """
    _assign(model, load_torch_state_dict(path), os.fspath(path))
    return model


def convert_torch_checkpoint(name, pth_path, out_path, num_classes=None):
    """Converts an official PyTorch checkpoint to a ``.keras`` model file.

    Args:
        name: the architecture, one of `keras_mixkd.models.available()`.
        pth_path: the PyTorch checkpoint (see `load_torch_weights`).
        out_path: where to write the Keras model; must end in ``.keras``.
        num_classes: number of classes; by default read from the
            checkpoint's final linear layer.

    Returns:
        The converted `keras.Model` (also saved to ``out_path``; load it with
        `keras.saving.load_model`, with or without keras_mixkd).

    Example:

    >>> model = convert_torch_checkpoint(
    ...     "wrn_40_2", "wrn_40_2_vanilla/ckpt_epoch_240.pth", "wrn_40_2.keras")
    """
    if not os.fspath(out_path).endswith(".keras"):
        raise ValueError(
            f"out_path must end in '.keras', got {os.fspath(out_path)!r}.")
    state = load_torch_state_dict(pth_path)
    if num_classes is not None:
        model = create(name, num_classes=num_classes)
    else:
        # The zoo models end with the classifier; size it as the checkpoint's.
        model = create(name)
        head = state.get(f"{model.layers[-1].name}.weight")
        if head is not None and head.ndim == 2 and head.shape[0] != 100:
            model = create(name, num_classes=int(head.shape[0]))
    _assign(model, state, os.fspath(pth_path))
    model.save(out_path)
    return model
