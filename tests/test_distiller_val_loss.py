"""The Distiller's evaluation loss is the loss of what the student is trained
to output; the raw-logit cross-entropy is logged beside it as ``raw_ce``."""

import keras
import numpy as np

import keras_mixkd
from tests.helpers import CLASSES
from tests.helpers import tiny_data
from tests.helpers import tiny_model


def _cross_entropy(labels, logits):
    z = logits - logits.max(1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels].mean()


def _evaluated(distillation_loss, **kwargs):
    x, y = tiny_data(48)
    d = keras_mixkd.Distiller(student=tiny_model("student", seed=1),
                              teacher=tiny_model("teacher", seed=7),
                              distillation_loss=distillation_loss, **kwargs)
    d.compile(optimizer="sgd", metrics=["accuracy"])
    history = d.fit(x, y, batch_size=16, epochs=1, verbose=0,
                    validation_data=(x, y)).history
    logits = d.student.predict(x, verbose=0).astype("float64")
    return history, d.evaluate(x, y, verbose=0, return_dict=True), logits, y


def test_mixstd_val_loss_is_the_std_scaled_cross_entropy():
    history, results, logits, y = _evaluated("mixstd")
    assert {"val_loss", "val_raw_ce"} <= set(history)
    assert "raw_ce" not in history  # training logs keep their own terms
    scaled = logits / logits.std(axis=1, ddof=1, keepdims=True)
    np.testing.assert_allclose(results["loss"], _cross_entropy(y, scaled),
                               rtol=1e-5)
    np.testing.assert_allclose(results["raw_ce"], _cross_entropy(y, logits),
                               rtol=1e-5)
    assert abs(results["loss"] - results["raw_ce"]) > 1e-3


def test_losses_trained_on_the_plain_softmax_log_the_same_two_numbers():
    _, results, logits, y = _evaluated("kd", temperature=4.0)
    np.testing.assert_allclose(results["loss"], _cross_entropy(y, logits),
                               rtol=1e-5)
    np.testing.assert_allclose(results["loss"], results["raw_ce"], rtol=1e-6)


def test_callbacks_on_val_loss_see_the_trained_loss():
    x, y = tiny_data(48)
    d = keras_mixkd.Distiller(student=tiny_model("student", seed=1),
                              teacher=tiny_model("teacher", seed=7))
    d.compile(optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"])
    seen = []
    watch = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(logs["val_loss"]))
    d.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x, y),
          callbacks=[watch, keras.callbacks.EarlyStopping("val_loss")])
    logits = d.student.predict(x, verbose=0).astype("float64")
    scaled = logits / logits.std(axis=1, ddof=1, keepdims=True)
    np.testing.assert_allclose(seen[-1], _cross_entropy(y, scaled),
                               rtol=1e-5)
    assert CLASSES == logits.shape[1]
