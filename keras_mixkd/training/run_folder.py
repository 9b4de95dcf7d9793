"""A run folder: everything one training run writes, and how it resumes.

Its files, their names and their readers are `RunFiles`'s
(`keras_mixkd.training.run_files`); a `RunFolder` is a `RunFiles` that
writes them.

Nothing is written until training starts (`RunFolder.callbacks`), after the
models and data were built: a run that fails earlier leaves the folder as it
was. A folder whose run never finished an epoch (it failed in its first one)
is taken over by the next command, whatever its configuration.

A kill (even SIGKILL) loses at most the epochs since the last backup, and
nothing is logged twice. Every file is written to a temporary name and
renamed, so a kill never leaves a broken or half-written one. At the end of
each epoch the run writes, in this order:

1. the epoch's row of ``metrics.csv``;
2. the backup ``backup/epoch-<N>/`` (model and optimizer state after N
   epochs, as `keras.callbacks.BackupAndRestore` writes it): the commit
   point of the first N epochs. With ``backup_interval_s`` (`RunFolder`)
   an epoch commits only when that many seconds have passed since the
   last backup, or when it is the last epoch or improves ``best``;
3. at a commit, ``checkpoints/last.keras`` (and ``best.keras`` when the
   epoch is the best), then the TensorBoard summaries of the epochs it
   commits (kept in memory until then).

The same command started again resumes from the newest backup: it drops the
rows of epochs the backup does not hold (they run again) and rewrites the
checkpoints a kill after step 2 missed. So a kill loses the epochs since the
last backup (the interrupted one alone when each epoch backs up; else less
than ``backup_interval_s`` seconds of training plus the interrupted epoch),
and ``metrics.csv`` holds each epoch once. TensorBoard never receives a
step twice (at worst, a kill between a backup and the TensorBoard write
leaves out the points of the epochs that backup committed).

Started again once all its epochs are done, a run is `RunFolder.finished`:
the engine then trains nothing and says where the results are;
``overwrite=True`` (``--overwrite``) trains again from scratch, removing
the run's own files (`RunFiles.RUN_FILES`) and nothing else.

Configurations are compared after resolving the paths they name
(`keras_mixkd.training.config.resolved_path`): a relative path recorded by
an earlier session is resolved against the current directory.
"""

import os
import pathlib
import re
import shutil
import time

from keras_mixkd import data
from keras_mixkd.training.callbacks import Backup
from keras_mixkd.training.callbacks import Checkpoints
from keras_mixkd.training.callbacks import MetricsLog
from keras_mixkd.training.callbacks import NaNGuard
from keras_mixkd.training.callbacks import RunTensorBoard
from keras_mixkd.training.config import RESUMABLE_KEYS
from keras_mixkd.training.config import resolved_path
from keras_mixkd.training.json_file import write_json
from keras_mixkd.training.run_files import RunFiles


def run_label(*parts):
    """A folder-name-safe label of a run's models and data.

    ``keras.applications.`` prefixes are dropped, a ``folder:PATH`` dataset
    is named after its folder, and other characters than letters, digits,
    ``_``, ``.`` and ``-`` become ``_``.
    """
    labels = []
    for part in parts:
        part = str(part).removeprefix("keras.applications.")
        if part.startswith("folder:"):
            part = "folder-" + pathlib.Path(
                data.resolved_name(part)[len("folder:"):]).name
        labels.append(re.sub(r"[^A-Za-z0-9_.-]+", "-", part))
    return "-".join(labels)


#: Where the commands put a folder without ``--output_dir``.
DEFAULT_ROOT = "runs"


def default_folder(*parts):
    """The one rule for a default folder: one directory under `DEFAULT_ROOT`
    named `run_label` of ``parts`` (never a ``:`` or a ``/`` in it).

    Example:

    >>> default_folder("compare", "resnet20", "resnet8", "folder:/data/f")
    'runs/compare-resnet20-resnet8-folder-f'
    """
    return os.path.join(DEFAULT_ROOT, run_label(*parts))


def run_path(config, default_name):
    """The run folder of ``config``: ``output_dir`` or ``runs/<name>`` (the
    name as `default_folder` makes it)."""
    return pathlib.Path(config.output_dir or default_folder(default_name))


def accuracy_line(summary):
    """A run's best and last test accuracy, as percentages for people.

    Args:
        summary: a run's summary (``best_accuracy``, ``last_accuracy``:
            fractions, as in ``summary.json``).

    Returns:
        e.g. ``"best 36.00%, last 35.50%"`` (``n/a`` for a value a run
        does not have, such as a non-chief worker's).
    """
    def percent(value):
        return "n/a" if value is None else f"{value:.2%}"

    return (f"best {percent(summary.get('best_accuracy'))}, "
            f"last {percent(summary.get('last_accuracy'))}")


class TrainingStopped(RuntimeError):
    """A run stopped before its last epoch (e.g. its loss became NaN)."""


class RunFolder(RunFiles):
    """The folder of one run: configuration, callbacks, summary.

    Args:
        path: the folder; created when training starts.
        config: the resolved configuration (JSON-serialisable dict). If the
            folder holds a run of another configuration that finished an
            epoch, it is an error: a run resumes only with the
            configuration it started with.
        chief: whether this process writes (False on non-chief workers of a
            multi-worker run, which write to a scratch folder instead).
        resumable: more keys that may differ on resumption (settings
            without effect on the run, `CommandConfig.inert_keys`).
        overwrite: train from scratch: the run's own files
            (`RunFiles.RUN_FILES`) are removed when training starts,
            whatever run they hold.
        backup_interval_s: back up (and checkpoint) an epoch only when
            this many seconds have passed since the last backup, or when
            it is the last or improves ``best`` (`Backup`); 0: every epoch.

    Raises:
        ValueError: the folder holds another configuration's run, or one
            of its JSON files is damaged (`json_file.read_json`;
            ``overwrite`` replaces the run without reading them).

    Example:

    >>> run = RunFolder("runs/demo", {"epochs": 2})
    >>> if not run.finished:
    ...     model.fit(ds, epochs=2, callbacks=run.callbacks(model))
    """

    def __init__(self, path, config, chief=True, resumable=(),
                 overwrite=False, backup_interval_s=0.0):
        super().__init__(path)
        self.backup_interval_s = backup_interval_s
        self.chief = chief
        self.config = dict(config)
        self.overwrite = overwrite
        self.guard = NaNGuard()
        self._start = time.time()
        self._replaced = overwrite
        previous = None if overwrite else self.record()
        # A recorded run that never finished an epoch is taken over.
        if previous is not None and not self.epochs_done():
            self._replaced = True
        if previous is None or self._replaced:
            return
        ignored = RESUMABLE_KEYS + tuple(resumable)
        changed = sorted(
            key for key in set(previous) | set(self.config)
            if key not in ignored and resolved_path(key, previous.get(key))
            != resolved_path(key, self.config.get(key)))
        if changed:
            raise ValueError(
                f"The run folder {self.path} holds a run with another "
                f"configuration (differs in: {', '.join(changed)}). "
                "Resume it with the same flags, choose another "
                "`output_dir`, or give `overwrite=True` to replace it.")

    @property
    def finished(self):
        """Whether the folder holds this run with all its epochs done.

        True when the recorded configuration is this one, no backup waits
        to be resumed and ``checkpoints/last.json`` is at the last epoch
        (``config["epochs"]``). Never with ``overwrite``.
        """
        epochs = self.config.get("epochs")
        if (self._replaced or epochs is None
                or not self.is_run_folder(self.path)):
            return False
        return (not Backup.finished_epochs(self.backup_dir)
                and self.last_epoch() >= int(epochs))

    def _begin(self):
        """Clears a replaced run's files, then writes ``config.json``."""
        if self.finished:
            raise ValueError(
                f"The run folder {self.path} holds this run, finished: "
                "nothing to train. Give `overwrite=True` to "
                "train it again from scratch.")
        if self.chief and self._replaced:
            for name in self.RUN_FILES:
                path = self.path / name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
        self.path.mkdir(parents=True, exist_ok=True)
        if self.chief:
            write_json(self.config_file, self.config, sort_keys=True)
        self._replaced = False
        self._start = time.time()

    def callbacks(self, saved_model, monitor="val_accuracy"):
        """The callbacks of a resumable, logged, checkpointed `fit`.

        Training starts here: a replaced run's files are removed and
        ``config.json`` is written.

        Args:
            saved_model: the model the checkpoints hold (the student).
            monitor: validation metric that selects ``best.keras``.

        Returns:
            A list of Keras callbacks.

        Raises:
            ValueError: the run is `finished` (nothing to train).
        """
        self._begin()
        backup = Backup(self.backup_dir, self.backup_interval_s)
        if not self.chief:
            return [self.guard, backup]
        # The order is the order of the writes at each epoch end.
        metrics = MetricsLog(self.metrics_file, self.backup_dir)
        resumed = Backup.finished_epochs(self.backup_dir) > 0
        return [
            self.guard,
            metrics,
            backup,
            Checkpoints(saved_model, self.checkpoint_dir, monitor, self.guard,
                        metrics, backup),
            RunTensorBoard(self.tensorboard_dir, resumed, backup),
        ]

    def results(self):
        """Where a finished run's results are, in a few lines of text."""
        summary = self.summary()
        best = self.best() or {}
        epochs = summary["epochs"]
        lines = [f"The run in {self.path} has finished ({epochs} epoch"
                 f"{'' if epochs == 1 else 's'}): nothing to train (give "
                 "`overwrite=True` to train it again from scratch)."]
        for name, file, epoch, accuracy in (
                ("best", self.best_checkpoint, best.get("epoch"),
                 summary["best_accuracy"]),
                ("last", self.last_checkpoint, summary["epochs"],
                 summary["last_accuracy"])):
            shown = ("" if accuracy is None
                     else f", test accuracy {accuracy:.2%}")
            lines.append(f"  {name}: {file} (epoch {epoch}"
                         f"{shown})")
        return "\n".join(lines)

    def summary(self):
        """``summary.json`` (written now if a kill prevented it)."""
        summary = super().summary()
        return summary if summary is not None else self.write_summary(
            wall_time_s=None)

    def check_finished(self):
        """Raises `TrainingStopped` if the NaN guard stopped the run."""
        if self.guard.failure:
            last = self.last_checkpoint
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
        rows = self.metrics()
        validated = [(int(r.get("epoch", i)) + 1, r["val_accuracy"])
                     for i, r in enumerate(rows) if "val_accuracy" in r]
        best = max(validated, key=lambda v: v[1], default=(None, None))
        summary = {
            "epochs": len(rows),
            "best_accuracy": best[1],
            "best_epoch": best[0],
            "last_accuracy": validated[-1][1] if validated else None,
            "wall_time_s": round(time.time() - self._start, 1),
            **extra,
        }
        if self.chief:
            write_json(self.summary_file, summary)
        return summary


def finished_run(config, command, path):
    """The model and summary of the finished run in ``path``, or None.

    Reads the folder only (no data, no training): when it holds this
    configuration's run with all its epochs done (`RunFolder.finished`),
    it prints where the results are and returns the last checkpoint
    (uncompiled) with the run's summary. Under ``overwrite`` or
    ``--strategy=multiworker`` (every worker must train), always None.

    Raises:
        ValueError: the folder holds another configuration's run.
    """
    if config.overwrite or config.strategy == "multiworker":
        return None
    run = RunFolder(path, config.record(command),
                    resumable=config.inert_keys(command))
    if not run.finished:
        return None
    print(run.results())
    return run.load_last(), run.summary()
