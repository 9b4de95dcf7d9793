"""``validation_freq``: validating every N epochs, the first and the last."""

import csv
import dataclasses
import json

import keras
import pytest
import tensorflow as tf

from keras_mixkd import training
from keras_mixkd.training import RunConfig
from keras_mixkd.training import RunFolder
from keras_mixkd.training.engine import fit
from keras_mixkd.training import validation
from keras_mixkd.training.validation import validation_epochs
from tests.helpers import tiny_data
from tests.helpers import tiny_model


def test_validation_epochs_are_the_first_every_nth_and_the_last():
    assert validation_epochs(10, 4) == [1, 4, 8, 10]
    assert validation_epochs(3, 1) == [1, 2, 3]
    assert validation_epochs(60, 10) == [1, 10, 20, 30, 40, 50, 60]
    assert validation_epochs(1, 5) == [1]
    assert validation_epochs(4, 9) == [1, 4]


def test_validation_freq_is_checked_and_recorded_only_when_set():
    with pytest.raises(ValueError, match="`validation_freq` must be >= 1"):
        RunConfig(dataset="digits", validation_freq=0)
    config = RunConfig(dataset="digits", teacher="resnet8", student="resnet8")
    assert "validation_freq" not in config.record("distill")
    every = dataclasses.replace(config, validation_freq=5).record("distill")
    assert every["validation_freq"] == 5


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise KeyboardInterrupt("simulated")


class _NewMetric(keras.callbacks.Callback):
    """A log key the first part of a run did not have (a newer version's)."""

    def on_epoch_end(self, epoch, logs=None):
        logs["a_new_metric"] = 1.0


def _fit(run, model, data, interrupt=False, validation_freq=3, before=()):
    config = RunConfig(dataset="digits", epochs=5,
                       validation_freq=validation_freq, verbose="0")
    extra = [_Interrupt()] if interrupt else []
    callbacks = run.callbacks

    def with_extra(saved):
        return [*before, *callbacks(saved), *extra]

    run.callbacks = with_extra
    return fit(config, run, model, model, data, data)


def _model_and_data():
    """A compiled tiny classifier and 32 images in batches of 16."""
    x, y = tiny_data(32)
    model = tiny_model("m")
    model.compile(keras.optimizers.SGD(0.1),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model, tf.data.Dataset.from_tensor_slices((x, y)).batch(16)


def test_a_resumed_run_logs_validation_only_on_its_epochs(tmp_path):
    model, data = _model_and_data()
    with pytest.raises(KeyboardInterrupt):
        _fit(RunFolder(tmp_path, {"epochs": 5}), model, data, interrupt=True)
    summary = _fit(RunFolder(tmp_path, {"epochs": 5}), model, data)
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["0", "1", "2", "3", "4"]
    validated = [r["epoch"] for r in rows if r["val_accuracy"]]
    assert validated == ["0", "2", "4"]  # epochs 1, 3 and the last, 5
    assert all(r["loss"] not in ("", "NA") for r in rows)
    assert summary["epochs"] == 5
    assert summary["last_accuracy"] == pytest.approx(
        float(rows[4]["val_accuracy"]))
    accuracies = {int(r["epoch"]) + 1: float(r["val_accuracy"])
                  for r in rows if r["val_accuracy"]}
    best = json.loads((tmp_path / "checkpoints" / "best.json").read_text())
    assert summary["best_epoch"] == best["epoch"]
    assert best["epoch"] in accuracies
    assert summary["best_accuracy"] == pytest.approx(max(accuracies.values()))


def test_the_test_set_report_follows_the_validated_epochs():
    model, data = _model_and_data()
    report = validation.TestSetReport(data)
    report.set_model(model)
    skipped = {"loss": 1.0}
    report.on_epoch_end(1, skipped)
    assert skipped == {"loss": 1.0}
    validated = {"loss": 1.0, "val_loss": 2.0}
    report.on_epoch_end(2, validated)
    assert {"test_loss", "test_accuracy"} <= set(validated)


@pytest.mark.slow
def test_distill_with_validation_freq(tmp_path):
    base = RunConfig(dataset="digits", epochs=3, batch_size=64,
                     train_size=128, verbose="0", validation_freq=3)
    teacher, _ = training.train_teacher(dataclasses.replace(
        base, model="resnet8", output_dir=str(tmp_path / "teacher")))
    config = dataclasses.replace(base, teacher="resnet8", student="resnet8",
                                 output_dir=str(tmp_path / "student"))
    _, summary = training.distill(config, teacher=teacher)
    with open(tmp_path / "student" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [bool(r["val_accuracy"]) for r in rows] == [True, False, True]
    assert summary["last_accuracy"] == pytest.approx(
        float(rows[-1]["val_accuracy"]))
    record = json.loads((tmp_path / "student" / "config.json").read_text())
    assert record["validation_freq"] == 3


def test_a_run_resumed_with_a_new_log_key_keeps_every_epoch(tmp_path):
    # A resumed run whose logs gained a key (a newer version's metric) once
    # wrote longer rows under the old header: the summary then covered only
    # the epochs before the interruption.
    model, data = _model_and_data()
    with pytest.raises(KeyboardInterrupt):
        _fit(RunFolder(tmp_path, {"epochs": 5}), model, data, interrupt=True,
             validation_freq=1)
    summary = _fit(RunFolder(tmp_path, {"epochs": 5}), model, data,
                   validation_freq=1, before=[_NewMetric()])
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert {len(r) for r in rows} == {len(rows[0])}
    assert "a_new_metric" not in rows[0]
    assert summary["epochs"] == 5
    assert summary["last_accuracy"] == pytest.approx(float(
        rows[-1][rows[0].index("val_accuracy")]))
