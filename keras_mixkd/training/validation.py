"""`TestSetReport` and the epochs `fit` validates: what validation reports.

With a held-out validation split (``--validation_split``), `fit` validates
on the held-out images, so ``val_*`` metrics choose the best checkpoint,
and this callback evaluates the test set at each epoch end and adds its
metrics to the epoch's logs as ``test_<name>`` (``test_accuracy``,
``test_loss``...): reported in ``metrics.csv`` and TensorBoard, never used
to choose anything; `summary_of_test_set` reports them in ``summary.json``.
"""

import keras


class TestSetReport(keras.callbacks.Callback):
    """Adds the test set's metrics to each validated epoch's logs, as
    ``test_*``.

    Place it before the callbacks that write the logs (a CSV log, the
    checkpoints, TensorBoard): Keras hands every callback the same logs.

    Args:
        test_data: the test pipeline, ``(images, labels)`` batches as the
            fitted model's ``evaluate`` takes them.
        prefix: the prefix of the logged names.

    Example:

    ```python
    model.fit(train_ds, validation_data=held_out_ds, epochs=10,
              callbacks=[TestSetReport(test_ds), keras.callbacks.CSVLogger(
                  "metrics.csv")])
    ```
    """

    def __init__(self, test_data, prefix="test_"):
        super().__init__()
        self.test_data = test_data
        self.prefix = prefix

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or not any(k.startswith("val_") for k in logs):
            return  # fit did not validate this epoch (``validation_freq``)
        results = self.model.evaluate(self.test_data, verbose=0,
                                      return_dict=True)
        logs.update({self.prefix + name: float(value)
                     for name, value in results.items()})


def summary_of_test_set(rows):
    """The test accuracies of a run that chose ``best`` on held-out images.

    Args:
        rows: the run's epochs, dicts with ``val_accuracy`` and
            ``test_accuracy`` (`keras_mixkd.training.RunFiles.metrics`).

    Returns:
        ``{"selected_on": "validation_split", "test_accuracy": ...,
        "last_test_accuracy": ...}``: the test accuracy of the best epoch
        (highest ``val_accuracy``, the first of ties, as the checkpoint
        keeps it) and of the last; ``{}`` for a run without ``test_*``
        metrics (its test set validated).

    Example:

    >>> summary_of_test_set([{"val_accuracy": 0.9, "test_accuracy": 0.88}])
    """
    rows = [row for row in rows if "val_accuracy" in row]
    if not any("test_accuracy" in row for row in rows):
        return {}  # the test set validated: nothing else to report
    best = max(rows, key=lambda row: row["val_accuracy"])
    return {"selected_on": "validation_split",
            "test_accuracy": best.get("test_accuracy"),
            "last_test_accuracy": rows[-1].get("test_accuracy")}


def held_out_validation(test_data, validation_data):
    """What validates a ``fit``, and the callbacks that report the test set.

    Args:
        test_data: the clean test pipeline.
        validation_data: held-out images (`keras_mixkd.data.load_splits`'s
            ``validation``), or None.

    Returns:
        ``(validation_data, callbacks)``: the held-out images and
        ``[TestSetReport(test_data)]``, or without held-out images the test
        set and ``[]``.
    """
    if validation_data is None:
        return test_data, []
    return validation_data, [TestSetReport(test_data)]


def validation_epochs(epochs, every):
    """The epochs ``fit`` validates: the first, every ``every``-th and the
    last (Keras's ``validation_freq``, as a list of 1-based epochs).

    Validating the first epoch makes its logs, and so the columns of
    ``metrics.csv``, hold every metric; validating the last makes the
    run's last accuracy that of its final weights.

    Args:
        epochs: the run's epochs.
        every: validate every this many epochs (1: each).

    Returns:
        A sorted list of epoch numbers (1-based).

    Example:

    >>> validation_epochs(10, 4)
    [1, 4, 8, 10]
    """
    return sorted({1, epochs, *range(every, epochs + 1, every)})
