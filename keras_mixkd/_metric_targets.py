"""Metrics fed one-hot targets: sparse Keras metrics made categorical.

The `Distiller` converts every label batch to one-hot (in training, mixed)
float targets of shape ``(batch, classes)`` before its compiled metrics see
it, whatever form the dataset's labels take. Keras's sparse metrics expect
integer labels instead, and fail on (or, when the batch size equals the
number of classes, silently broadcast against) one-hot targets.
`categorical_metrics` replaces each of them by its categorical equivalent,
under the same name and with the same settings, so the log keys stay those
the user asked for.
"""

import keras

_metrics = keras.metrics


def _accuracy(name, dtype=None):
    return _metrics.CategoricalAccuracy(name=name, dtype=dtype)


def _top_k(name, dtype=None, k=5):
    return _metrics.TopKCategoricalAccuracy(k=k, name=name, dtype=dtype)


def _crossentropy(name, dtype=None, from_logits=False, axis=-1):
    return _metrics.CategoricalCrossentropy(
        name=name, dtype=dtype, from_logits=from_logits, axis=axis)


#: Sparse Keras metric classes and the builders of their equivalents.
_SPARSE_CLASSES = (
    (_metrics.SparseCategoricalAccuracy, _accuracy),
    (_metrics.SparseTopKCategoricalAccuracy, _top_k),
    (_metrics.SparseCategoricalCrossentropy, _crossentropy),
)

#: Strings Keras resolves to a sparse metric (function or class names).
_SPARSE_NAMES = {
    "sparse_categorical_accuracy": _accuracy,
    "SparseCategoricalAccuracy": _accuracy,
    "sparse_top_k_categorical_accuracy": _top_k,
    "SparseTopKCategoricalAccuracy": _top_k,
    "sparse_categorical_crossentropy": _crossentropy,
    "SparseCategoricalCrossentropy": _crossentropy,
}


def _sparse_functions():
    """Keras's sparse metric functions, by identity, to their builders."""
    functions = {}
    for module in (keras.metrics, keras.losses):
        for name, build in (
                ("sparse_categorical_accuracy", _accuracy),
                ("sparse_top_k_categorical_accuracy", _top_k),
                ("sparse_categorical_crossentropy", _crossentropy)):
            function = getattr(module, name, None)
            if function is not None:
                functions[function] = build
    return functions


_SPARSE_FUNCTIONS = _sparse_functions()


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _unconvertible(metric, detail):
    return ValueError(
        f"Metric {metric.name!r} ({detail}) has no one-hot equivalent: the "
        "Distiller feeds its metrics one-hot (batch, classes) targets and "
        "the student's logits, whatever form the labels take. Use a "
        "categorical metric instead (keras.metrics.CategoricalAccuracy, "
        "TopKCategoricalAccuracy, CategoricalCrossentropy).")


def _from_fn_kwargs(metric, build, kwargs):
    """The equivalent of a sparse metric given its function's arguments."""
    kwargs = dict(kwargs)
    if kwargs.pop("from_sorted_ids", False):
        raise _unconvertible(
            metric, f"{type(metric).__name__} with from_sorted_ids=True: "
            "it compares the labels with sorted class ids, not logits")
    ignore_class = kwargs.pop("ignore_class", None)
    if ignore_class is not None:
        raise _unconvertible(metric, f"{type(metric).__name__} with "
                             f"ignore_class={ignore_class!r}")
    return build(metric.name, dtype=metric.dtype, **kwargs)


def _convert_instance(metric):
    """The categorical equivalent of a sparse `keras.metrics.Metric`."""
    for cls, build in _SPARSE_CLASSES:
        if not isinstance(metric, cls):
            continue
        if type(metric) is not cls:
            raise _unconvertible(metric, f"{type(metric).__name__}, a "
                                 f"subclass of {cls.__name__}")
        kwargs = {key: getattr(metric, key) for key in (
            "k", "from_logits", "axis", "from_sorted_ids", "ignore_class")
            if hasattr(metric, key)}
        return _from_fn_kwargs(metric, build, kwargs)
    function = getattr(metric, "_fn", None)
    if (type(metric) is _metrics.MeanMetricWrapper
            and _hashable(function) and function in _SPARSE_FUNCTIONS):
        return _from_fn_kwargs(metric, _SPARSE_FUNCTIONS[function],
                               getattr(metric, "_fn_kwargs", {}))
    return metric


def _convert(metric):
    """One metric identifier, categorical if it was sparse."""
    if isinstance(metric, str):
        if metric.lower() in ("accuracy", "acc"):
            return _accuracy(metric)
        if metric in _SPARSE_NAMES:
            return _SPARSE_NAMES[metric](metric)
        return metric
    if isinstance(metric, _metrics.Metric):
        return _convert_instance(metric)
    if _hashable(metric) and metric in _SPARSE_FUNCTIONS:
        return _SPARSE_FUNCTIONS[metric](metric.__name__)
    return metric


def categorical_metrics(metrics):
    """Makes compile metrics work on one-hot targets, whatever the labels.

    The `Distiller` feeds its metrics one-hot (mixed, in training) float
    targets of shape ``(batch, classes)``. This maps

    - ``"accuracy"`` / ``"acc"`` (any case) to `CategoricalAccuracy` (Keras
      would pick the sparse accuracy from integer labels);
    - the sparse Keras metrics, given as a string
      (``"sparse_categorical_accuracy"``,
      ``"sparse_top_k_categorical_accuracy"``,
      ``"sparse_categorical_crossentropy"`` or the class names), a function
      (``keras.metrics.sparse_categorical_accuracy``...) or an instance
      (`SparseCategoricalAccuracy`, `SparseTopKCategoricalAccuracy`,
      `SparseCategoricalCrossentropy`), to `CategoricalAccuracy`,
      `TopKCategoricalAccuracy` and `CategoricalCrossentropy`,

    each under the name Keras would log (the string, the function's name,
    the instance's name) and with the same ``k``, ``from_logits``,
    ``axis`` and ``dtype``. On one-hot targets each equivalent computes the
    sparse metric's value on the integer labels. Strings keep Keras's
    defaults (``"sparse_categorical_crossentropy"``: ``from_logits=False``,
    as in `keras.Model.compile`; pass
    ``keras.metrics.SparseCategoricalCrossentropy(from_logits=True)`` for
    logits). Other metrics are returned unchanged, in the same structure
    (a list for a list or tuple, a dict of the same keys, nested).

    Args:
        metrics: ``compile``'s ``metrics`` or ``weighted_metrics``: None, a
            metric identifier, a list or tuple, or a dict of them.

    Returns:
        The same structure, sparse metrics replaced; None for None.

    Raises:
        ValueError: for a sparse metric with no one-hot equivalent
            (`SparseTopKCategoricalAccuracy` with ``from_sorted_ids=True``,
            `SparseCategoricalCrossentropy` with ``ignore_class``, or a
            subclass of a sparse metric).

    Example:

    >>> metrics = categorical_metrics(
    ...     ["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(k=3)])
    >>> [type(m).__name__ for m in metrics]
    ['CategoricalAccuracy', 'TopKCategoricalAccuracy']
    >>> metrics[1].name, metrics[1].k
    ('sparse_top_k_categorical_accuracy', 3)
    """
    if metrics is None:
        return None
    if isinstance(metrics, dict):
        return {key: categorical_metrics(value)
                for key, value in metrics.items()}
    if isinstance(metrics, (list, tuple)):
        return [categorical_metrics(metric) for metric in metrics]
    return _convert(metrics)
