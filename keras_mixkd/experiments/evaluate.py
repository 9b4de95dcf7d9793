"""One evaluator for every experiment: accuracy, smoothness and calibration
of a trained network on clean data.

A comparison and a study evaluate each finished run the same way:
`evaluate_logits` measures test logits on the probabilities the network was
trained to produce (`keras_mixkd.analysis.trained_probabilities`), and
`Evaluator` loads the clean data once per data seed and measures models,
optionally with their clean training-set accuracy (the train/test gap).

Example:

```python
evaluate = Evaluator(config)
figures = evaluate(student, loss="mixstd", seed=0, train_accuracy=True)
figures["accuracy"], figures["train_accuracy"], figures["ece"]
```
"""


import numpy as np
import tensorflow as tf

from keras_mixkd import analysis
from keras_mixkd import data
from keras_mixkd import training
from keras_mixkd.training.run_files import RunFiles

#: Measures of `evaluate_logits`, stored in each study run's
#: ``analysis.json``.
ANALYSIS_KEYS = ("accuracy", "logit_std_mean", "entropy_mean",
                 "confidence_mean", "ece", "nll", "brier")

#: Batch size of the evaluation pipelines (inference only).
EVALUATION_BATCH = 256


def evaluate_logits(logits, labels, loss=None):
    """Accuracy, smoothness and calibration of test logits.

    Entropy, confidence and the calibration measures are computed on the
    probabilities the model was trained to produce
    (`keras_mixkd.analysis.trained_probabilities`): softmax(logits /
    std(logits)) for a MIXSTD student (``loss="mixstd"``, the study's
    T=std cells), softmax(logits) otherwise; the raw softmax's ECE and NLL
    are kept beside them (``ece_raw``, ``nll_raw``).

    Args:
        logits: ``(samples, classes)`` logits.
        labels: ``(samples,)`` integer labels.
        loss: the loss the model was trained with (None: cross-entropy).

    Returns:
        A dict with the `ANALYSIS_KEYS`: ``accuracy``, the means of the logit
        std, entropy and confidence (`analysis.smoothness_summary`), ``ece``,
        ``nll`` and ``brier``; and ``ece_raw``, ``nll_raw``.

    Example:

    >>> evaluate_logits(*analysis.collect_logits(model, test_ds,
    ...                                     return_labels=True), "mixstd")
    """
    logits = np.asarray(logits, dtype="float64")
    labels = np.asarray(labels).reshape(-1)
    probs = analysis.trained_probabilities(logits, loss)
    raw = analysis.softmax(logits)
    smooth = analysis.smoothness_summary(logits, loss=loss)
    return {"accuracy": float(np.mean(probs.argmax(axis=1) == labels)),
            **{k: smooth[k] for k in ANALYSIS_KEYS[1:4]},
            "ece": analysis.expected_calibration_error(labels, probs),
            "nll": analysis.negative_log_likelihood(labels, probs),
            "brier": analysis.brier_score(labels, probs),
            "ece_raw": analysis.expected_calibration_error(labels, raw),
            "nll_raw": analysis.negative_log_likelihood(labels, raw)}



def run_training_loss(path):
    """The ``loss`` argument of `evaluate_logits` for the run folder
    ``path``: what its ``config.json`` says the run trained its network to
    output (`keras_mixkd.training.trained_loss`, then
    `keras_mixkd.analysis.training_loss`: a MIXSTD student at base
    temperature tau is measured on ``softmax(z / (tau * std(z)))``).

    Args:
        path: a finished run folder.

    Returns:
        A loss name, or the student loss object of a MIXSTD run at tau != 1.
    """
    record = RunFiles(path).record()
    if record is None:
        raise ValueError(f"{path} is not a run folder: it has no "
                         f"{RunFiles.CONFIG}.")
    return analysis.training_loss(*training.trained_loss(record))


class Evaluator:
    """Measures models trained under one base configuration on its clean
    data (no augmentation), loaded once per data seed.

    Args:
        config: the base `keras_mixkd.training.RunConfig` (dataset,
            data_dir, image_size, train_size; the seed only matters for
            digits, whose train/test split it draws).

    Example:

    >>> Evaluator(config)(model, loss="kd", seed=0)["ece"]
    """

    def __init__(self, config):
        self.config = config
        self._data = {}

    def splits(self, seed=None):
        """``(train_ds, test_ds)``: clean pipelines of the data seed."""
        seed = self.config.seed if seed is None else seed
        if seed not in self._data:
            train_ds, test_ds, _ = data.load(
                self.config.dataset, batch_size=EVALUATION_BATCH,
                data_dir=self.config.data_dir, seed=seed,
                image_size=self.config.image_size,
                train_size=self.config.train_size, augment_train=False,
                channels=self.config.channels)
            self._data[seed] = train_ds, test_ds
        return self._data[seed]

    def logits(self, model, seed=None, split="test"):
        """``(logits, labels)`` of a split (``"test"`` or ``"train"``)."""
        train_ds, test_ds = self.splits(seed)
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel("ERROR")  # predict_on_batch retracing warnings
        try:
            return analysis.collect_logits(
                model, test_ds if split == "test" else train_ds,
                return_labels=True)
        finally:
            logger.setLevel(level)

    def __call__(self, model, loss=None, seed=None, train_accuracy=False):
        """The `evaluate_logits` figures of ``model`` on the test split.

        Args:
            model: the network (raw logits out).
            loss: the loss it was trained with (None: cross-entropy).
            seed: the data seed (default: the configuration's).
            train_accuracy: also measure the clean training-set accuracy.

        Returns:
            The dict of `evaluate_logits`, with ``test_logits`` (float32
            array) and, if asked, ``train_accuracy``.
        """
        logits, labels = self.logits(model, seed, "test")
        figures = evaluate_logits(logits, labels, loss)
        figures["test_logits"] = np.asarray(logits, "float32")
        if train_accuracy:
            train_logits, train_labels = self.logits(model, seed, "train")
            figures["train_accuracy"] = float(np.mean(
                train_logits.argmax(1) == train_labels))
        return figures
