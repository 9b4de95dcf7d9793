"""Loading trained weights into a model: Keras files or official .pth."""

import pathlib

import keras

from keras_mixkd.models import torch_import


def copy_weights(source, target):
    """Copies weights layer by layer, by name, checking every shape.

    Args:
        source: the model holding the weights.
        target: the model receiving them.

    Raises:
        ValueError: naming the layers missing from ``source`` and those whose
            shapes differ (e.g. another architecture or number of classes).
    """
    layers = {layer.name: layer for layer in source.layers}
    problems, pairs = [], []
    for layer in target.layers:
        if not layer.weights:
            continue
        other = layers.get(layer.name)
        if other is None:
            problems.append(f"layer {layer.name!r} missing")
            continue
        shapes = [tuple(w.shape) for w in layer.weights]
        other_shapes = [tuple(w.shape) for w in other.weights]
        if shapes != other_shapes:
            problems.append(f"layer {layer.name!r}: {other_shapes} in the "
                            f"file, {shapes} expected")
        pairs.append((layer, other))
    if problems:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ValueError(f"the file holds model {source.name!r}: {shown}"
                         f"{more}")
    for layer, other in pairs:
        layer.set_weights(other.get_weights())


def load_weights(model, path, field="weights"):
    """Loads ``.keras`` / ``.weights.h5`` or official ``.pth`` weights.

    Args:
        model: the built model to fill.
        path: the weights file.
        field: the setting that named the file (for the error message).

    Returns:
        ``model``.

    Raises:
        ValueError: naming ``--<field>`` when the file is missing, of an
            unknown kind, or holds another architecture.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"--{field}: no file at {path}.")
    if not (path.suffix in (".pth", ".pt", ".tar", ".keras")
            or path.name.endswith(".weights.h5")):
        raise ValueError(f"--{field}={path}: expected a .keras, .weights.h5 "
                         "or official PyTorch .pth file.")
    try:
        if path.suffix in (".pth", ".pt", ".tar"):
            torch_import.load_torch_weights(model, path)
        elif path.suffix == ".keras":
            copy_weights(keras.saving.load_model(path, compile=False), model)
        else:
            model.load_weights(path)
    except Exception as e:
        raise ValueError(
            f"--{field}={path} does not fit the {model.name} architecture "
            f"with {model.output_shape[-1]} classes: {e}") from e
    return model
