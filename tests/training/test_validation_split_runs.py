"""Runs with ``validation_split``: best chosen on held-out images, test reported."""

import csv
import json

import keras
import numpy as np
import pytest

from keras_mixkd import data
from keras_mixkd import models
from keras_mixkd import training

SETTINGS = dict(dataset="digits", image_size=8, epochs=2, batch_size=32,
                validation_split=0.2, seed=1, verbose="0")


def _rows(run):
    with open(run / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()}
                for row in csv.DictReader(f)]


def _accuracy(model, dataset):
    correct = total = 0
    for images, labels in dataset:
        predicted = np.asarray(model(images, training=False)).argmax(-1)
        correct += int(np.sum(predicted == np.asarray(labels)))
        total += len(labels)
    return correct / total


@pytest.mark.slow
def test_teacher_run_chooses_best_on_the_held_out_split(tmp_path):
    run = tmp_path / "teacher"
    _, summary = training.train_teacher(training.RunConfig(
        model="resnet8", output_dir=str(run), **SETTINGS))
    rows = _rows(run)
    assert len(rows) == 2
    for key in ("val_accuracy", "val_loss", "test_accuracy", "test_loss"):
        assert all(np.isfinite(row[key]) for row in rows), key
    record = json.loads((run / "config.json").read_text())
    assert record["validation_split"] == 0.2
    best = json.loads((run / "checkpoints" / "best.json").read_text())
    assert best["monitor"] == "val_accuracy"
    assert best["value"] == max(row["val_accuracy"] for row in rows)
    assert summary["best_accuracy"] == best["value"]
    assert summary["selected_on"] == "validation_split"
    assert summary["test_accuracy"] == rows[best["epoch"] - 1][
        "test_accuracy"]
    assert summary["last_test_accuracy"] == rows[-1]["test_accuracy"]
    # Independently: the last model's accuracy on the held-out images and
    # on the test set are the logged val_ and test_ accuracies.
    splits = data.load_splits("digits", batch_size=128, image_size=8,
                              seed=1, validation_split=0.2,
                              augment_train=False)
    last = keras.saving.load_model(run / "checkpoints" / "last.keras")
    held = sum(len(y) for _, y in splits.validation)
    tested = sum(len(y) for _, y in splits.test)
    assert abs(_accuracy(last, splits.validation)
               - rows[-1]["val_accuracy"]) <= 1.01 / held
    assert abs(_accuracy(last, splits.test)
               - rows[-1]["test_accuracy"]) <= 1.01 / tested


@pytest.mark.slow
def test_distill_run_logs_test_metrics_and_the_trained_val_loss(tmp_path):
    run = tmp_path / "mixkd"
    info = data.dataset_info("digits", image_size=8)
    keras.utils.set_random_seed(0)
    teacher = models.create("resnet8", num_classes=10,
                            input_shape=info.image_shape)
    training.distill(training.RunConfig(
        student="resnet8", output_dir=str(run), **SETTINGS), teacher=teacher)
    rows = _rows(run)
    for key in ("val_loss", "val_raw_ce", "val_accuracy", "test_loss",
                "test_raw_ce", "test_accuracy"):
        assert all(np.isfinite(row[key]) for row in rows), key
    # MIXSTD: val_loss is the CE of the std-scaled logits (what the student
    # is trained to output), val_raw_ce the CE of the raw logits: checked
    # against numpy on the last student and the held-out images.
    splits = data.load_splits("digits", batch_size=128, image_size=8,
                              seed=1, validation_split=0.2,
                              augment_train=False)
    student = keras.saving.load_model(run / "checkpoints" / "last.keras")
    logits = np.concatenate([np.asarray(student(x, training=False), "float64")
                             for x, _ in splits.validation])
    labels = np.concatenate([np.asarray(y) for _, y in splits.validation])

    def cross_entropy(z):
        z = z - z.max(1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -log_p[np.arange(len(labels)), labels].mean()

    scaled = logits / logits.std(axis=1, ddof=1, keepdims=True)
    np.testing.assert_allclose(rows[-1]["val_loss"], cross_entropy(scaled),
                               rtol=1e-4)
    np.testing.assert_allclose(rows[-1]["val_raw_ce"],
                               cross_entropy(logits), rtol=1e-4)
