"""`keras.applications` architectures and `.keras` files as models.

Beside the zoo, `keras_mixkd.models.create` resolves names of the form
``keras.applications.<Name>`` (e.g. ``keras.applications.MobileNetV3Small``):
the architecture is built for the data's input shape and classes, with
logits out (``classifier_activation=None``), without its own preprocessing
where it has that option (the data pipelines normalise), and without
downloaded weights: ``weights`` is None or a weights file. `load` reads a
model whose architecture comes with its ``.keras`` file.
"""

import inspect
import json
import pathlib
import zipfile

import keras

from keras_mixkd.models import batch_norm

#: The prefix of the names resolved in `keras.applications`.
PREFIX = "keras.applications."


def is_application(name):
    """Whether ``name`` is a ``keras.applications.<Name>`` name."""
    return isinstance(name, str) and name.startswith(PREFIX)


def application_builder(name):
    """The `keras.applications` function of ``name`` (ValueError if none)."""
    attribute = name[len(PREFIX):]
    builder = getattr(keras.applications, attribute, None)
    if not attribute or not inspect.isfunction(builder) or (
            "classes" not in inspect.signature(builder).parameters):
        choices = sorted(
            n for n, f in vars(keras.applications).items()
            if inspect.isfunction(f)
            and "classes" in inspect.signature(f).parameters)
        raise ValueError(
            f"{name!r} is not a keras.applications architecture. Choose "
            f"one of: {', '.join(PREFIX + c for c in choices)}.")
    return builder


def create_application(name, num_classes, input_shape, weights=None,
                       **options):
    """Builds ``keras.applications.<Name>`` for a dataset.

    Args:
        name: ``"keras.applications.<Name>"``.
        num_classes: number of output logits.
        input_shape: ``(H, W, C)``; each architecture has its minimum size
            (32 for the MobileNets).
        weights: None (random initialisation, no download) or the path of a
            weights file for exactly this configuration.
        **options: the architecture's own arguments (e.g. ``alpha=0.25``,
            ``minimalistic=True``).

    Returns:
        A `keras.Model` mapping images to logits.

    Example:

    >>> model = create_application("keras.applications.MobileNet",
    ...                            10, (48, 48, 3), alpha=0.25)
    """
    builder = application_builder(name)
    if weights is not None and not pathlib.Path(weights).is_file():
        raise ValueError(
            f"{name}: weights must be None or a weights file (nothing is "
            f"downloaded), got {weights!r}.")
    parameters = inspect.signature(builder).parameters
    for fixed in ("include_top", "classes", "input_shape", "weights",
                  "classifier_activation"):
        if fixed in options:
            raise ValueError(f"{name}: {fixed!r} is set by create; remove "
                             "it from the options.")
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        raise ValueError(f"{name} has no option {', '.join(unknown)}; its "
                         f"options: {', '.join(parameters)}.")
    arguments = dict(include_top=True, weights=weights, classes=num_classes,
                     input_shape=tuple(input_shape))
    if "classifier_activation" in parameters:
        arguments["classifier_activation"] = None
    if "include_preprocessing" in parameters:
        arguments["include_preprocessing"] = False
    try:
        return builder(**arguments, **options)
    except ValueError as e:
        raise ValueError(
            f"{name} cannot be built for input shape {tuple(input_shape)} "
            f"and {num_classes} classes: {e} (see `image_size` for the "
            "input size).") from e


#: The member of a ``.keras`` zip that describes its model (Keras's format,
#: not a run folder's ``config.json``).
KERAS_ARCHIVE_CONFIG = "config.json"


def keras_file_problem(path):
    """What keeps an existing file from being a ``.keras`` model, or None.

    Reads the zip's table of contents and its ``config.json`` only.

    Args:
        path: the file.

    Returns:
        None when it looks like a model saved by ``model.save("x.keras")``;
        else what was found instead, e.g. ``"not a zip archive"`` or ``"a
        zip without config.json"``.

    Example:

    >>> keras_file_problem("notes.keras")
    'not a zip archive (it starts with ...)'
    """
    with open(path, "rb") as file:
        head = file.read(8)
    if not head:
        return "an empty file"
    if head.startswith(b"\x89HDF"):
        return ("an HDF5 file, not a zip archive (weights alone are "
                "named .weights.h5; a Keras 2 model file .h5)")
    if not zipfile.is_zipfile(path):
        return f"not a zip archive (it starts with {head!r})"
    try:
        with zipfile.ZipFile(path) as archive:
            if KERAS_ARCHIVE_CONFIG not in archive.namelist():
                shown = ", ".join(archive.namelist()[:3]) or "nothing"
                return f"a zip without config.json (it holds {shown})"
            config = json.loads(archive.read(KERAS_ARCHIVE_CONFIG))
    except (zipfile.BadZipFile, OSError) as e:
        return f"a damaged zip archive ({e})"
    except ValueError:
        return "a zip whose config.json is not JSON"
    if not isinstance(config, dict) or "class_name" not in config:
        return "a zip whose config.json describes no Keras object"
    return None


def check_keras_file(path):
    """Raises `ValueError` when an existing file is not a ``.keras`` model.

    Args:
        path: the file.

    Raises:
        ValueError: ``"<path> is not a Keras model file: <what it is>..."``
            (see `keras_file_problem`).
    """
    problem = keras_file_problem(path)
    if problem:
        raise ValueError(f"{path} is not a Keras model file: {problem}. A "
                         ".keras file is what model.save('x.keras') writes "
                         "(a run folder's checkpoints/best.keras).")


def read_model(path):
    """The model of a ``.keras`` file, after checking that it is one.

    Args:
        path: the ``.keras`` file.

    Returns:
        The uncompiled `keras.Model`, as saved.

    Raises:
        ValueError: no such file, not a ``.keras`` model (saying what the
            file is instead), or one Keras cannot load (its error).
    """
    path = pathlib.Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: expected a .keras file (a whole model); "
                         "weights alone (.weights.h5, .pth) need the "
                         "architecture's name too.")
    if not path.is_file():
        raise ValueError(f"{path}: no such file.")
    check_keras_file(path)
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as e:  # Keras raises many types for a bad file
        raise ValueError(f"{path}: Keras cannot load the model in it "
                         f"({type(e).__name__}: {e}).") from e


def load(path, num_classes=None, input_shape=None):
    """A model from a ``.keras`` file, its architecture included.

    Args:
        path: the ``.keras`` file.
        num_classes: if given, the number of logits the model must output.
        input_shape: if given, the ``(H, W, C)`` the model must accept.

    Returns:
        The uncompiled `keras.Model`.

    Raises:
        ValueError: no such file, not a ``.keras`` model (saying what the
            file is instead), or a model that does not fit the data.

    Example:

    >>> teacher = load("teacher.keras", num_classes=10)
    """
    model = read_model(path)
    problems = []
    if num_classes is not None and model.output_shape[-1] != num_classes:
        problems.append(f"it outputs {model.output_shape[-1]} logits, the "
                        f"data has {num_classes} classes")
    if input_shape is not None and tuple(model.input_shape[1:]) != tuple(
            input_shape):
        problems.append(f"it takes inputs of shape {model.input_shape[1:]}, "
                        f"the data's images are {tuple(input_shape)}")
    if problems:
        raise ValueError(f"{path} holds model {model.name!r}, which does not "
                         f"fit the data: {'; '.join(problems)}. Check the "
                         "dataset, its image size and channels (`dataset`, "
                         "`image_size`, `channels`).")
    return batch_norm.use_fused_batch_norm(model)
