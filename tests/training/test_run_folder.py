"""Run folders that never lose work (keras_mixkd.training.run_folder).

A failed start leaves nothing behind, a never-started run is taken over,
paths are compared resolved, ``overwrite`` removes the run's own files only,
``metrics.csv`` drops a row cut by a kill, a backup of an earlier version
resumes, and TensorBoard never receives a step twice.
"""

import dataclasses
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixkd.training import Backup
from keras_mixkd.training import MetricsLog
from keras_mixkd.training import RunConfig
from keras_mixkd.training import RunFolder
from keras_mixkd.training import RunFiles
from keras_mixkd.training import run_folder
from keras_mixkd.training.config import resolved_path
from tests.helpers import tiny_data
from tests.helpers import tiny_model

CONFIG = RunConfig(dataset="digits", teacher="resnet8", student="resnet8",
                   epochs=2)


def _fit(path, epochs=2, callbacks=(), **kwargs):
    keras.utils.set_random_seed(0)
    model = tiny_model("student")
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = tiny_data(32)
    run = RunFolder(path, {"epochs": epochs}, **kwargs)
    history = model.fit(x, y, validation_data=(x, y), epochs=epochs,
                        batch_size=16, verbose=0,
                        callbacks=run.callbacks(model) + list(callbacks))
    return run, model, history


def test_nothing_is_written_before_training_starts(tmp_path):
    path = tmp_path / "run"
    run = RunFolder(path, CONFIG.record("distill"))
    assert not path.exists() and not run.finished
    run.callbacks(tiny_model("student"))
    assert json.loads((path / "config.json").read_text()) == (
        CONFIG.record("distill"))


def test_a_run_that_never_finished_an_epoch_is_taken_over(tmp_path):
    """Its config.json (e.g. --image_size=16, too small for the student)
    is replaced by the corrected command's, its leftovers removed."""
    failed = dataclasses.replace(CONFIG, image_size=16)
    RunFolder(tmp_path, failed.record("distill")).callbacks(
        tiny_model("student"))
    (tmp_path / "tensorboard").mkdir()
    (tmp_path / "tensorboard" / "events").write_text("of the failed start")
    run = RunFolder(tmp_path, CONFIG.record("distill"))
    assert not run.finished
    run.callbacks(tiny_model("student"))
    assert json.loads((tmp_path / "config.json").read_text()) == (
        CONFIG.record("distill"))
    assert not (tmp_path / "tensorboard" / "events").exists()


def test_another_configuration_with_finished_epochs_needs_overwrite(
        tmp_path):
    _fit(tmp_path, epochs=1)
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "metrics.csv").rename(tmp_path / "metrics.kept")
    with pytest.raises(ValueError, match=r"differs in: epochs.*`overwrite=True`"):
        RunFolder(tmp_path, {"epochs": 3})
    (tmp_path / "metrics.kept").rename(tmp_path / "metrics.csv")
    with pytest.raises(ValueError, match=r"differs in: epochs"):
        RunFolder(tmp_path, {"epochs": 3})
    _, _, history = _fit(tmp_path, epochs=3, overwrite=True)
    assert len(history.history["loss"]) == 3
    assert json.loads((tmp_path / "config.json").read_text()) == {
        "epochs": 3}
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_overwrite_removes_the_run_files_only(tmp_path):
    _fit(tmp_path, epochs=1)
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "epoch-00001").mkdir()
    (tmp_path / "summary.json").write_text("{}")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "metrics.csv").write_text("a user's file")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert set(RunFiles.RUN_FILES) <= set(before)
    run = RunFolder(tmp_path, {"epochs": 5}, overwrite=True)
    run.callbacks(tiny_model("student"))
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["checkpoints", "config.json", "mine"]
    assert not list((tmp_path / "checkpoints").iterdir())
    assert (tmp_path / "mine" / "metrics.csv").read_text() == "a user's file"


def test_resolved_path():
    here = os.getcwd()
    assert resolved_path("dataset", "folder:fm5") == f"folder:{here}/fm5"
    assert resolved_path("dataset", "digits") == "digits"
    assert resolved_path("teacher_weights", "a/../t.keras") == (
        f"{here}/t.keras")
    assert resolved_path("epochs", "5") == "5"
    assert resolved_path("student_weights", None) is None
    # A list of files (several teachers), item by item, list or tuple.
    assert resolved_path("extra_teacher_weights", ("a/../t.keras", "u.pth")
                         ) == [f"{here}/t.keras", f"{here}/u.pth"]
    assert resolved_path("extra_teacher_weights", ["t.keras"]) == (
        resolved_path("extra_teacher_weights", (f"{here}/t.keras",)))


def test_one_path_named_two_ways_is_the_same_run(tmp_path, monkeypatch):
    (tmp_path / "fm5").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "fm5")
    (tmp_path / "t.keras").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    first = dataclasses.replace(CONFIG, dataset="folder:fm5",
                                teacher_weights="t.keras")
    RunFolder(tmp_path / "run", first.record("distill")).callbacks(
        tiny_model("student"))
    (tmp_path / "run" / "metrics.csv").write_text("epoch,loss\n0,1.0\n")
    for dataset, weights in ((f"folder:{tmp_path}/fm5", "./t.keras"),
                             ("folder:link", f"{tmp_path}/t.keras")):
        again = dataclasses.replace(first, dataset=dataset,
                                    teacher_weights=weights)
        RunFolder(tmp_path / "run", again.record("distill"))  # no error
    other = dataclasses.replace(first, dataset="folder:link/..")
    with pytest.raises(ValueError, match=r"differs in: dataset\)"):
        RunFolder(tmp_path / "run", other.record("distill"))


def test_metrics_log_drops_a_row_cut_by_a_kill(tmp_path):
    """Rows of epochs the backup does not hold, and a row cut short, go."""
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,loss,val_loss\n0,0.5,1.0\n1,0.6,0.9\n1")
    (tmp_path / "backup" / "epoch-00002").mkdir(parents=True)
    MetricsLog(path, tmp_path / "backup").on_train_begin()
    assert path.read_text().splitlines() == [
        "epoch,loss,val_loss", "0,0.5,1.0", "1,0.6,0.9"]
    (tmp_path / "backup" / "epoch-00002").rename(
        tmp_path / "backup" / "epoch-00001")
    log = MetricsLog(path, tmp_path / "backup")
    log.on_train_begin()
    log.on_epoch_end(1, {"val_loss": 0.8, "loss": 0.7})
    log.on_train_end()
    assert path.read_text().splitlines() == [
        "epoch,loss,val_loss", "0,0.5,1.0", "1,0.7,0.8"]


def test_a_backup_of_an_earlier_version_resumes(tmp_path):
    """``backup/epoch-<N>.weights.h5`` (before BackupAndRestore) is moved
    into Keras's layout and restored: weights, optimizer, epoch."""
    model = tiny_model("student")
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                  "sparse_categorical_crossentropy")
    x, y = tiny_data(16)
    model.fit(x, y, epochs=1, verbose=0)
    (tmp_path / "backup").mkdir()
    model.save_weights(tmp_path / "backup" / "epoch-00001.weights.h5")
    restored = tiny_model("student", seed=3)
    restored.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                     "sparse_categorical_crossentropy")
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append(
            [w.numpy().copy() for w in restored.weights]))
    history = restored.fit(x, y, epochs=2, verbose=0, callbacks=[
        Backup(tmp_path / "backup"), record])
    assert len(history.history["loss"]) == 1  # epoch 1 restored
    for loaded, saved in zip(seen[0], model.weights):
        np.testing.assert_array_equal(loaded, saved.numpy())
    assert int(restored.optimizer.iterations) == 2 * int(
        model.optimizer.iterations)
    assert not (tmp_path / "backup").exists()


def _steps(log_dir):
    """(writer, tag, step) of every summary TensorBoard received."""
    found = []
    for path in sorted(log_dir.rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                found.append((path.parent.name, value.tag, event.step))
    return found


class _KilledBeforeBackup(keras.callbacks.Callback):
    """Raises at the end of epoch 2, after validation, before the backup."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("killed")


def test_tensorboard_never_receives_a_step_twice(tmp_path, monkeypatch):
    original = run_folder.RunFolder.callbacks
    with monkeypatch.context() as patch:
        patch.setattr(run_folder.RunFolder, "callbacks",
                      lambda self, *a, **k: [_KilledBeforeBackup(),
                                             *original(self, *a, **k)])
        with pytest.raises(KeyboardInterrupt):
            _fit(tmp_path, epochs=3)
    assert Backup.finished_epochs(tmp_path / "backup") == 1
    _, _, history = _fit(tmp_path, epochs=3)
    assert len(history.history["loss"]) == 2
    steps = _steps(tmp_path / "tensorboard")
    assert len(steps) == len(set(steps)), "a step was written twice"
    epochs = sorted(s for w, t, s in steps
                    if (w, t) == ("train", "epoch_loss"))
    assert epochs == [0, 1, 2]
    # A finished run is not trained again: nothing more is written.
    assert RunFolder(tmp_path, {"epochs": 3}).finished


def test_default_folders_are_one_directory_under_runs(tmp_path,
                                                      monkeypatch):
    """One rule names every default folder: no ':' or '/' in the name, a
    folder: dataset named after its folder."""
    from keras_mixkd import data
    from keras_mixkd.training.run_folder import default_folder
    from keras_mixkd.training.run_folder import run_label

    name = default_folder("compare", "resnet20", "resnet8",
                          "folder:/data/flowers")
    assert name == os.path.join("runs",
                                "compare-resnet20-resnet8-folder-flowers")
    assert default_folder("study", "folder:/data/flowers/") == os.path.join(
        "runs", "study-folder-flowers")
    for dataset in ("folder:/data/flowers", "folder:a/b:c", "tfds:mnist",
                    "folder:~/x"):
        label = os.path.basename(default_folder("study", dataset))
        assert ":" not in label and "/" not in label
        assert os.path.dirname(default_folder("study", dataset)) == "runs"
    # One folder named two ways: one dataset, one label.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flowers").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "flowers")
    assert data.resolved_name("folder:flowers") == data.resolved_name(
        f"folder:{tmp_path / 'link'}") == f"folder:{tmp_path / 'flowers'}"
    assert run_label("folder:link") == run_label("folder:flowers") == (
        "folder-flowers")
    assert data.resolved_name("cifar10") == "cifar10"
