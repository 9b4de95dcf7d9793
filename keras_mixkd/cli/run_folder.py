"""A run folder: everything one training run writes, and how it resumes.

```
<run>/config.json          the resolved configuration
<run>/metrics.csv          one line per finished epoch (train and val metrics)
<run>/tensorboard/         TensorBoard logs
<run>/checkpoints/last.keras, best.keras, best.json
<run>/backup/              BackupAndRestore state while the run is unfinished
<run>/summary.json         best and last accuracy, once the run ends
```

Checkpoints are written to a temporary file and renamed, so a kill during a
save never leaves a broken ``last.keras``. A run started again with the same
configuration resumes from ``backup/`` (model, optimizer and epoch).
"""

import csv
import json
import math
import os
import pathlib
import time

import keras

#: Configuration keys that may change between a run and its resumption.
_RESUMABLE_KEYS = ("verbose", "output_dir", "data_dir")


def atomic_write_text(path, text):
    """Writes ``text`` to ``path`` through a temporary file and a rename."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def atomic_save(model, path):
    """Saves ``model`` as ``path`` (.keras) through a temporary file."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".tmp-{path.name}")
    model.save(tmp)
    os.replace(tmp, path)


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


class Checkpoints(keras.callbacks.Callback):
    """Saves the last and the best model of each epoch, atomically.

    Args:
        model: the model to save (the student for a distillation run).
        directory: where ``last.keras``, ``best.keras`` and ``best.json`` go.
        monitor: the log key to maximise for ``best``.
        guard: a `NaNGuard`; nothing is saved once it reports a failure.
    """

    def __init__(self, model, directory, monitor="val_accuracy", guard=None):
        super().__init__()
        self.saved_model = model
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.monitor = monitor
        self.guard = guard
        best = self.directory / "best.json"
        self.best = json.loads(best.read_text()) if best.exists() else None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.guard is not None and self.guard.failure:
            return
        if not _finite(logs.get("loss")):
            return
        atomic_save(self.saved_model, self.directory / "last.keras")
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

    def callbacks(self, saved_model, monitor="val_accuracy"):
        """The callbacks of a resumable, logged, checkpointed `fit`.

        Args:
            saved_model: the model the checkpoints hold (the student).
            monitor: validation metric that selects ``best.keras``.

        Returns:
            A list of Keras callbacks.
        """
        callbacks = [
            self.guard,
            keras.callbacks.BackupAndRestore(str(self.path / "backup")),
        ]
        if self.chief:
            callbacks += [
                Checkpoints(saved_model, self.checkpoint_dir, monitor,
                            self.guard),
                keras.callbacks.CSVLogger(str(self.metrics_file), append=True),
                keras.callbacks.TensorBoard(str(self.path / "tensorboard")),
            ]
        return callbacks

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
