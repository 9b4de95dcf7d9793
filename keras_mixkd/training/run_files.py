"""The files of a run folder: the one place that names them and reads them.

```
<run>/config.json          the resolved configuration (`RunFiles.record`)
<run>/metrics.csv          one row per finished epoch (`RunFiles.metrics`)
<run>/tensorboard/         TensorBoard logs
<run>/checkpoints/last.keras, best.keras   the student's last and best model
<run>/checkpoints/last.json, best.json     their epochs (and best's value)
<run>/backup/              the training state while the run is unfinished
<run>/summary.json         best and last accuracy, once the run ends
<run>/analysis.json        test-set measures an experiment adds
```

`keras_mixkd.training.RunFolder` (a `RunFiles` that also trains) and its
callbacks write these files; engines, exports, reports and experiments ask
a `RunFiles` where they are and what they hold. Every JSON file is read and
written by `keras_mixkd.training.json_file`.

Example:

```python
run = RunFiles("runs/distill-resnet20-resnet8-cifar100")
run.summary()["best_accuracy"]  # None before the run ends: summary() is None
[row["val_accuracy"] for row in run.metrics() if "val_accuracy" in row]
RunFiles.of_checkpoint("runs/x/checkpoints/best.keras").record()["loss"]
```
"""

import csv
import pathlib

import keras

from keras_mixkd.training.backup import Backup
from keras_mixkd.training.config import upgrade_record
from keras_mixkd.training.json_file import read_json


def read_rows(path):
    """The header and the complete rows (dicts of strings) of a CSV log.

    The one reader of ``metrics.csv``: a row cut short by a kill (fewer
    fields than the header, or no epoch number) is left out.

    Args:
        path: the CSV file.

    Returns:
        ``(header, rows)``; ``(None, [])`` for a missing file.
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


class RunFiles:
    """The files of one run folder, by name, and their readers.

    Reading never changes the folder (`keras_mixkd.training.RunFolder`
    writes it).

    Args:
        path: the run folder (it need not exist).
    """

    CONFIG = "config.json"
    METRICS = "metrics.csv"
    SUMMARY = "summary.json"
    ANALYSIS = "analysis.json"
    CHECKPOINTS = "checkpoints"
    BACKUP = "backup"
    TENSORBOARD = "tensorboard"
    #: Inside `CHECKPOINTS` (what `keras_mixkd.training.Checkpoints` writes).
    LAST_MODEL = "last.keras"
    BEST_MODEL = "best.keras"
    LAST_RECORD = "last.json"
    BEST_RECORD = "best.json"
    #: What a training run writes in its folder: all that ``overwrite``
    #: removes (an experiment's `ANALYSIS` is not the run's).
    RUN_FILES = (CONFIG, METRICS, SUMMARY, CHECKPOINTS, BACKUP, TENSORBOARD)

    def __init__(self, path):
        self.path = pathlib.Path(path)

    @classmethod
    def of_checkpoint(cls, weights):
        """The run folder of a checkpoint file.

        ``<run>/checkpoints/best.keras`` belongs to ``<run>``; a file
        elsewhere, to the folder it is in (whose ``config.json``, if any,
        describes it).
        """
        folder = pathlib.Path(weights).parent
        return cls(folder.parent if folder.name == cls.CHECKPOINTS
                   else folder)

    @classmethod
    def is_run_folder(cls, path):
        """Whether ``path`` holds a run's ``config.json``."""
        return (pathlib.Path(path) / cls.CONFIG).is_file()

    @property
    def config_file(self):
        return self.path / self.CONFIG

    @property
    def metrics_file(self):
        return self.path / self.METRICS

    @property
    def summary_file(self):
        return self.path / self.SUMMARY

    @property
    def analysis_file(self):
        return self.path / self.ANALYSIS

    @property
    def checkpoint_dir(self):
        return self.path / self.CHECKPOINTS

    @property
    def last_checkpoint(self):
        return self.checkpoint_dir / self.LAST_MODEL

    @property
    def best_checkpoint(self):
        return self.checkpoint_dir / self.BEST_MODEL

    @property
    def backup_dir(self):
        return self.path / self.BACKUP

    @property
    def tensorboard_dir(self):
        return self.path / self.TENSORBOARD

    def record(self):
        """``config.json`` with today's key names, or None without one."""
        record = read_json(self.config_file)
        return None if record is None else upgrade_record(record)

    def summary(self):
        """``summary.json``, or None before the run has ended."""
        return read_json(self.summary_file)

    def analysis(self):
        """``analysis.json``, or None."""
        return read_json(self.analysis_file)

    def metrics(self):
        """The complete rows of ``metrics.csv``, as dicts of floats.

        An empty cell (a ``val_*`` metric of an epoch without validation)
        is left out of its row; ``epoch`` counts from 0.
        """
        return [{k: float(v) for k, v in row.items() if v != ""}
                for row in read_rows(self.metrics_file)[1]]

    def last_epoch(self):
        """The epoch of ``last.keras`` (counting from 1), or 0."""
        return int((read_json(self.checkpoint_dir / self.LAST_RECORD)
                    or {}).get("epoch", 0))

    def best(self):
        """``best.json`` (``epoch``, ``monitor``, ``value``), or None."""
        return read_json(self.checkpoint_dir / self.BEST_RECORD)

    def epochs_done(self):
        """The epochs the folder's run finished (logged or backed up)."""
        return max(Backup.finished_epochs(self.backup_dir),
                   len(read_rows(self.metrics_file)[1]), self.last_epoch())

    def load_last(self):
        """The model of ``last.keras``, uncompiled."""
        return keras.saving.load_model(self.last_checkpoint, compile=False)
