"""Registry of the model zoo: `create`, `available`, `feature_model`.

The family modules (`resnet`, `wide_resnet`, `vgg`, `mobilenet`,
`shufflenet`) register their architectures by importing this module (as
timm and Keras register theirs); the package's ``__init__`` imports the
families, so the registry is full once ``keras_mixkd.models`` is imported.
"""

import keras

from keras_mixkd.models import applications
from keras_mixkd.models._blocks import PENULTIMATE

_BUILDERS = {}


def register(name):
    """Register a builder ``fn(num_classes, input_shape) -> keras.Model``."""

    def decorator(fn):
        _BUILDERS[name] = fn
        return fn

    return decorator


def register_variant(name, build_fn, doc, **config):
    """Register one named configuration of a family's build function.

    Args:
        name: the official architecture name (``"resnet20"``).
        build_fn: ``build_fn(name, num_classes=..., input_shape=..., **config)``
            returning a `keras.Model`.
        doc: the builder's docstring.
        **config: the architecture's fixed arguments of ``build_fn``.

    Returns:
        The registered builder ``fn(num_classes=100, input_shape=(32, 32, 3))``.
    """

    def builder(num_classes=100, input_shape=(32, 32, 3)):
        return build_fn(name, num_classes=num_classes,
                        input_shape=input_shape, **config)

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = doc
    return register(name)(builder)


def available():
    """Names of the zoo's architectures, in a stable order.

    `create` also builds ``keras.applications.<Name>`` architectures, which
    this list leaves out.

    Returns:
        A sorted list of architecture names (the official model dictionary).
    """
    return sorted(_BUILDERS, key=str.lower)


def check_name(name):
    """Checks an architecture name without building anything.

    Args:
        name: one of `available()` or ``"keras.applications.<Name>"``.

    Raises:
        ValueError: listing the accepted names.
    """
    if applications.is_application(name):
        applications.application_builder(name)
    elif name not in _BUILDERS:
        raise ValueError(
            f"Unknown model name {name!r}. Available models: "
            f"{', '.join(available())}, or "
            f"{applications.PREFIX}<Name> (e.g. "
            f"{applications.PREFIX}MobileNetV3Small).")


def create(name, num_classes=100, input_shape=(32, 32, 3), **options):
    """Build an architecture of the official RepDistiller model zoo, or of
    `keras.applications`.

    Args:
        name: an architecture name, one of `available()` (e.g.
            ``"resnet8x4"``), or ``"keras.applications.<Name>"`` (built with
            random weights for ``input_shape`` and ``num_classes``; see
            `keras_mixkd.models.applications.create_application`).
        num_classes: number of output logits.
        input_shape: input image shape, NHWC without the batch dimension.
        **options: a `keras.applications` architecture's own arguments
            (e.g. ``alpha=0.25``) and ``weights`` (a weights file); the zoo
            takes none.

    Returns:
        A functional `keras.Model` mapping images to logits (no softmax).

    Example:

    >>> model = create("wrn_16_2", num_classes=10)
    >>> small = create("keras.applications.MobileNet", num_classes=10,
    ...                input_shape=(48, 48, 3), alpha=0.25)
    """
    check_name(name)
    if int(num_classes) < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}.")
    if applications.is_application(name):
        return applications.create_application(
            name, int(num_classes), tuple(input_shape), **options)
    if options:
        raise ValueError(f"The zoo's {name} takes no options, got "
                         f"{', '.join(sorted(options))}.")
    return _BUILDERS[name](num_classes=int(num_classes),
                           input_shape=tuple(input_shape))


def feature_model(model):
    """A model sharing ``model``'s weights that outputs its penultimate features.

    Args:
        model: a model built by `create`.

    Returns:
        A `keras.Model` mapping the same inputs to the pooled feature vectors
        fed to the final classifier.
    """
    try:
        layer = model.get_layer(PENULTIMATE)
    except ValueError as e:
        raise ValueError(
            f"Model {model.name!r} has no {PENULTIMATE!r} layer; "
            "feature_model needs a model built by keras_mixkd.models.create."
        ) from e
    return keras.Model(model.input, layer.output, name=f"{model.name}_features")
