"""Callbacks of a resumable, logged, checkpointed `fit`, for any model.

`keras_mixkd.training.RunFolder.callbacks` puts them together for a run
folder; each also works alone in a user's own ``fit``:

```python
backup = Backup("run/backup", interval_s=30)  # 0: after every epoch
model.fit(train_ds, validation_data=test_ds, epochs=10, callbacks=[
    NaNGuard(),
    MetricsLog("run/metrics.csv", "run/backup"),
    backup,
    Checkpoints(model, "run/checkpoints", backup=backup),
    RunTensorBoard("run/tensorboard", backup=backup),
    SyncReplicaStatistics(model),
])
```

(`Backup` lives in `keras_mixkd.training.backup`.)
"""

import csv
import math
import pathlib

import keras
import tensorflow as tf

from keras_mixkd._keras_compat import DeferredRateTensorBoard
from keras_mixkd.training.atomic import atomic_save
from keras_mixkd.training.atomic import replace_from_temporary
from keras_mixkd.training.backup import Backup
from keras_mixkd.training.json_file import read_json
from keras_mixkd.training.json_file import write_json
from keras_mixkd.training.run_files import RunFiles
from keras_mixkd.training.run_files import read_rows


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


class MetricsLog(keras.callbacks.CSVLogger):
    """``metrics.csv``: one row per finished epoch, each epoch exactly once.

    `keras.callbacks.CSVLogger` in append mode (columns ``epoch``, counting
    from 0, and the sorted log keys of the first epoch, or on resume the
    file's own), which writes and flushes each epoch's row; a metric an
    epoch lacks (``val_*`` between validations) is an empty cell. What it
    cannot know is which rows a resumed run must drop: those of the epochs
    the backup does not hold (`Backup.finished_epochs`), which run again,
    and a row cut short by a kill (`read_rows` leaves it out). So on train
    begin the file is rewritten with the backed-up epochs' complete rows
    only, through a temporary file and a rename (or removed when none is
    left). Place it before the `Backup` callback, so that an epoch's row
    is written before its backup commits the epoch.

    Args:
        path: the CSV file.
        backup_dir: the folder of the run's `Backup`.
    """

    def __init__(self, path, backup_dir):
        super().__init__(str(path), append=True)
        self.path = pathlib.Path(path)
        self.backup_dir = pathlib.Path(backup_dir)

    def rows(self):
        """The header and the complete rows (dicts of strings) of the file."""
        return read_rows(self.path)

    def on_train_begin(self, logs=None):
        header, rows = self.rows()
        finished = Backup.finished_epochs(self.backup_dir)
        kept = {int(r["epoch"]): r for r in rows if int(r["epoch"]) < finished}
        if not kept:
            self.path.unlink(missing_ok=True)
        else:
            def write(tmp):
                with open(tmp, "w", newline="") as f:
                    writer = csv.DictWriter(f, header)
                    writer.writeheader()
                    writer.writerows(kept[e] for e in sorted(kept))

            replace_from_temporary(self.path, write)
        super().on_train_begin(logs)
        if kept:  # a resumed run appends under the file's own columns
            self.keys = [k for k in header if k != "epoch"]

    def on_epoch_end(self, epoch, logs=None):
        # An epoch without validation (``validation_freq``) leaves its
        # ``val_*`` cells empty (the built-in would write "NA").
        logs = dict(logs or {})
        for key in self.keys or ():
            logs.setdefault(key, "")
        super().on_epoch_end(epoch, logs)


class Checkpoints(keras.callbacks.Callback):
    """Saves the last and the best model at epoch ends, atomically.

    Hand-written rather than `keras.callbacks.ModelCheckpoint`, which cannot
    do four things a run folder needs: it saves the model being fitted (for
    a distillation run, the `Distiller`, teacher included), not another one
    (the student); it writes the file in place, so a kill during a save
    leaves a broken ``best.keras``; its files hold the compile
    configuration (a custom optimizer that plain Keras cannot load); and it
    forgets its best value when ``fit`` starts again. Here each file is
    written to a temporary name and renamed (`atomic_save`), and holds the
    model without compile configuration or optimizer state
    (`keras_mixkd.training.portable_copy`), so it loads with plain
    `keras.saving.load_model`, without keras_mixkd; ``best.json`` keeps the
    best value across sessions; resuming a run restores the optimizer from
    the `Backup` instead.

    Args:
        model: the model to save (the student for a distillation run).
        directory: where ``last.keras``, ``best.keras``, ``best.json`` and
            ``last.json`` (the epoch of ``last.keras``) go (their names are
            `RunFiles`'s).
        monitor: the log key to maximise for ``best``.
        guard: a `NaNGuard`; nothing is saved once it reports a failure.
        metrics: the run's `MetricsLog`, with ``backup_dir``: on resumption,
            the checkpoints of the backed-up epoch are written if a kill
            missed them (placed after the `Backup`, which restores the model
            first).
        backup: the run's `Backup` (placed before this callback), or None:
            the checkpoints are then written at the epochs it commits only,
            so that they never run ahead of the backup, and an epoch that
            improves ``best`` makes it commit (`improves`).
    """

    def __init__(self, model, directory, monitor="val_accuracy", guard=None,
                 metrics=None, backup=None):
        super().__init__()
        self.saved_model = model
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.monitor = monitor
        self.guard = guard
        self.metrics = metrics
        self.backup = backup
        if backup is not None:
            backup.commit_when(self.improves)
        self.best = read_json(self.directory / RunFiles.BEST_RECORD)

    def _last_epoch(self):
        last = read_json(self.directory / RunFiles.LAST_RECORD) or {}
        return int(last.get("epoch", 0))

    def on_train_begin(self, logs=None):
        if self.metrics is None:
            return
        finished = Backup.finished_epochs(self.metrics.backup_dir)
        if not finished:  # a fresh start: an earlier run's best is stale
            self.best = None
        elif finished > self._last_epoch():
            _, rows = self.metrics.rows()
            row = [r for r in rows if int(r["epoch"]) == finished - 1]
            self._save(finished - 1, {
                k: float(v) for k, v in (row[0] if row else {}).items()
                if v not in ("", None) and k != "epoch"})

    def _sound(self, logs):
        """Whether an epoch with these logs may be saved at all."""
        failed = self.guard is not None and self.guard.failure
        return not failed and _finite(logs.get("loss"))

    def improves(self, epoch, logs=None):
        """Whether ``epoch``, with these logs, would be the new ``best``."""
        logs = logs or {}
        value = logs.get(self.monitor)
        return self._sound(logs) and _finite(value) and (
            self.best is None or float(value) > self.best["value"])

    def on_epoch_end(self, epoch, logs=None):
        if self.backup is None or self.backup.committed == epoch + 1:
            self._save(epoch, logs)

    def _save(self, epoch, logs):
        """Writes ``last`` (and ``best`` when ``epoch`` improves it)."""
        logs = logs or {}
        if not self._sound(logs):
            return
        improves = self.improves(epoch, logs)
        atomic_save(self.saved_model, self.directory / RunFiles.LAST_MODEL)
        write_json(self.directory / RunFiles.LAST_RECORD,
                   {"epoch": epoch + 1})
        if improves:
            atomic_save(self.saved_model,
                        self.directory / RunFiles.BEST_MODEL)
            self.best = {"epoch": epoch + 1, "monitor": self.monitor,
                         "value": float(logs[self.monitor])}
            write_json(self.directory / RunFiles.BEST_RECORD, self.best)


class RunTensorBoard(DeferredRateTensorBoard):
    """`keras.callbacks.TensorBoard` that never writes a step twice.

    A run folder's TensorBoard logs outlive interruptions, and TensorBoard
    draws a step written twice as a zigzag. So, against the built-in:

    - the epoch summaries (``epoch_<metric>`` at step = epoch) are written
      by the built-in's ``on_epoch_end`` once the `Backup` has committed
      the epoch (an epoch written is an epoch committed: it never runs
      again). Placed after the `Backup`: with ``backup``, an epoch's logs
      (and its learning rate) wait in memory until a backup commits it;
      without, each epoch is written when it ends. A kill loses the points
      of the epochs not written yet (they run again), never doubles one;
    - no ``evaluation_<metric>_vs_iterations``: the built-in writes them at
      the end of each validation, before the epoch commits, so an epoch
      interrupted there would write them again (the same values are the
      validation writer's ``epoch_<metric>``);
    - a resumed run (``resumed=True``) writes no model summary, which the
      built-in writes at step 0 when its model is set.

    Args:
        log_dir: the log folder.
        resumed: whether an earlier session of the run already wrote there.
        backup: the run's `Backup`, or None.
    """

    def __init__(self, log_dir, resumed=False, backup=None):
        super().__init__(str(log_dir), write_graph=not resumed)
        self.backup = backup
        self._waiting = []

    def on_test_end(self, logs=None):
        super().on_test_end({})

    def on_epoch_end(self, epoch, logs=None):
        logs = self.collect_learning_rate(dict(logs or {}))
        self._waiting.append((epoch, logs))
        committed = epoch + 1 if self.backup is None else (
            self.backup.committed)
        while self._waiting and self._waiting[0][0] < committed:
            super().on_epoch_end(*self._waiting.pop(0))


class SyncReplicaStatistics(keras.callbacks.Callback):
    """Averages a model's non-trainable statistics over all replicas.

    Under a `tf.distribute` strategy, each replica (each worker) updates its
    own copy of the BatchNormalization moving means and variances with its
    own batches (as PyTorch DDP does without SyncBatchNorm), so the copies
    drift apart: a worker's saved model would depend on the worker. Before
    each validation and at each epoch end, this callback sets every copy to
    the mean over replicas. It runs a collective, so every worker must run
    it at the same points (it is in every worker's callbacks). It does
    nothing with a single replica, nor for a model without float
    non-trainable variables (no BatchNormalization: nothing to average).

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
            if not variables:  # an empty all_reduce fails under Mirrored
                self._average = lambda: None
                return

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
