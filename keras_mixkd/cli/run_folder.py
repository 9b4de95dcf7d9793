"""A run folder: everything one training run writes, and how it resumes.

```
<run>/config.json          the resolved configuration
<run>/metrics.csv          one line per finished epoch (train and val metrics)
<run>/tensorboard/         TensorBoard logs
<run>/checkpoints/last.keras, best.keras, best.json, last.json
<run>/backup/              the training state while the run is unfinished
<run>/summary.json         best and last accuracy, once the run ends
```

Nothing is lost when a run is killed (even with SIGKILL), and nothing is
logged twice. Every file is written to a temporary name and renamed, so a
kill never leaves a broken or half-written one. At the end of each epoch the
run writes, in this order:

1. the epoch's row of ``metrics.csv``;
2. the backup ``backup/epoch-<N>.weights.h5`` (model and optimizer state
   after N epochs): the commit point of the epoch;
3. ``checkpoints/last.keras`` (and ``best.keras`` when the epoch is the best).

The same command started again resumes from the newest backup: it drops the
rows of epochs the backup does not hold (an epoch killed after step 1 runs
again) and rewrites the checkpoints a kill after step 2 missed. So at most
the interrupted epoch is lost, and ``metrics.csv`` holds each epoch once.
"""

import csv
import json
import math
import os
import pathlib
import re
import shutil
import time

import keras

#: Configuration keys that may change between a run and its resumption.
_RESUMABLE_KEYS = ("verbose", "output_dir", "data_dir")
_BACKUP = re.compile(r"^epoch-(\d+)\.weights\.h5$")


def _replace_from_temporary(path, write):
    """Calls ``write(tmp)`` then renames ``tmp`` to ``path``.

    A failure (or a kill) during ``write`` leaves ``path`` as it was; the
    temporary file is removed on failure.
    """
    path = pathlib.Path(path)
    tmp = path.with_name(f".tmp-{path.name}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path, text):
    """Writes ``text`` to ``path`` through a temporary file and a rename."""
    _replace_from_temporary(path, lambda tmp: tmp.write_text(text))


def atomic_save(model, path):
    """Saves ``model`` as ``path`` (.keras) through a temporary file."""
    _replace_from_temporary(path, model.save)


def _finite(value):
    return value is not None and math.isfinite(float(value))


class NaNGuard(keras.callbacks.Callback):
    """Stops training when the loss becomes NaN or infinite, and says when."""

    def __init__(self):
        super().__init__()
        self.failure = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not _finite(loss):
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
        model._initial_epoch = epochs

    def on_epoch_end(self, epoch, logs=None):
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(epoch + 1)
        # save_weights wants the .weights.h5 suffix: .tmp- is a prefix.
        _replace_from_temporary(path, self.model.save_weights)
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

        _replace_from_temporary(self.path, write)

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


class RunFolder:
    """The folder of one run: configuration, callbacks, summary.

    Args:
        path: the folder; created if needed.
        config: the resolved configuration (JSON-serialisable dict). If the
            folder already holds a different one, it is an error: a run
            resumes only with the configuration it started with.
        chief: whether this process writes (False on non-chief workers of a
            multi-worker run, which write to a scratch folder instead).

    Example:

    >>> run = RunFolder("runs/demo", {"epochs": 2})
    >>> model.fit(ds, epochs=2, callbacks=run.callbacks(model))
    """

    def __init__(self, path, config, chief=True):
        self.path = pathlib.Path(path)
        self.chief = chief
        self.path.mkdir(parents=True, exist_ok=True)
        self.config = dict(config)
        config_file = self.path / "config.json"
        if config_file.exists():
            previous = json.loads(config_file.read_text())
            changed = sorted(
                key for key in set(previous) | set(self.config)
                if key not in _RESUMABLE_KEYS
                and previous.get(key) != self.config.get(key))
            if changed:
                raise ValueError(
                    f"The run folder {self.path} holds a run with another "
                    f"configuration (differs in: {', '.join(changed)}). "
                    "Resume it with the same flags, or choose another "
                    "--output_dir.")
        if chief:
            atomic_write_text(config_file, json.dumps(self.config, indent=2,
                                                      sort_keys=True))
        self.guard = NaNGuard()
        self._start = time.time()

    @property
    def metrics_file(self):
        return self.path / "metrics.csv"

    @property
    def checkpoint_dir(self):
        return self.path / "checkpoints"

    @property
    def backup_dir(self):
        return self.path / "backup"

    def callbacks(self, saved_model, monitor="val_accuracy"):
        """The callbacks of a resumable, logged, checkpointed `fit`.

        Args:
            saved_model: the model the checkpoints hold (the student).
            monitor: validation metric that selects ``best.keras``.

        Returns:
            A list of Keras callbacks.
        """
        backup = Backup(self.backup_dir)
        if not self.chief:
            return [self.guard, backup]
        # The order is the order of the writes at each epoch end.
        metrics = MetricsLog(self.metrics_file, self.backup_dir)
        return [
            self.guard,
            metrics,
            backup,
            Checkpoints(saved_model, self.checkpoint_dir, monitor, self.guard,
                        metrics),
            keras.callbacks.TensorBoard(str(self.path / "tensorboard")),
        ]

    def epochs_logged(self):
        """The rows of ``metrics.csv``, as dicts of floats."""
        if not self.metrics_file.exists():
            return []
        with open(self.metrics_file, newline="") as f:
            return [{k: float(v) for k, v in row.items() if v not in ("", None)}
                    for row in csv.DictReader(f)]

    def check_finished(self):
        """Raises if the NaN guard stopped the run."""
        if self.guard.failure:
            last = self.checkpoint_dir / "last.keras"
            kept = (f"The last good checkpoint is {last}."
                    if last.exists() else "No checkpoint was written.")
            raise RuntimeError(
                f"Training stopped: {self.guard.failure}. {kept} Lower the "
                "learning rate, check the inputs for NaN or Inf, or use "
                "float32 instead of mixed precision.")

    def write_summary(self, **extra):
        """Writes ``summary.json``: best and last validation accuracy.

        Args:
            **extra: more entries (e.g. the test accuracy of the teacher).

        Returns:
            The summary dict.
        """
        rows = self.epochs_logged()
        accuracies = [r.get("val_accuracy") for r in rows]
        accuracies = [a for a in accuracies if a is not None]
        summary = {
            "epochs": len(rows),
            "best_accuracy": max(accuracies) if accuracies else None,
            "best_epoch": (1 + accuracies.index(max(accuracies))
                           if accuracies else None),
            "last_accuracy": accuracies[-1] if accuracies else None,
            "wall_time_s": round(time.time() - self._start, 1),
            **extra,
        }
        if self.chief:
            atomic_write_text(self.path / "summary.json",
                              json.dumps(summary, indent=2))
        return summary
