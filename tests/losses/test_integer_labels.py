"""The losses in a plain ``keras.Model.compile``, on integer labels.

At batch size == number of classes, ``(batch,)`` labels broadcast against
``(batch, classes)`` logits without any error: StdCrossEntropy must one-hot
encode them, and the divergences (whose ``y_true`` is teacher logits) must
refuse them.
"""

import keras
import numpy as np
import pytest

from keras_mixkd import losses
from tests.helpers import CLASSES
from tests.helpers import tiny_data
from tests.helpers import tiny_model

BATCH = CLASSES  # the size at which labels broadcast silently


def _np_std_ce(logits, y, ddof=1, temperature=1.0):
    """Per-sample CE of ``softmax(z / (tau std(z)))``, in float64."""
    z = np.asarray(logits, "float64")
    z = (z - z.mean(1, keepdims=True)) / (
        temperature * z.std(1, ddof=ddof, keepdims=True))
    z = z - z.max(1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
    return -log_p[np.arange(len(y)), y]


def _labels(y, form):
    return {"int": y, "column": y[:, None],
            "float": y.astype("float32"),
            "float_column": y[:, None].astype("float32"),
            "one_hot": np.eye(CLASSES, dtype="float32")[y]}[form]


def _shape_pattern(shape):
    """A static batch shape as the error prints it, escaped for a regex."""
    text = str((BATCH,) + tuple(shape[1:]))
    return text.replace("(", r"\(").replace(")", r"\)")


FORMS = ["int", "column", "float", "float_column", "one_hot"]


def _compiled(loss, learning_rate=0.0):
    model = tiny_model("student", seed=1)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss=loss)
    return model


@pytest.mark.parametrize("form", FORMS)
def test_std_cross_entropy_compiled_on_any_labels(form):
    x, y = tiny_data(4 * BATCH, seed=2)
    model = _compiled(losses.StdCrossEntropy())
    expected = _np_std_ce(model.predict(x, verbose=0), y).mean()
    assert 1.0 < expected < 5.0
    result = model.evaluate(x, _labels(y, form), batch_size=BATCH,
                            verbose=0)
    np.testing.assert_allclose(result, expected, rtol=1e-5)
    # Learning rate 0: the fit's loss is the same number.
    history = model.fit(x, _labels(y, form), batch_size=BATCH, epochs=1,
                        shuffle=False, verbose=0).history
    np.testing.assert_allclose(history["loss"][0], expected, rtol=1e-5)


def test_std_cross_entropy_one_model_many_label_forms():
    # TensorFlow relaxes a retraced step to labels of unknown rank.
    x, y = tiny_data(2 * BATCH, seed=3)
    model = _compiled(losses.StdCrossEntropy(temperature=0.5, ddof=0))
    expected = _np_std_ce(model.predict(x, verbose=0), y, ddof=0,
                          temperature=0.5).mean()
    for form in FORMS:
        result = model.evaluate(x, _labels(y, form), batch_size=BATCH,
                                verbose=0)
        np.testing.assert_allclose(result, expected, rtol=1e-5,
                                   err_msg=form)


def test_std_cross_entropy_trains_the_same_on_integer_labels():
    x, y = tiny_data(4 * BATCH, seed=4)
    weights = {}
    for form in ("int", "column", "one_hot"):
        model = _compiled(losses.StdCrossEntropy(), learning_rate=0.1)
        model.fit(x, _labels(y, form), batch_size=BATCH, epochs=2,
                  shuffle=False, verbose=0)
        weights[form] = model.get_weights()
    for form in ("int", "column"):
        for got, want in zip(weights[form], weights["one_hot"]):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_std_cross_entropy_direct_call_and_function():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(BATCH, CLASSES)) * 2.0
    y = rng.integers(0, CLASSES, BATCH)
    expected = _np_std_ce(logits, y)
    loss = losses.StdCrossEntropy(reduction=None)
    for labels in (y, y[:, None], np.eye(CLASSES)[y]):
        np.testing.assert_allclose(loss(labels, logits), expected,
                                   rtol=1e-5)
        np.testing.assert_allclose(
            losses.std_cross_entropy(labels, logits.astype("float64")),
            expected.mean(), rtol=1e-10)


def test_std_cross_entropy_invalid_labels_give_nan_not_zero():
    logits = np.random.default_rng(6).normal(size=(4, CLASSES))
    values = losses.StdCrossEntropy(reduction=None)(
        np.array([0.0, CLASSES, -1.0, 1.5]), logits)
    values = keras.ops.convert_to_numpy(values)
    assert np.isfinite(values[0])
    assert np.all(np.isnan(values[1:]))


def test_std_cross_entropy_refuses_targets_of_another_width():
    logits = np.zeros((BATCH, CLASSES), "float32")
    with pytest.raises(ValueError, match=r"StdCrossEntropy got targets "
                       r"\(y_true\) of shape \(5, 6\)"):
        losses.StdCrossEntropy()(np.zeros((BATCH, CLASSES + 1)), logits)


DIVERGENCES = [
    (losses.KDDivergence(), "KDDivergence", "KDDistillationLoss"),
    (losses.StdKDDivergence(), "StdKDDivergence", "MixStdDistillationLoss"),
    (losses.LogitStandardizationDivergence(),
     "LogitStandardizationDivergence",
     "LogitStandardizationDistillationLoss"),
    (losses.DISTLoss(), "DISTLoss", "keras_mixkd.Distiller"),
]


@pytest.mark.parametrize("form", ["int", "column"])
@pytest.mark.parametrize("loss,name,fix", DIVERGENCES)
def test_divergences_refuse_labels_in_compile(loss, name, fix, form):
    x, y = tiny_data(2 * BATCH, seed=7)
    labels = _labels(y, form)
    model = _compiled(loss)
    shape = _shape_pattern(labels.shape)
    with pytest.raises(ValueError, match=(
            f"{name} compares the teacher's logits.*y_true of shape "
            f"{shape} and y_pred of shape \\(5, 5\\).*{fix}")):
        model.fit(x, labels, batch_size=BATCH, verbose=0)


@pytest.mark.parametrize("form", ["int", "column"])
def test_dkd_refuses_labels_in_compile(form):
    x, y = tiny_data(2 * BATCH, seed=8)
    labels = _labels(y, form)
    model = _compiled(losses.DKDLoss())
    shape = _shape_pattern(labels.shape)
    with pytest.raises(ValueError, match=(
            "DKDLoss needs the labels as well as the teacher's logits.*"
            f"of shape {shape}.*distillation_loss='dkd'")):
        model.fit(x, labels, batch_size=BATCH, verbose=0)


@pytest.mark.parametrize("function,name", [
    (losses.kd_divergence, "kd_divergence"),
    (losses.std_kd_divergence, "std_kd_divergence"),
    (losses.logit_standardization_divergence,
     "logit_standardization_divergence"),
    (losses.dist_loss, "dist_loss"),
])
def test_divergence_functions_refuse_labels(function, name):
    logits = np.zeros((BATCH, CLASSES), "float32")
    labels = np.arange(BATCH) % CLASSES
    for y_true in (labels, labels[:, None]):
        with pytest.raises(ValueError, match=f"{name} compares"):
            function(y_true, logits)


def test_dkd_refuses_mismatched_teacher_logits_and_labels():
    logits = np.zeros((BATCH, CLASSES), "float32")
    labels = np.arange(BATCH) % CLASSES
    with pytest.raises(ValueError, match="DKDLoss compares"):
        losses.DKDLoss()({"teacher_logits": labels, "labels": labels},
                         logits)
    with pytest.raises(ValueError, match=r"\(batch, 5\)"):
        losses.DKDLoss()({"teacher_logits": logits,
                          "labels": np.zeros((BATCH, CLASSES + 1))}, logits)
