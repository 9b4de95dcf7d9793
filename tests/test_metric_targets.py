"""Metrics fed one-hot targets: sparse Keras metrics on the Distiller."""

import inspect

import keras
import numpy as np
import pytest

import keras_mixkd
from keras_mixkd._metric_targets import categorical_metrics
from tests.helpers import CLASSES
from tests.helpers import tiny_data
from tests.helpers import tiny_model

#: (identifier, expected class, expected name, expected settings).
CONVERSIONS = [
    ("accuracy", keras.metrics.CategoricalAccuracy, "accuracy", {}),
    ("ACC", keras.metrics.CategoricalAccuracy, "ACC", {}),
    ("sparse_categorical_accuracy", keras.metrics.CategoricalAccuracy,
     "sparse_categorical_accuracy", {}),
    ("SparseCategoricalAccuracy", keras.metrics.CategoricalAccuracy,
     "SparseCategoricalAccuracy", {}),
    ("sparse_top_k_categorical_accuracy",
     keras.metrics.TopKCategoricalAccuracy,
     "sparse_top_k_categorical_accuracy", {"k": 5}),
    ("sparse_categorical_crossentropy",
     keras.metrics.CategoricalCrossentropy,
     "sparse_categorical_crossentropy", {"from_logits": False}),
    (keras.metrics.sparse_categorical_accuracy,
     keras.metrics.CategoricalAccuracy, "sparse_categorical_accuracy", {}),
    (keras.metrics.sparse_top_k_categorical_accuracy,
     keras.metrics.TopKCategoricalAccuracy,
     "sparse_top_k_categorical_accuracy", {"k": 5}),
    (keras.losses.sparse_categorical_crossentropy,
     keras.metrics.CategoricalCrossentropy,
     "sparse_categorical_crossentropy", {"from_logits": False}),
    (keras.metrics.SparseCategoricalAccuracy(name="acc1", dtype="float64"),
     keras.metrics.CategoricalAccuracy, "acc1", {"dtype": "float64"}),
    (keras.metrics.SparseTopKCategoricalAccuracy(k=3),
     keras.metrics.TopKCategoricalAccuracy,
     "sparse_top_k_categorical_accuracy", {"k": 3}),
    (keras.metrics.SparseCategoricalCrossentropy(from_logits=True,
                                                 name="ce"),
     keras.metrics.CategoricalCrossentropy, "ce",
     {"from_logits": True, "axis": -1}),
    (keras.metrics.MeanMetricWrapper(
        keras.metrics.sparse_top_k_categorical_accuracy, name="top2", k=2),
     keras.metrics.TopKCategoricalAccuracy, "top2", {"k": 2}),
]


@pytest.mark.parametrize("identifier,cls,name,settings", CONVERSIONS)
def test_sparse_metrics_become_categorical(identifier, cls, name, settings):
    metric = categorical_metrics(identifier)
    assert type(metric) is cls
    assert metric.name == name
    config = metric.get_config()
    for key, value in settings.items():
        assert config[key] == value


def test_structures_are_kept_and_other_metrics_untouched():
    mae = keras.metrics.MeanAbsoluteError()
    converted = categorical_metrics({
        "a": ("acc", "mse"),
        "b": [mae, ["sparse_categorical_accuracy"]],
        "c": None,
    })
    assert set(converted) == {"a", "b", "c"}
    assert isinstance(converted["a"][0], keras.metrics.CategoricalAccuracy)
    assert converted["a"][1] == "mse"
    assert converted["b"][0] is mae
    assert isinstance(converted["b"][1][0], keras.metrics.CategoricalAccuracy)
    assert converted["c"] is None
    assert categorical_metrics(None) is None
    assert categorical_metrics("categorical_accuracy") == (
        "categorical_accuracy")


def _unconvertible():
    """Sparse metrics whose options have no categorical equivalent; Keras
    takes ``ignore_class`` in `SparseCategoricalCrossentropy` from 3.14."""
    cases = [(keras.metrics.SparseTopKCategoricalAccuracy(
        k=2, from_sorted_ids=True), "from_sorted_ids=True")]
    if "ignore_class" in inspect.signature(
            keras.metrics.SparseCategoricalCrossentropy).parameters:
        cases.append((keras.metrics.SparseCategoricalCrossentropy(
            ignore_class=0), "ignore_class=0"))
    return cases


@pytest.mark.parametrize("metric,match", _unconvertible())
def test_unconvertible_metrics_are_refused_by_name(metric, match):
    with pytest.raises(ValueError, match=match) as info:
        categorical_metrics(["accuracy", metric])
    assert repr(metric.name) in str(info.value)


def test_subclasses_of_sparse_metrics_are_refused():
    class Mine(keras.metrics.SparseCategoricalAccuracy):
        pass

    with pytest.raises(ValueError, match="Mine, a subclass of "
                       "SparseCategoricalAccuracy"):
        categorical_metrics(Mine(name="mine"))


@pytest.mark.parametrize("sparse", [
    keras.metrics.SparseCategoricalAccuracy(),
    keras.metrics.SparseTopKCategoricalAccuracy(k=2),
    keras.metrics.SparseCategoricalCrossentropy(from_logits=True),
    keras.metrics.SparseCategoricalCrossentropy(),
])
def test_equivalents_give_the_sparse_values(sparse):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, CLASSES, 12)
    logits = rng.normal(size=(12, CLASSES)).astype("float32")
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    weights = rng.uniform(size=12).astype("float32")
    predictions = logits if getattr(sparse, "from_logits", True) else (
        probabilities)
    categorical = categorical_metrics(sparse)
    sparse.update_state(labels, predictions, weights)
    categorical.update_state(np.eye(CLASSES)[labels], predictions, weights)
    np.testing.assert_allclose(float(categorical.result()),
                               float(sparse.result()), rtol=1e-6)


# The Distiller: metrics compiled on it, on labels of any form.

def _labels(y, form):
    return {"int": y, "column": y[:, None],
            "one_hot": np.eye(CLASSES, dtype="float32")[y]}[form]


def _expected(logits, y, weights=None):
    """numpy top-1 and top-3 accuracy of the logits on integer labels."""
    top3 = np.argsort(-logits, axis=1)[:, :3]
    hits1 = (np.argmax(logits, axis=1) == y).astype("float64")
    hits3 = (top3 == y[:, None]).any(axis=1).astype("float64")
    return (np.average(hits1, weights=weights),
            np.average(hits3, weights=weights))


def _compiled_distiller():
    distiller = keras_mixkd.Distiller(student=tiny_model("student", seed=1),
                                      teacher=tiny_model("teacher", seed=7),
                                      mixer=None)
    distiller.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.0),
        metrics=["sparse_categorical_accuracy",
                 keras.metrics.SparseTopKCategoricalAccuracy(k=3),
                 "categorical_accuracy",
                 keras.metrics.TopKCategoricalAccuracy(k=3)])
    return distiller


def _check_logs(logs, top1, top3, prefix=""):
    for key, value in (("sparse_categorical_accuracy", top1),
                       ("sparse_top_k_categorical_accuracy", top3),
                       ("categorical_accuracy", top1),
                       ("top_k_categorical_accuracy", top3)):
        logged = np.ravel(logs[prefix + key])[-1]
        np.testing.assert_allclose(logged, value, rtol=1e-6, err_msg=key)


@pytest.mark.parametrize("form", ["int", "column", "one_hot"])
def test_distiller_sparse_and_categorical_metrics_on_any_labels(form):
    # Batch size 8 != 5 classes: the sparse metrics on one-hot targets
    # would fail with incompatible shapes; at batch size 5 they would
    # broadcast silently.
    x, y = tiny_data(40, seed=3)
    labels = _labels(y, form)
    distiller = _compiled_distiller()
    before = [w.copy() for w in distiller.student.get_weights()]
    logits = distiller.student.predict(x, verbose=0)
    top1, top3 = _expected(logits, y)
    assert 0.0 < top1 < top3 < 1.0  # the two metrics differ here

    results = distiller.evaluate(x, labels, batch_size=8, verbose=0,
                                 return_dict=True)
    _check_logs(results, top1, top3)

    # Training metrics: no mixer and learning rate 0 keep the student as
    # it is, so they are the same numbers (no dropout, no BatchNorm).
    history = distiller.fit(x, labels, batch_size=8, epochs=1,
                            shuffle=False, verbose=0,
                            validation_data=(x, labels)).history
    _check_logs(history, top1, top3)
    _check_logs(history, top1, top3, prefix="val_")
    for old, new in zip(before, distiller.student.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_distiller_weighted_sparse_metrics():
    x, y = tiny_data(40, seed=4)
    weights = np.random.default_rng(4).uniform(0.1, 1.0, 40).astype(
        "float32")
    distiller = keras_mixkd.Distiller(student=tiny_model("student", seed=1),
                                      teacher=tiny_model("teacher", seed=7),
                                      mixer=None)
    distiller.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.0),
        weighted_metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="w_top1"),
            keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="w_top3")])
    top1, top3 = _expected(distiller.student.predict(x, verbose=0), y,
                           weights)
    results = distiller.evaluate(x, y, sample_weight=weights, batch_size=5,
                                 verbose=0, return_dict=True)
    np.testing.assert_allclose(results["w_top1"], top1, rtol=1e-6)
    np.testing.assert_allclose(results["w_top3"], top3, rtol=1e-6)
