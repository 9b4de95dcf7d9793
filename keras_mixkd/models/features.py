"""Intermediate features of a model, by layer name, and of the zoo by stage.

`feature_layers` names, for a model of the zoo, the layers whose outputs are
the features RepDistiller's ``forward(x, is_feat=True)`` returns (with its
default ``preact=False``), in its order:

- ``resnet*`` and ``ResNet50``: the stem after its ReLU, each stage's output
  (after the last block's ReLU), the pooled features;
- ``wrn_*`` (pre-activation): the stem convolution's output, each block
  group's output *before* the next BatchNorm and ReLU (the official code
  returns the raw sums), the pooled features;
- ``vgg*``: each of the five blocks after its ReLU (``block0`` ...
  ``block4``, before the pooling that follows), the pooled features;
- ``MobileNetV2``: the stem after its ReLU, the outputs of the inverted
  residual groups ``blocks.1``, ``blocks.2``, ``blocks.4`` and ``blocks.6``
  (linear bottlenecks, no ReLU), the pooled features;
- ``ShuffleV1`` and ``ShuffleV2``: the stem after its ReLU, each stage's
  output (ShuffleV2's after its channel shuffle), the pooled features.

RepDistiller's methods pick from that list: attention transfer the stages
``feat[1:-1]``, FitNets ``feat[2]``, similarity preservation ``feat[-2]``,
PKT ``feat[-1]``. `with_features` builds a model returning the chosen
outputs with the logits, from any functional model (a `keras.applications`
model too) by layer name.
"""

import keras

from keras_mixkd.models._blocks import PENULTIMATE


def _last_layer(model, prefix):
    """The name of the last layer (in graph order) whose name starts with
    ``prefix``: the output of a block group built under that prefix."""
    names = [layer.name for layer in model.layers
             if layer.name.startswith(prefix)]
    if not names:
        raise ValueError(f"Model {model.name!r} has no layer named "
                         f"{prefix}*; it is not the zoo's {model.name}.")
    return names[-1]


def _groups(stem, prefixes):
    return lambda model: ([stem] + [_last_layer(model, p) for p in prefixes]
                          + [PENULTIMATE])


_STAGES_3 = ("layer1.", "layer2.", "layer3.")
# (name predicate, the rule giving the feature layers of a built model).
_FAMILIES = (
    (lambda n: n == "ResNet50", _groups("relu", _STAGES_3 + ("layer4.",))),
    (lambda n: n.startswith("resnet"), _groups("relu", _STAGES_3)),
    (lambda n: n.startswith("wrn_"),
     _groups("conv1", ("block1.", "block2.", "block3."))),
    (lambda n: n.startswith("vgg"),
     lambda m: [_last_layer(m, f"block{i}.") for i in range(5)]
     + [PENULTIMATE]),
    (lambda n: n == "MobileNetV2",
     _groups("conv1.2", ("blocks.1.", "blocks.2.", "blocks.4.",
                         "blocks.6."))),
    (lambda n: n in ("ShuffleV1", "ShuffleV2"), _groups("relu", _STAGES_3)),
)


def feature_layers(model):
    """Names of the layers giving RepDistiller's features of a zoo model.

    Args:
        model: a model built by `keras_mixkd.models.create` (or loaded from
            its file), recognised by its name (``"resnet8x4"``...).

    Returns:
        A list of layer names, in the order of the official ``feat`` list:
        the stem, each stage, the pooled features.

    Raises:
        ValueError: for a model that is not one of the zoo, naming how to
            pick layers by name instead.

    Example:

    >>> feature_layers(keras_mixkd.models.create("resnet8"))
    ['relu', 'layer1.0.relu', 'layer2.0.relu', 'layer3.0.relu', 'penultimate']
    """
    from keras_mixkd.models import _registry

    for matches, rule in _FAMILIES:
        if matches(model.name) and model.name in _registry.available():
            return rule(model)
    raise ValueError(
        f"Model {model.name!r} is not a model of the zoo "
        "(keras_mixkd.models.available()), so its stages are not known. "
        "Name the layers whose outputs you want, e.g. with_features(model, "
        "['conv2_block3_out', 'conv3_block4_out']); [layer.name for layer in "
        "model.layers] lists them.")


def _layer_output(model, name):
    try:
        layer = model.get_layer(name)
    except ValueError:
        raise ValueError(
            f"Model {model.name!r} has no layer named {name!r}. Pick names "
            "from [layer.name for layer in model.layers]; layers inside a "
            "nested model are reached through a model built on that nested "
            "model.") from None
    return layer.output


def with_features(model, layers=None, name=None):
    """A model sharing ``model``'s weights that returns features and logits.

    Args:
        model: a functional or built sequential `keras.Model` whose output is
            the logits.
        layers: the names of the layers whose outputs to return, in order;
            None for a zoo model's `feature_layers` (RepDistiller's
            ``is_feat`` list).
        name: the new model's name; ``"<model>_with_features"`` by default.

    Returns:
        A `keras.Model` on the same inputs and the same layers (no weight is
        copied: training either trains both) returning ``(features, logits)``,
        ``features`` a list with one tensor per named layer, like
        RepDistiller's ``model(x, is_feat=True)``.

    Example:

    >>> student = keras_mixkd.models.create("resnet8", num_classes=10)
    >>> features, logits = with_features(student)(images)
    >>> backbone = keras.applications.MobileNetV3Small(
    ...     input_shape=(64, 64, 3), weights=None, classes=10,
    ...     classifier_activation=None)
    >>> features, logits = with_features(backbone, ["expanded_conv_project_bn"])(images)
    """
    if not model.built or not getattr(model, "inputs", None):
        raise ValueError(
            f"Model {model.name!r} has no symbolic inputs: build it on a "
            "keras.Input (a functional model, or a Sequential model starting "
            "with keras.Input(shape)) before asking for its features.")
    if len(model.outputs) != 1:
        raise ValueError(
            f"Model {model.name!r} has {len(model.outputs)} outputs; "
            "with_features takes a model whose one output is the logits.")
    names = feature_layers(model) if layers is None else list(layers)
    if isinstance(layers, str) or not names:
        raise ValueError(
            "`layers` must be a non-empty list of layer names, got "
            f"{layers!r}.")
    outputs = [_layer_output(model, layer) for layer in names]
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, (outputs, model.outputs[0]),
                       name=name or f"{model.name}_with_features")
