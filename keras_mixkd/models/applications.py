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
import pathlib

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
            f"and {num_classes} classes: {e} (see --image_size for the "
            "input size).") from e


def load(path, num_classes=None, input_shape=None):
    """A model from a ``.keras`` file, its architecture included.

    Args:
        path: the ``.keras`` file.
        num_classes: if given, the number of logits the model must output.
        input_shape: if given, the ``(H, W, C)`` the model must accept.

    Returns:
        The uncompiled `keras.Model`.

    Raises:
        ValueError: no such file, not a ``.keras`` file, or a model that does
            not fit the data.

    Example:

    >>> teacher = load("teacher.keras", num_classes=10)
    """
    path = pathlib.Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: expected a .keras file (a whole model); "
                         "weights alone (.weights.h5, .pth) need the "
                         "architecture's name too.")
    if not path.is_file():
        raise ValueError(f"{path}: no such file.")
    model = keras.saving.load_model(path, compile=False)
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
                         f"fit the data: {'; '.join(problems)}.")
    return batch_norm.use_fused_batch_norm(model)
