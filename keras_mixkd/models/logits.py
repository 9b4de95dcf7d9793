"""Models that output logits: the Distiller's check, and `without_softmax`.

Distillation compares logits. A model whose last layer applies a softmax
(every `keras.applications` model built with its default
``classifier_activation="softmax"``) outputs probabilities instead: read as
logits, values in [0, 1] give near-uniform softened targets, so almost
nothing is distilled, silently.
`check_logits` finds such a model by its last layer's activation or, where
the last layer does not tell (a subclassed model, a custom layer), by a
probe: rows that are all non-negative and sum to 1 on random inputs are
probabilities.
`without_softmax` returns the same model without its final softmax,
sharing its weights.
"""

import keras
import numpy as np

from keras_mixkd import _keras_compat

#: Final activations whose outputs are probabilities, not logits.
PROBABILITY_ACTIVATIONS = ("softmax", "sigmoid")

#: Rows summing to 1 within this tolerance (bfloat16 softmax sums are off
#: by up to ~1e-2) and non-negative are probabilities.
_SUM_TOLERANCE = 2e-2


def _output(model):
    """What computes the model's single output: ``(operation, inputs)``.

    The operation is a layer, a nested model or an op (``keras.ops.softmax``);
    ``(None, [])`` when the model does not tell (subclassed, several
    outputs).
    """
    outputs = getattr(model, "outputs", None)
    if not isinstance(outputs, (list, tuple)) or len(outputs) != 1:
        return None, []
    return _keras_compat.producer(outputs[0])


def _activation_name(operation):
    if isinstance(operation, WithoutActivation):
        return "linear"
    if isinstance(operation, keras.layers.Softmax):
        return "softmax"
    if not isinstance(operation, keras.layers.Layer):  # an op, e.g. Softmax
        name = type(operation).__name__.lower()
        return name if name in PROBABILITY_ACTIVATIONS else None
    activation = getattr(operation, "activation", None)
    if activation is None:
        return None
    try:
        return keras.activations.serialize(activation)
    except (TypeError, ValueError):  # a custom activation
        return getattr(activation, "__name__", None)


def final_activation(model):
    """The activation that computes the model's output.

    Args:
        model: a `keras.Model`.

    Returns:
        ``(operation, name)``: the layer (inside nested models) or op that
        computes the output and the name of its activation (``"softmax"``,
        ``"linear"``...); ``(operation, None)`` for one without an
        activation (e.g. `Flatten`); ``(None, None)`` when the model does
        not tell (subclassed).

    Example:

    >>> layer, name = final_activation(keras.applications.MobileNetV3Small(
    ...     weights=None, input_shape=(32, 32, 3), classes=10))
    >>> name
    'softmax'
    """
    operation, _ = _output(model)
    if isinstance(operation, keras.Model):
        return final_activation(operation)
    if operation is None:
        return None, None
    return operation, _activation_name(operation)


def looks_like_probabilities(outputs):
    """Whether every row is non-negative and sums to 1 (a softmax's output).

    Args:
        outputs: ``(batch, classes)`` model outputs, ``classes >= 2``.

    Returns:
        A Python bool.
    """
    rows = np.asarray(keras.ops.convert_to_numpy(
        keras.ops.cast(outputs, "float32")), "float64")
    if rows.ndim != 2 or rows.shape[-1] < 2 or rows.shape[0] == 0:
        return False
    return bool(np.all(rows >= -1e-6) and np.all(
        np.abs(rows.sum(axis=-1) - 1.0) <= _SUM_TOLERANCE))


def _probe_shape(model, input_shape):
    shape = input_shape
    inputs = getattr(model, "inputs", None)
    if shape is None and isinstance(inputs, (list, tuple)) and len(inputs) == 1:
        if "int" in str(inputs[0].dtype):
            return None
        shape = tuple(inputs[0].shape)
    if shape is None or any(d is None for d in tuple(shape)[1:]):
        return None
    return (4, *tuple(shape)[1:])


_OPT_OUT = ("If these outputs really are logits, pass check_logits=False to "
            "the Distiller.")


def _fix(role):
    return (f"Build the {role} with activation=None on its last layer "
            "(keras.applications: classifier_activation=None), or pass "
            f"keras_mixkd.models.without_softmax({role}): the same model "
            f"without its final softmax, sharing its weights. {_OPT_OUT}")


def check_logits(model, role, input_shape=None):
    """Raises `ValueError` if ``model`` outputs probabilities, not logits.

    The last layer's activation decides where the model shows it; a model
    whose last layer does not tell is called once in inference mode on 4
    random normal inputs of ``input_shape`` (or its own input shape), and
    outputs that look like probabilities (`looks_like_probabilities`) fail.

    Args:
        model: the `keras.Model` to check.
        role: ``"teacher"`` or ``"student"``, named in the message.
        input_shape: the input shape (batch first) when the model's own is
            not known, e.g. from the training data.

    Returns:
        True when the model was checked, False when its last layer did not
        tell and no input shape was known for the probe (call again with
        ``input_shape``).

    Raises:
        ValueError: the model ends in a softmax or sigmoid, or its outputs
            on random inputs are probabilities; the message names the model
            and the fix.

    Example:

    >>> check_logits(keras.applications.ResNet50(
    ...     weights=None, input_shape=(32, 32, 3), classes=10), "teacher")
    Traceback (most recent call last):
    ValueError: The teacher's last layer 'predictions' (Dense) ...
    """
    operation, name = final_activation(model)
    if name in PROBABILITY_ACTIVATIONS:
        raise ValueError(
            f"The {role}'s last layer {operation.name!r} "
            f"({type(operation).__name__}) applies a {name}: it outputs "
            "probabilities, but distillation compares logits (the outputs "
            "before the softmax); read as logits, probabilities distil "
            f"almost nothing. {_fix(role)}")
    if name is not None:
        return True
    shape = _probe_shape(model, input_shape)
    if shape is None:
        return False
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal(shape).astype("float32")
    if looks_like_probabilities(model(inputs, training=False)):
        raise ValueError(
            f"The {role}'s outputs look like probabilities, not logits: on "
            "random inputs every row is non-negative and sums to 1 (a "
            "softmax at the end of the model?). Distillation compares "
            "logits; read as logits, probabilities distil almost nothing. "
            f"Make the {role} return its logits (drop the final softmax "
            f"from its call() or last layer). {_OPT_OUT}")
    return True


@keras.saving.register_keras_serializable(package="keras_mixkd")
class WithoutActivation(keras.layers.Layer):
    """Calls a layer with a linear activation in place of its own.

    The wrapped layer (and its weights) is shared, not copied: the layer's
    own ``activation`` is swapped for the duration of the call.

    Args:
        layer: a layer with an ``activation`` attribute (`Dense`, `Conv2D`...).
        **kwargs: `keras.layers.Layer` arguments.

    Example:

    >>> logits = WithoutActivation(model.get_layer("predictions"))(features)
    """

    def __init__(self, layer, **kwargs):
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        kwargs.setdefault("dtype", layer.dtype_policy)
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)

    def call(self, inputs):
        activation = self.layer.activation
        self.layer.activation = keras.activations.linear
        try:
            return self.layer(inputs)
        finally:
            self.layer.activation = activation

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(),
                "layer": keras.saving.serialize_keras_object(self.layer)}


def _logits_tensor(model):
    """The model's output before its final softmax, a symbolic tensor."""
    operation, inputs = _output(model)
    if isinstance(operation, keras.Model):
        return without_softmax(operation)(*inputs)
    name = None if operation is None else _activation_name(operation)
    if name not in PROBABILITY_ACTIVATIONS:
        raise ValueError(
            f"Model {model.name!r} has no final softmax or sigmoid to "
            f"remove (its output comes from {operation.name!r}, "
            f"activation {name or 'none'}). If it computes probabilities "
            "another way, rebuild it to output the logits.")
    if getattr(operation, "activation", None) is None or isinstance(
            operation, keras.layers.Activation):
        return inputs[0]  # a Softmax/Activation layer or op: its input
    return WithoutActivation(operation,
                             name=f"{operation.name}_logits")(inputs[0])


def without_softmax(model):
    """The same model without its final softmax (or sigmoid): its logits.

    The returned functional model shares every layer, and so every weight,
    with ``model``: training one trains the other. A final `Softmax` or
    `Activation` layer (or ``keras.ops.softmax``) is dropped; a final
    `Dense` or convolution with a softmax activation is called through
    `WithoutActivation`. A model nested as the output (e.g. a
    `keras.applications` model inside a `Sequential`) is handled too.

    Args:
        model: a functional or `Sequential` `keras.Model` with known inputs
            whose output applies a softmax or sigmoid.

    Returns:
        A `keras.Model` with the same inputs and name, outputting logits.

    Raises:
        ValueError: a subclassed model (its graph cannot be rebuilt), or a
            model whose output applies no softmax or sigmoid.

    Example:

    >>> model = keras.applications.MobileNetV3Small(
    ...     weights=None, input_shape=(32, 32, 3), classes=10)
    >>> teacher = keras_mixkd.models.without_softmax(model)
    """
    if _output(model)[0] is None:
        raise ValueError(
            f"Cannot rebuild model {model.name!r} ({type(model).__name__}) "
            "without its softmax: only functional and Sequential models with "
            "known inputs expose their layers' graph. Return the logits from "
            "the model's call() instead (drop the final softmax).")
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, _logits_tensor(model), name=model.name)
