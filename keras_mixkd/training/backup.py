"""`Backup`: the training state of a run, committed atomically; restored.

A run folder's ``backup/epoch-<N>/`` is the commit point of its first N
epochs: what a resumed run restores, and what its other files (the rows of
``metrics.csv``, the checkpoints, the TensorBoard points) are kept
consistent with (`keras_mixkd.training.RunFolder`).
"""

import json
import os
import pathlib
import re
import shutil
import time

import keras

from keras_mixkd import _keras_compat

_BACKUP = re.compile(r"^epoch-(\d+)$")
_LEGACY_BACKUP = re.compile(r"^epoch-(\d+)\.weights\.h5$")


class Backup(keras.callbacks.Callback):
    """Backs up the training state at epoch ends, atomically; restores it.

    Built on `keras.callbacks.BackupAndRestore`: each backup is what that
    callback writes (``latest.weights.h5``, the fitted model's weights
    with the optimizer state, and ``training_metadata.json``, the epoch), and
    restoring is that callback's own ``on_train_begin``, which loads the
    weights and makes ``fit`` skip the epochs done. Used alone,
    `BackupAndRestore` cannot keep a run safe from a kill: it rewrites its
    two files in place, one after the other, so a kill during the first
    leaves a broken weights file, and a kill between the two resumes from
    the weights of epoch N+1 with the metadata of epoch N (that epoch then
    trains twice). Here a `BackupAndRestore` writes each backup's two files
    into a new temporary folder, which one rename turns into
    ``epoch-<N>/`` (the commit point of the first N epochs); older folders
    are removed afterwards, and a `BackupAndRestore` reading the newest
    committed folder restores. Backups of earlier versions
    (``epoch-<N>.weights.h5`` files) are moved into that layout.

    Writing the state (the whole fitted model, a `Distiller`'s teacher
    included, with the optimizer) can take longer than a short epoch, so
    with ``interval_s > 0`` an epoch commits only when ``interval_s``
    seconds have passed since the previous commit (or since training
    started), when it is the last epoch, when training stops after it
    (``stop_training``), or when a predicate given to `commit_when` asks
    for it (`Checkpoints`: the epoch improves the best). A kill then loses
    the epochs since the newest commit: less than ``interval_s`` seconds
    of training plus the interrupted epoch; they run again on resumption.
    `committed` tells the callbacks placed after this one which epochs are
    committed.

    Args:
        directory: the backup folder (removed when training ends).
        interval_s: the least time between two commits, in seconds (0:
            commit every epoch).
        clock: the time in seconds (`time.monotonic`; tests give theirs).
    """

    def __init__(self, directory, interval_s=0.0, clock=time.monotonic):
        super().__init__()
        if not interval_s >= 0:
            raise ValueError(f"`interval_s` must be >= 0, got {interval_s}.")
        self.directory = pathlib.Path(directory)
        self.interval_s = float(interval_s)
        self.clock = clock
        #: The epochs the newest committed backup holds.
        self.committed = 0
        self._predicates = []
        self._last_commit = None

    @staticmethod
    def finished_epochs(directory):
        """The number of epochs the newest backup in ``directory`` holds."""
        directory = pathlib.Path(directory)
        if not directory.is_dir():
            return 0
        found = [_BACKUP.match(p.name) or _LEGACY_BACKUP.match(p.name)
                 for p in directory.iterdir()]
        return max((int(m.group(1)) for m in found if m), default=0)

    def commit_when(self, predicate):
        """Also commits each epoch for which ``predicate(epoch, logs)`` holds.

        Args:
            predicate: called at the end of each epoch that would not
                commit otherwise, with the epoch (from 0) and its logs.
        """
        self._predicates.append(predicate)

    def commits(self, epoch, logs=None):
        """Whether the end of ``epoch`` (counted from 0) commits a backup."""
        epochs = (self.params or {}).get("epochs")
        return (self.interval_s == 0 or epochs is None
                or epoch + 1 >= epochs
                or bool(getattr(self.model, "stop_training", False))
                or self._last_commit is None
                or self.clock() - self._last_commit >= self.interval_s
                or any(p(epoch, logs) for p in self._predicates))

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
        self.committed = self.finished_epochs(self.directory)
        if self.committed:
            reader = keras.callbacks.BackupAndRestore(
                str(self._folder(self.committed)), delete_checkpoint=False)
            reader.set_model(self.model)
            reader.on_train_begin(logs)
        self._last_commit = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        if not self.commits(epoch, logs):
            return

        def write(tmp):
            writer = keras.callbacks.BackupAndRestore(
                str(tmp), delete_checkpoint=False)
            writer.set_model(self.model)
            writer.on_epoch_end(epoch, logs)

        self.directory.mkdir(parents=True, exist_ok=True)
        self._commit(epoch + 1, write)
        self.committed = epoch + 1
        self._last_commit = self.clock()

    def on_train_end(self, logs=None):
        shutil.rmtree(self.directory, ignore_errors=True)
