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
import pathlib
import time

import keras

from keras_mixkd.training.atomic import atomic_write_text
from keras_mixkd.training.callbacks import Backup
from keras_mixkd.training.callbacks import Checkpoints
from keras_mixkd.training.callbacks import MetricsLog
from keras_mixkd.training.callbacks import NaNGuard
from keras_mixkd.training.config import upgrade_record

#: Configuration keys that may change between a run and its resumption.
RESUMABLE_KEYS = ("verbose", "output_dir", "data_dir")

#: Where a run folder keeps each file, relative to the folder (the one home
#: of these names: experiments, exporting and reports ask here).
CONFIG_FILE = pathlib.Path("config.json")
METRICS_FILE = pathlib.Path("metrics.csv")
SUMMARY_FILE = pathlib.Path("summary.json")
LAST_CHECKPOINT = pathlib.Path("checkpoints") / "last.keras"
BEST_CHECKPOINT = pathlib.Path("checkpoints") / "best.keras"


class TrainingStopped(RuntimeError):
    """A run stopped before its last epoch (e.g. its loss became NaN)."""


class RunFolder:
    """The folder of one run: configuration, callbacks, summary.

    Args:
        path: the folder; created if needed.
        config: the resolved configuration (JSON-serialisable dict). If the
            folder already holds a different one, it is an error: a run
            resumes only with the configuration it started with.
        chief: whether this process writes (False on non-chief workers of a
            multi-worker run, which write to a scratch folder instead).
        resumable: more keys that may differ on resumption (settings
            without effect on the run, `RunConfig.inert_keys`).

    Example:

    >>> run = RunFolder("runs/demo", {"epochs": 2})
    >>> model.fit(ds, epochs=2, callbacks=run.callbacks(model))
    """

    def __init__(self, path, config, chief=True, resumable=()):
        self.path = pathlib.Path(path)
        self.chief = chief
        self.path.mkdir(parents=True, exist_ok=True)
        self.config = dict(config)
        config_file = self.path / "config.json"
        if config_file.exists():
            previous = upgrade_record(json.loads(config_file.read_text()))
            ignored = RESUMABLE_KEYS + tuple(resumable)
            changed = sorted(
                key for key in set(previous) | set(self.config)
                if key not in ignored
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
        """Raises `TrainingStopped` if the NaN guard stopped the run."""
        if self.guard.failure:
            last = self.checkpoint_dir / "last.keras"
            kept = (f"The last good checkpoint is {last}."
                    if last.exists() else "No checkpoint was written.")
            raise TrainingStopped(
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
