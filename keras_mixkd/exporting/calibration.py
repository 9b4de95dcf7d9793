"""Calibrating an export's probabilities: one temperature, fitted by NLL.

`fit_calibration` runs a model on held-out labelled images (never trained
on, never the test set), takes the logits whose softmax it was trained to
produce (`keras_mixkd.analysis.trained_logits`: for MIXSTD
``z / (tau * std(z))``, else ``z``) and fits one temperature T by negative
log-likelihood (`keras_mixkd.analysis.fit_temperature`, Guo et al., 2017).
The export then serves ``softmax(trained_logits / T)``.

Example:

>>> fitted = fit_calibration(student, held_out_ds, loss="mixstd")
>>> keras_mixkd.export(student, "out/student.tflite", format="litert",
...                    info=info, outputs="probabilities", loss="mixstd",
...                    calibration_temperature=fitted["temperature"])
"""

import numpy as np

from keras_mixkd import analysis
from keras_mixkd.exporting.model_file import TRAINING_LOSSES


def fit_calibration(model, data, loss, temperature=None):
    """The temperature that calibrates a model's trained probabilities.

    Args:
        model: the trained Keras model.
        data: held-out ``(images, labels)`` batches, normalised as for
            training (e.g. the ``validation`` pipeline of
            `keras_mixkd.data.load_splits`); never the test set.
        loss: the loss the model was trained with, one of
            `keras_mixkd.exporting.TRAINING_LOSSES`.
        temperature: a ``"mixstd"`` student's base temperature tau (None:
            1): its trained logits are ``z / (tau * std(z))``.

    Returns:
        A dict: ``temperature`` (T), ``images`` (how many it was fitted
        on), ``nll_before`` and ``nll_after`` (their mean NLL at T = 1 and
        at T), ``accuracy`` (of the model on them).

    Example:

    >>> fit_calibration(student, val_ds, "mixstd")["temperature"]
    """
    if loss not in TRAINING_LOSSES:
        raise ValueError(f"`loss` must be one of {list(TRAINING_LOSSES)}, "
                         f"got {loss!r}.")
    logits, labels = analysis.collect_logits(model, data,
                                             return_labels=True)
    if labels is None or not len(labels):
        raise ValueError("The calibration data holds no labelled images.")
    logits = np.asarray(logits, "float64")
    labels = np.asarray(labels)
    if labels.ndim == 2:  # one-hot
        labels = labels.argmax(-1)
    labels = labels.astype("int64").reshape(-1)
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(
            f"The calibration labels span {labels.min()}..{labels.max()}, "
            f"but the model has {logits.shape[1]} classes.")
    trained = analysis.trained_logits(
        logits, analysis.training_loss(loss, temperature))
    temperature = analysis.fit_temperature(trained, labels)
    nll = analysis.negative_log_likelihood
    return {"temperature": float(temperature), "images": int(len(labels)),
            "nll_before": float(nll(labels, analysis.softmax(trained))),
            "nll_after": float(nll(labels, analysis.apply_temperature(
                trained, temperature))),
            "accuracy": float(np.mean(logits.argmax(-1) == labels))}
