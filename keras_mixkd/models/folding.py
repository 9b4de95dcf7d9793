"""A frozen teacher's inference path: BatchNorm folded into its convolution.

In inference mode a BatchNormalization after a convolution is an affine map
per channel, ``(conv(x) - mean) * gamma / sqrt(var + eps) + beta``, which the
convolution can absorb: its kernel is scaled by ``gamma / sqrt(var + eps)``
per output channel and it gains the bias ``beta - mean * scale`` (plus its
own bias, scaled). The folded network computes the same logits up to
floating-point rounding with one pass over each activation instead of four
(the normalisation's subtract, multiply and add), and TensorFlow then fuses
the convolution, its bias and a following ReLU into one kernel.

`fold_batch_norm` builds the folded copy of a functional model;
`FrozenInference` keeps such a copy in step with a frozen teacher (the
`Distiller`'s ``fold_teacher`` and ``teacher_dtype`` arguments).
"""

import keras
import numpy as np

#: Layers whose output BatchNorm may fold into (kernel's last axis = filters).
_FOLDABLE = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def _policy(dtype):
    """The dtype policy running a copy at ``dtype`` (weights kept float32)."""
    if dtype is None:
        return None
    name = keras.mixed_precision.Policy(dtype).name
    if name in ("float16", "bfloat16"):
        return f"mixed_{name}"
    if name not in ("float32", "mixed_float16", "mixed_bfloat16"):
        raise ValueError(
            f"`dtype` must be 'float32', 'bfloat16' or 'float16' (or a mixed "
            f"policy name), got {dtype!r}.")
    return name


def foldable_pairs(model):
    """The (convolution, BatchNorm) layer pairs of ``model`` that fold.

    A pair folds when the convolution has no activation, its output feeds
    only that BatchNorm (and is no model output), and the BatchNorm
    normalises the convolution's channel axis.

    Args:
        model: a functional `keras.Model` whose layers are each called once.

    Returns:
        A dict from convolution name to BatchNorm name.
    """
    consumers = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        for tensor in keras.tree.flatten(layer.input):
            consumers.setdefault(id(tensor), []).append(layer)
    outputs = {id(t) for t in keras.tree.flatten(model.outputs)}
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, _FOLDABLE) or layer.activation not in (
                None, keras.activations.linear):
            continue
        users = consumers.get(id(layer.output), [])
        if (len(users) != 1 or id(layer.output) in outputs
                or not isinstance(users[0], keras.layers.BatchNormalization)):
            continue
        bn = users[0]
        rank = len(layer.output.shape)
        if layer.data_format == "channels_last" and bn.axis in (-1, rank - 1):
            pairs[layer.name] = bn.name
    return pairs


@keras.saving.register_keras_serializable(package="keras_mixkd")
class FoldedBatchNorm(keras.layers.Layer):
    """Where a folded BatchNorm was: the identity (its convolution scales).

    Takes the arguments a BatchNormalization call takes (``training``,
    ``mask``) so that the copy's graph calls it as the original's.
    """

    def call(self, inputs, training=None, mask=None):
        return inputs


def _folded_conv(layer, policy):
    config = layer.get_config()
    config.update(use_bias=True, bias_initializer="zeros")
    if policy is not None:
        config["dtype"] = policy
    return type(layer).from_config(config)


def fold_batch_norm(model, dtype=None):
    """A copy of ``model`` for inference, each foldable BatchNorm folded.

    The copy computes ``model(x, training=False)`` up to rounding. It has
    its own weights, copied (and folded) from ``model`` now; `FrozenInference`
    refreshes them.

    Args:
        model: a functional `keras.Model` (e.g. any `keras_mixkd.models`
            network).
        dtype: run the copy at this precision (``"bfloat16"``,
            ``"float16"``: weights float32, computations at that precision,
            as a mixed policy); ``None`` keeps each layer's own policy.

    Returns:
        The folded `keras.Model`, with the same input and output shapes.

    Example:

    ```python
    teacher = keras_mixkd.models.create("resnet32x4", num_classes=100)
    fast = keras_mixkd.models.folding.fold_batch_norm(teacher)
    logits = fast(images, training=False)  # == teacher(images, False) +- 1e-5
    ```
    """
    return FrozenInference(model, dtype=dtype).model


class FrozenInference:
    """The folded inference copy of a frozen model, kept in step with it.

    Not a layer: a model holding it neither saves nor tracks the copy's
    weights. Call `sync` whenever ``model``'s weights may have changed (the
    `Distiller` does at the start of every `fit`).

    Args:
        model: a functional `keras.Model`, used in inference mode only.
        dtype: precision of the copy (see `fold_batch_norm`).
        fold: whether to fold BatchNorm (False: a plain copy at ``dtype``).
        keep: names of layers whose outputs are read (feature terms): a
            convolution among them keeps its BatchNorm apart.
    """

    def __init__(self, model, dtype=None, fold=True, keep=()):
        if not isinstance(model, keras.Model) or not hasattr(model, "inputs") \
                or not getattr(model, "inputs", None):
            raise ValueError(
                "Folding BatchNorm needs a functional keras.Model (one built "
                "from keras.Input, as every keras_mixkd.models network); got "
                f"{type(model).__name__}. Pass fold_teacher=False.")
        self.source = model
        self.policy = _policy(dtype)
        self.pairs = {conv: bn for conv, bn in (
            foldable_pairs(model) if fold else {}).items() if conv not in keep}
        folded_bns = set(self.pairs.values())

        def clone(layer):
            if layer.name in self.pairs:
                return _folded_conv(layer, self.policy)
            if layer.name in folded_bns:
                return FoldedBatchNorm(name=layer.name)
            config = layer.get_config()
            if self.policy is not None and "dtype" in config:
                config["dtype"] = self.policy
            return type(layer).from_config(config)

        self.model = keras.models.clone_model(model, clone_function=clone)
        self.sync()

    def sync(self):
        """Copies (and folds) the source model's current weights."""
        layers = {layer.name: layer for layer in self.source.layers}
        for target in self.model.layers:
            if not target.weights:
                continue
            source = layers[target.name]
            if target.name not in self.pairs:
                target.set_weights(source.get_weights())
                continue
            bn = layers[self.pairs[target.name]]
            kernel = np.asarray(source.kernel, "float64")
            bias = (np.asarray(source.bias, "float64") if source.use_bias
                    else np.zeros(kernel.shape[-1]))
            gamma, beta, mean, variance = (
                np.asarray(w, "float64") if w is not None else None
                for w in (bn.gamma, bn.beta, bn.moving_mean,
                          bn.moving_variance))
            scale = 1.0 / np.sqrt(variance + bn.epsilon)
            if gamma is not None:
                scale = scale * gamma
            shift = (bias - mean) * scale
            if beta is not None:
                shift = shift + beta
            target.set_weights([(kernel * scale).astype("float32"),
                                shift.astype("float32")])

    def __call__(self, inputs):
        """The frozen model's logits for ``inputs`` (inference mode)."""
        return self.model(inputs, training=False)


def _builtin_functional(model):
    """Whether ``model`` is functional, made of Keras's and our own layers.

    (Those layers have no side effect a copy would lose.)
    """
    return bool(getattr(model, "inputs", None)) and all(
        type(layer).__module__.startswith(("keras.", "keras_mixkd."))
        for layer in model.layers)


def check_options(teacher, teacher_dtype, fold_teacher):
    """Validates the `Distiller`'s ``teacher_dtype`` and ``fold_teacher``."""
    _policy(teacher_dtype)
    if fold_teacher not in (None, True, False):
        raise ValueError(f"`fold_teacher` must be None, True or False, got "
                         f"{fold_teacher!r}.")
    if (fold_teacher or teacher_dtype is not None) and not getattr(
            teacher, "inputs", None):
        raise ValueError(
            "`teacher_dtype` and `fold_teacher=True` run a copy of the "
            "teacher, which needs a functional keras.Model (built from "
            f"keras.Input); got {type(teacher).__name__}. Leave both unset.")


def frozen_teacher(teacher, teacher_dtype, fold_teacher, current, strategy,
                   keep=()):
    """The `Distiller`'s teacher inference copy at the start of a `fit`.

    Args:
        teacher: the frozen teacher.
        teacher_dtype: the `Distiller`'s ``teacher_dtype``.
        fold_teacher: the `Distiller`'s ``fold_teacher``.
        current: the copy of a previous `fit` (synced and returned) or None.
        strategy: the distribution strategy to create the copy under.
        keep: layers whose outputs the `Distiller` reads (`FrozenInference`).

    Returns:
        A `FrozenInference`, or None to call the teacher itself.
    """
    if current is not None:
        current.sync()
        return current
    low = teacher_dtype not in (None, "float32") if teacher_dtype else any(
        layer.compute_dtype != "float32" for layer in teacher.layers
        if layer.weights)
    fold = fold_teacher if fold_teacher is not None else (
        low and _builtin_functional(teacher))
    if not fold and teacher_dtype is None:
        return None
    with strategy.scope():
        return FrozenInference(teacher, dtype=teacher_dtype, fold=fold,
                               keep=keep)
