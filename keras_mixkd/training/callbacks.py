"""Callbacks of a resumable, logged, checkpointed `fit`, for any model.

`keras_mixkd.training.RunFolder.callbacks` puts them together for a run
folder; each also works alone in a user's own ``fit``:

```python
model.fit(train_ds, validation_data=test_ds, epochs=10, callbacks=[
    NaNGuard(),
    MetricsLog("run/metrics.csv", "run/backup"),
    Backup("run/backup"),
    Checkpoints(model, "run/checkpoints"),
    SyncReplicaStatistics(model),
])
```
"""

import csv
import json
import math
import pathlib
import re
import shutil

import keras
import tensorflow as tf

from keras_mixkd import _keras_compat
from keras_mixkd.training.atomic import atomic_save
from keras_mixkd.training.atomic import atomic_write_text
from keras_mixkd.training.atomic import replace_from_temporary

_BACKUP = re.compile(r"^epoch-(\d+)\.weights\.h5$")


def _finite(value):
    return value is not None and math.isfinite(float(value))


class NaNGuard(keras.callbacks.TerminateOnNaN):
    """`keras.callbacks.TerminateOnNaN` that also says where it stopped.

    Stops training gracefully (``stop_training``) at the first batch whose
    loss is NaN or infinite, and keeps the reason in ``failure`` (None while
    training is sound), so that `Checkpoints` saves nothing afterwards and
    the run can tell its user which epoch and batch diverged.
    """

    def __init__(self):
        super().__init__()
        self.failure = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or _finite(loss):
            return
        super().on_batch_end(batch, logs)
        self.failure = (f"the training loss became {float(loss)} at "
                        f"epoch {self._epoch + 1}, batch {batch + 1}")
        self.model.stop_training = True


class Backup(keras.callbacks.Callback):
    """Backs up the training state after each epoch, atomically; restores it.

    Like `keras.callbacks.BackupAndRestore`, but each epoch's state is one
    file, ``epoch-<N>.weights.h5`` (the fitted model's weights, optimizer
    state included, after N epochs), written to a temporary name and
    renamed; older backups are removed afterwards. Keras's callback rewrites
    its weights file and then its epoch file in place, so a kill during or
    between the two resumes from a broken file or from weights of another
    epoch.

    Args:
        directory: the backup folder (removed when training ends).
    """

    def __init__(self, directory):
        super().__init__()
        self.directory = pathlib.Path(directory)

    @staticmethod
    def finished_epochs(directory):
        """The number of epochs the newest backup in ``directory`` holds."""
        directory = pathlib.Path(directory)
        if not directory.is_dir():
            return 0
        found = [_BACKUP.match(p.name) for p in directory.iterdir()]
        return max((int(m.group(1)) for m in found if m), default=0)

    def _path(self, epochs):
        return self.directory / f"epoch-{epochs:05d}.weights.h5"

    def on_train_begin(self, logs=None):
        epochs = self.finished_epochs(self.directory)
        if not epochs:
            return
        model = self.model
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(self._path(epochs))
        # How keras.callbacks.BackupAndRestore makes `fit` skip the epochs.
        _keras_compat.set_initial_epoch(model, epochs)

    def on_epoch_end(self, epoch, logs=None):
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(epoch + 1)
        # save_weights wants the .weights.h5 suffix: .tmp- is a prefix.
        replace_from_temporary(path, self.model.save_weights)
        for old in self.directory.iterdir():
            match = _BACKUP.match(old.name)
            if match and int(match.group(1)) < epoch + 1:
                old.unlink(missing_ok=True)

    def on_train_end(self, logs=None):
        shutil.rmtree(self.directory, ignore_errors=True)


def _csv_value(value):
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return str(value)


class MetricsLog(keras.callbacks.Callback):
    """``metrics.csv``: one row per finished epoch, each epoch exactly once.

    The file is rewritten through a temporary file at each epoch end, so a
    kill never leaves half a row. On resumption it keeps only the rows of
    the epochs the backup holds (`Backup.finished_epochs`), since the others
    run again. Place it before the `Backup` callback, so that an epoch's row
    is written before its backup.

    Args:
        path: the CSV file (columns ``epoch`` and the sorted log keys, like
            `keras.callbacks.CSVLogger`; ``epoch`` counts from 0).
        backup_dir: the folder of the run's `Backup`.
    """

    def __init__(self, path, backup_dir):
        super().__init__()
        self.path = pathlib.Path(path)
        self.backup_dir = pathlib.Path(backup_dir)

    def rows(self):
        """The header and the rows (dicts of strings) of the file."""
        if not self.path.exists():
            return None, []
        with open(self.path, newline="") as f:
            reader = csv.DictReader(f)
            return reader.fieldnames, list(reader)

    def _write(self, header, rows):
        def write(tmp):
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, header, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)

        replace_from_temporary(self.path, write)

    def on_train_begin(self, logs=None):
        header, rows = self.rows()
        finished = Backup.finished_epochs(self.backup_dir)
        kept = [r for r in rows if int(float(r["epoch"])) < finished]
        if header and len(kept) != len(rows):
            self._write(header, kept)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        header, rows = self.rows()
        header = header or ["epoch", *sorted(logs)]
        rows = [r for r in rows if int(float(r["epoch"])) != epoch]
        rows.append({"epoch": str(epoch),
                     **{k: _csv_value(v) for k, v in logs.items()}})
        self._write(header, rows)


class Checkpoints(keras.callbacks.Callback):
    """Saves the last and the best model of each epoch, atomically.

    The ``.keras`` files hold the model without its compile configuration
    or optimizer state (`keras_mixkd.training.portable_copy`), so they load
    with plain `keras.saving.load_model`, without keras_mixkd; resuming a
    run restores the optimizer from the `Backup` instead.

    Args:
        model: the model to save (the student for a distillation run).
        directory: where ``last.keras``, ``best.keras``, ``best.json`` and
            ``last.json`` (the epoch of ``last.keras``) go.
        monitor: the log key to maximise for ``best``.
        guard: a `NaNGuard`; nothing is saved once it reports a failure.
        metrics: the run's `MetricsLog`, with ``backup_dir``: on resumption,
            the checkpoints of the backed-up epoch are written if a kill
            missed them (placed after the `Backup`, which restores the model
            first).
    """

    def __init__(self, model, directory, monitor="val_accuracy", guard=None,
                 metrics=None):
        super().__init__()
        self.saved_model = model
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.monitor = monitor
        self.guard = guard
        self.metrics = metrics
        best = self.directory / "best.json"
        self.best = json.loads(best.read_text()) if best.exists() else None

    def _last_epoch(self):
        last = self.directory / "last.json"
        return json.loads(last.read_text())["epoch"] if last.exists() else 0

    def on_train_begin(self, logs=None):
        if self.metrics is None:
            return
        finished = Backup.finished_epochs(self.metrics.backup_dir)
        if not finished:  # a fresh start: an earlier run's best is stale
            self.best = None
        elif finished > self._last_epoch():
            _, rows = self.metrics.rows()
            row = [r for r in rows if int(float(r["epoch"])) == finished - 1]
            self.on_epoch_end(finished - 1, {
                k: float(v) for k, v in (row[0] if row else {}).items()
                if v not in ("", None) and k != "epoch"})

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.guard is not None and self.guard.failure:
            return
        if not _finite(logs.get("loss")):
            return
        atomic_save(self.saved_model, self.directory / "last.keras")
        atomic_write_text(self.directory / "last.json",
                          json.dumps({"epoch": epoch + 1}))
        value = logs.get(self.monitor)
        if _finite(value) and (self.best is None
                               or float(value) > self.best["value"]):
            atomic_save(self.saved_model, self.directory / "best.keras")
            self.best = {"epoch": epoch + 1, "monitor": self.monitor,
                         "value": float(value)}
            atomic_write_text(self.directory / "best.json",
                              json.dumps(self.best, indent=2))


class SyncReplicaStatistics(keras.callbacks.Callback):
    """Averages a model's non-trainable statistics over all replicas.

    Under a `tf.distribute` strategy, each replica (each worker) updates its
    own copy of the BatchNormalization moving means and variances with its
    own batches (as PyTorch DDP does without SyncBatchNorm), so the copies
    drift apart: a worker's saved model would depend on the worker. Before
    each validation and at each epoch end, this callback sets every copy to
    the mean over replicas. It runs a collective, so every worker must run
    it at the same points (it is in every worker's callbacks). It does
    nothing with a single replica.

    Args:
        model: the model whose statistics to average (the student).
    """

    def __init__(self, model):
        super().__init__()
        self.saved_model = model
        self._average = None

    def _sync(self):
        strategy = self.model.distribute_strategy
        if strategy.num_replicas_in_sync < 2:
            return
        if self._average is None:
            variables = [v for v in self.saved_model.non_trainable_variables
                         if "float" in v.dtype]

            def replica_means():
                return tf.distribute.get_replica_context().all_reduce(
                    "mean", [tf.identity(v.value) for v in variables])

            @tf.function
            def average():
                means = strategy.run(replica_means)
                for variable, mean in zip(variables, means):
                    copies = getattr(variable.value, "values",
                                     (variable.value,))
                    for copy, value in zip(
                            copies, strategy.experimental_local_results(mean)):
                        copy.assign(value)

            self._average = average
        self._average()

    def on_test_begin(self, logs=None):
        self._sync()

    def on_epoch_end(self, epoch, logs=None):
        self._sync()
