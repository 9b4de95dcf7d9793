"""Callbacks of a resumable, logged, checkpointed `fit`, for any model.

`keras_mixkd.training.RunFolder.callbacks` puts them together for a run
folder; each also works alone in a user's own ``fit``:

```python
model.fit(train_ds, validation_data=test_ds, epochs=10, callbacks=[
    NaNGuard(),
    MetricsLog("run/metrics.csv", "run/backup"),
    Backup("run/backup"),
    Checkpoints(model, "run/checkpoints"),
    RunTensorBoard("run/tensorboard"),
    SyncReplicaStatistics(model),
])
```
"""

import csv
import json
import math
import os
import pathlib
import re
import shutil

import keras
import tensorflow as tf

from keras_mixkd import _keras_compat
from keras_mixkd.training.atomic import atomic_save
from keras_mixkd.training.atomic import atomic_write_text
from keras_mixkd.training.atomic import replace_from_temporary

_BACKUP = re.compile(r"^epoch-(\d+)$")
_LEGACY_BACKUP = re.compile(r"^epoch-(\d+)\.weights\.h5$")


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

    Built on `keras.callbacks.BackupAndRestore`: each epoch's state is what
    that callback writes (``latest.weights.h5``, the fitted model's weights
    with the optimizer state, and ``training_metadata.json``, the epoch), and
    restoring is that callback's own ``on_train_begin``, which loads the
    weights and makes ``fit`` skip the epochs done. Used alone,
    `BackupAndRestore` cannot keep a run safe from a kill: it rewrites its
    two files in place, one after the other, so a kill during the first
    leaves a broken weights file, and a kill between the two resumes from
    the weights of epoch N+1 with the metadata of epoch N (that epoch then
    trains twice). Here a `BackupAndRestore` writes each epoch's two files
    into a new temporary folder, which one rename turns into
    ``epoch-<N>/`` (the commit point of the epoch); older folders are
    removed afterwards, and a `BackupAndRestore` reading the newest
    committed folder restores. Backups of earlier versions
    (``epoch-<N>.weights.h5`` files) are moved into that layout.

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
        found = [_BACKUP.match(p.name) or _LEGACY_BACKUP.match(p.name)
                 for p in directory.iterdir()]
        return max((int(m.group(1)) for m in found if m), default=0)

    def _folder(self, epochs):
        return self.directory / f"epoch-{epochs:05d}"

    def _commit(self, epochs, write):
        """Runs ``write(tmp_folder)``, then renames it to ``epoch-<N>``."""
        target = self._folder(epochs)
        tmp = target.with_name(f".tmp-{target.name}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            write(tmp)
            shutil.rmtree(target, ignore_errors=True)  # the same epoch again
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        for old in self.directory.iterdir():
            match = _BACKUP.match(old.name) or _LEGACY_BACKUP.match(old.name)
            if match and int(match.group(1)) < epochs:
                (shutil.rmtree if old.is_dir() else pathlib.Path.unlink)(old)

    def _upgrade_legacy(self):
        for old in sorted(self.directory.glob("epoch-*.weights.h5")):
            epochs = int(_LEGACY_BACKUP.match(old.name).group(1))

            def write(tmp, old=old, epochs=epochs):
                tmp.mkdir(parents=True)
                shutil.copyfile(old, tmp / _keras_compat.BACKUP_FILES[0])
                (tmp / _keras_compat.BACKUP_FILES[1]).write_text(
                    json.dumps({"epoch": epochs, "batch": 0}))

            self._commit(epochs, write)
            old.unlink(missing_ok=True)

    def on_train_begin(self, logs=None):
        if self.directory.is_dir():
            self._upgrade_legacy()
        epochs = self.finished_epochs(self.directory)
        if epochs:
            reader = keras.callbacks.BackupAndRestore(
                str(self._folder(epochs)), delete_checkpoint=False)
            reader.set_model(self.model)
            reader.on_train_begin(logs)

    def on_epoch_end(self, epoch, logs=None):
        def write(tmp):
            writer = keras.callbacks.BackupAndRestore(
                str(tmp), delete_checkpoint=False)
            writer.set_model(self.model)
            writer.on_epoch_end(epoch, logs)

        self.directory.mkdir(parents=True, exist_ok=True)
        self._commit(epoch + 1, write)

    def on_train_end(self, logs=None):
        shutil.rmtree(self.directory, ignore_errors=True)


def read_rows(path):
    """The header and the complete rows (dicts of strings) of a CSV log.

    A row cut short by a kill (fewer fields than the header) is left out.
    """
    path = pathlib.Path(path)
    if not path.exists():
        return None, []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader
                if None not in r.values() and None not in r
                and r.get("epoch", "").isdigit()]
        return reader.fieldnames, rows


class MetricsLog(keras.callbacks.CSVLogger):
    """``metrics.csv``: one row per finished epoch, each epoch exactly once.

    `keras.callbacks.CSVLogger` in append mode (columns ``epoch``, counting
    from 0, and the sorted log keys of the first epoch, or on resume the
    file's own), which writes and flushes each epoch's row; a metric an
    epoch lacks (``val_*`` between validations) is an empty cell. What it
    cannot know is which rows a resumed run must drop: those of the epochs
    the backup does not hold (`Backup.finished_epochs`), which run again,
    and a row cut short by a kill. So on train begin the file is rewritten
    with the backed-up epochs' complete rows only, through a temporary file
    and a rename (or removed when none is left). Place it
    before the `Backup` callback, so that an epoch's row is written before
    its backup commits the epoch.

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
    """Saves the last and the best model of each epoch, atomically.

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
            row = [r for r in rows if int(r["epoch"]) == finished - 1]
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


class RunTensorBoard(keras.callbacks.TensorBoard):
    """`keras.callbacks.TensorBoard` that never writes a step twice.

    A run folder's TensorBoard logs outlive interruptions, and TensorBoard
    draws a step written twice as a zigzag. So, against the built-in:

    - the epoch summaries (``epoch_<metric>`` at step = epoch) are written
      by the built-in's ``on_epoch_end``, placed after the `Backup` (an
      epoch written is an epoch committed: it never runs again; a kill
      between the two loses that epoch's point, it never doubles it);
    - no ``evaluation_<metric>_vs_iterations``: the built-in writes them at
      the end of each validation, before the epoch commits, so an epoch
      interrupted there would write them again (the same values are the
      validation writer's ``epoch_<metric>``);
    - a resumed run (``resumed=True``) writes no model summary, which the
      built-in writes at step 0 when its model is set.

    Args:
        log_dir: the log folder.
        resumed: whether an earlier session of the run already wrote there.
    """

    def __init__(self, log_dir, resumed=False):
        super().__init__(str(log_dir), write_graph=not resumed)

    def on_test_end(self, logs=None):
        super().on_test_end({})


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
