"""The `keras_mixkd.training` callbacks in a `fit` under MirroredStrategy.

A `keras_mixkd.Distiller` of tiny models is fitted, with validation, under
`tf.distribute.MirroredStrategy` over the two logical CPU devices that
tests/conftest.py configures, with each callback the docs recommend for a
user's own ``fit`` (README.md, docs/run_folders.md), and their effects are
checked: statistics averaged, rows logged, files written and loadable.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixkd import Distiller
from keras_mixkd.training import Backup
from keras_mixkd.training import Checkpoints
from keras_mixkd.training import MetricsLog
from keras_mixkd.training import NaNGuard
from keras_mixkd.training import RunFolder
from keras_mixkd.training import RunTensorBoard
from keras_mixkd.training import SyncReplicaStatistics
from keras_mixkd.training.run_files import read_rows
from tests.helpers import CLASSES
from tests.helpers import tiny_data
from tests.helpers import tiny_model


def _strategy():
    cpus = tf.config.list_logical_devices("CPU")
    assert len(cpus) >= 2, "conftest configures two logical CPUs"
    # No collective ops: their instance keys clash with other strategies
    # created earlier in the same process (test_multiworker.py does so).
    return tf.distribute.MirroredStrategy(
        [c.name for c in cpus[:2]],
        cross_device_ops=tf.distribute.ReductionToOneDevice())


def _fit(callbacks, batch_norm=False, epochs=1):
    """Fits a tiny distiller under the strategy, validating each epoch.

    Args:
        callbacks: a function of the student returning the callbacks.
        batch_norm: whether the student has a BatchNormalization layer.
        epochs: the epochs to train.

    Returns:
        The student and the ``fit`` history.
    """
    keras.utils.set_random_seed(0)
    x, y = tiny_data(32)
    with _strategy().scope():
        student = tiny_model("student", seed=1, batch_norm=batch_norm)
        distiller = Distiller(student=student,
                              teacher=tiny_model("teacher", seed=7))
        distiller.compile(optimizer=keras.optimizers.SGD(0.1),
                          metrics=["accuracy"])
    history = distiller.fit(x, y, validation_data=(x, y), batch_size=16,
                            epochs=epochs, verbose=0,
                            callbacks=callbacks(student))
    return student, history.history


def _replica_copies(student, name):
    """The per-replica values of the student's variable ``name``."""
    variable = next(v for v in student.non_trainable_variables
                    if name in v.path)
    return [c.numpy() for c in variable.value.values]


def test_sync_statistics_without_batch_norm_is_a_no_op():
    # It used to fail at the first validation (an all_reduce of no
    # variables: "'NoneType' object has no attribute 'batch_reduce'").
    student, history = _fit(lambda s: [SyncReplicaStatistics(s)])
    assert not [v for v in student.non_trainable_variables
                if "float" in v.dtype]
    plain, plain_history = _fit(lambda s: [])
    assert history == plain_history
    for synced, alone in zip(student.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(synced, alone)


def test_sync_statistics_averages_batch_norm_copies():
    def copies(callbacks):
        student, history = _fit(callbacks, batch_norm=True)
        assert np.isfinite(history["val_loss"][-1])
        return [_replica_copies(student, name)
                for name in ("moving_mean", "moving_variance")]

    # Without the callback the copies drift apart (each replica updates
    # its own from its half of the batch): the check below means something.
    mean, variance = copies(lambda s: [])
    assert not np.array_equal(*mean)
    mean, variance = copies(lambda s: [SyncReplicaStatistics(s)])
    np.testing.assert_array_equal(*mean)
    np.testing.assert_array_equal(*variance)
    assert not np.array_equal(mean[0], np.zeros_like(mean[0]))


def _assert_checkpoints(directory, student, epochs):
    assert json.loads((directory / "last.json").read_text()) == {
        "epoch": epochs}
    best = json.loads((directory / "best.json").read_text())
    assert best["monitor"] == "val_accuracy" and 1 <= best["epoch"] <= epochs
    x, _ = tiny_data(8)
    last = keras.saving.load_model(directory / "last.keras", compile=False)
    np.testing.assert_allclose(last.predict(x, verbose=0),
                               student.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)
    best = keras.saving.load_model(directory / "best.keras", compile=False)
    assert best.output_shape == (None, CLASSES)


@pytest.mark.slow
def test_recommended_callbacks_under_mirrored_strategy(tmp_path):
    backups = []

    class BackupSeen(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            backups.append(sorted(
                p.name for p in (tmp_path / "backup").iterdir()))

    guard = NaNGuard()

    def callbacks(student):
        metrics = MetricsLog(tmp_path / "metrics.csv", tmp_path / "backup")
        return [guard, metrics, Backup(tmp_path / "backup"), BackupSeen(),
                Checkpoints(student, tmp_path / "checkpoints", guard=guard,
                            metrics=metrics),
                RunTensorBoard(tmp_path / "tensorboard"),
                SyncReplicaStatistics(student)]

    student, history = _fit(callbacks, batch_norm=True, epochs=2)
    assert guard.failure is None
    header, rows = read_rows(tmp_path / "metrics.csv")
    assert {"loss", "val_loss", "val_accuracy"} <= set(header)
    assert [r["epoch"] for r in rows] == ["0", "1"]
    np.testing.assert_allclose([float(r["val_loss"]) for r in rows],
                               history["val_loss"], rtol=1e-5)
    # Each epoch committed its backup (the weights and the epoch), and the
    # folder is removed once training ends.
    assert backups == [["epoch-00001"], ["epoch-00002"]]
    assert not (tmp_path / "backup").exists()
    _assert_checkpoints(tmp_path / "checkpoints", student, epochs=2)
    assert list((tmp_path / "tensorboard" / "train").iterdir())
    assert list((tmp_path / "tensorboard" / "validation").iterdir())
    mean = _replica_copies(student, "moving_mean")
    np.testing.assert_array_equal(*mean)


@pytest.mark.slow
def test_run_folder_callbacks_under_mirrored_strategy(tmp_path):
    run = RunFolder(tmp_path / "run", {"epochs": 2})
    student, history = _fit(
        lambda s: run.callbacks(s) + [SyncReplicaStatistics(s)],
        batch_norm=True, epochs=2)
    run.check_finished()
    summary = run.write_summary()
    assert summary["epochs"] == 2
    assert summary["last_accuracy"] == pytest.approx(
        history["val_accuracy"][-1])
    assert json.loads((run.path / "config.json").read_text()) == {
        "epochs": 2}
    assert [r["epoch"] for r in run.metrics()] == [0.0, 1.0]
    _assert_checkpoints(run.checkpoint_dir, student, epochs=2)
    assert run.finished
    assert not run.backup_dir.exists()
    assert list((run.path / "tensorboard" / "validation").iterdir())
