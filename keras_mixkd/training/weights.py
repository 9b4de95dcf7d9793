"""The models of a run: architecture names, Keras files, official .pth."""

import json
import pathlib
import zipfile

from keras_mixkd import models
from keras_mixkd.models import applications as applications_lib
from keras_mixkd.models import torch_import

#: The setting that takes the file an architecture setting may be given.
FILE_FIELDS = {"model": "weights", "teacher": "teacher_weights",
               "student": "student_weights",
               "extra_teachers": "extra_teacher_weights"}

_HDF5 = b"\x89HDF\r\n\x1a\n"


def check_model_name(name, field, applications=True):
    """Raises `ValueError` naming ``--<field>`` when ``name`` is unknown.

    Args:
        name: a zoo architecture (`keras_mixkd.models.available`) or, if
            ``applications``, ``"keras.applications.<Name>"``.
        field: the setting that named it.
        applications: whether `keras.applications` names are accepted.
    """
    if str(name).endswith((".keras", ".h5", ".pth", ".pt")):
        where = (f"give it as `{FILE_FIELDS[field]}`" if field in FILE_FIELDS
                 else "this setting takes an architecture name")
        raise ValueError(f"`{field}={name}` names a file, not an "
                         f"architecture: {where} (a .keras file brings its "
                         "architecture).")
    if not applications and name not in models.available():
        raise ValueError(f"`{field}={name}` is not an architecture. Choose "
                         f"one of: {', '.join(models.available())}.")
    try:
        models.check_name(name)
    except ValueError as e:
        raise ValueError(f"`{field}={name}` is not an architecture. {e}"
                         ) from e


def check_model_source(name, path, field, weights_field):
    """Checks an architecture name and/or model file, building nothing.

    Args:
        name: an architecture name (see `check_model_name`), or None when
            ``path`` is a ``.keras`` file (which holds its architecture).
        path: a weights file, or None.
        field, weights_field: the settings that gave them (``"student"``,
            ``"student_weights"``), for the messages.

    Raises:
        ValueError: neither given, an unknown name, or weights alone
            (``.weights.h5``, ``.pth``) without a name. (`check_model_file`
            checks the file itself.)
    """
    if not name and not path:
        raise ValueError(f"Missing `{field}` (an architecture) or "
                         f"`{weights_field}` (a .keras file).")
    if name:
        check_model_name(name, field)
    elif pathlib.Path(path).suffix != ".keras":
        raise ValueError(
            f"`{weights_field}={path}` holds weights only, without the "
            f"architecture: give `{field}` too, or a .keras file.")


def check_model_file(path, field):
    """Checks that a model file exists and is what its name says.

    Reads only the file's header (and a ``.keras`` zip's table of contents
    and ``config.json``), so a bad file is refused before any data loads.

    Args:
        path: the file given.
        field: the setting that gave it (``"weights"``,
            ``"teacher_weights"``...).

    Raises:
        ValueError: naming ``--<field>`` and ``path``: missing, a folder,
            a ``.keras`` file that is not a model or ``.weights.h5`` weights
            that are not HDF5 (saying what was found).

    Example:

    >>> check_model_file("runs/x/checkpoints/best.keras", "teacher_weights")
    """
    path = pathlib.Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "no file"
        raise ValueError(f"`{field}={path}`: {what} there; give the path of "
                         "the model file.")
    if path.suffix == ".keras":
        try:
            applications_lib.check_keras_file(path)
        except ValueError as e:
            raise ValueError(f"`{field}`={e}") from e
    elif path.name.endswith(".weights.h5"):
        with open(path, "rb") as file:
            if file.read(8) != _HDF5:
                raise ValueError(f"`{field}={path}` is not a Keras weights "
                                 "file: not an HDF5 file.")


def build_model(name, path, info, field, weights_field):
    """The model of a run for the data of ``info``.

    Args:
        name: an architecture name, built for ``info``'s image shape and
            classes; or None to take the architecture of ``path``.
        path: None, or a file: a ``.keras`` model (alone: used as it is;
            with ``name``: its weights are copied into the named
            architecture, layer by layer), ``.weights.h5`` or official
            ``.pth`` weights of ``name``.
        info: the `keras_mixkd.data.DatasetInfo` of the data.
        field, weights_field: the settings that gave ``name`` and ``path``.

    Returns:
        The uncompiled `keras.Model`.

    Raises:
        ValueError: naming the setting whose file or name does not fit.

    Example:

    >>> student = build_model(None, "runs/x/checkpoints/best.keras", info,
    ...                       "student", "student_weights")
    """
    check_model_source(name, path, field, weights_field)
    if path:
        check_model_file(path, weights_field)
    if not name:
        try:
            return models.load(path, num_classes=info.num_classes,
                               input_shape=info.image_shape)
        except ValueError as e:
            raise ValueError(f"`{weights_field}`: {e}") from e
    model = models.create(name, num_classes=info.num_classes,
                          input_shape=info.image_shape)
    if path:
        load_weights(model, path, weights_field)
    return model


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
    check_model_file(path, field)
    if not (path.suffix in (".pth", ".pt", ".tar", ".keras")
            or path.name.endswith(".weights.h5")):
        raise ValueError(f"`{field}={path}`: expected a .keras, .weights.h5 "
                         "or official PyTorch .pth file.")
    if path.suffix == ".keras":
        try:
            source = applications_lib.read_model(path)
        except ValueError as e:
            raise ValueError(f"`{field}`: {e}") from e
    try:
        if path.suffix in (".pth", ".pt", ".tar"):
            torch_import.load_torch_weights(model, path)
        elif path.suffix == ".keras":
            copy_weights(source, model)
        else:
            model.load_weights(path)
    except Exception as e:
        raise ValueError(
            f"`{field}={path}` does not fit the {model.name} architecture "
            f"with {model.output_shape[-1]} classes: {e}") from e
    return model


def keras_file_model_name(path):
    """The name of the model a ``.keras`` file holds, read from the archive
    without building it; None when ``path`` is not a readable one."""
    if not path or pathlib.Path(path).suffix != ".keras":
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read(
                applications_lib.KERAS_ARCHIVE_CONFIG))
            return config["config"]["name"]
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile):
        return None
