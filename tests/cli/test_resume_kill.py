"""Nothing lost: a killed run resumes from its folder, logging each epoch once.

A `mixkd distill` subprocess is killed with SIGKILL in the middle of an epoch,
then run again. Kills at the two boundaries between the end-of-epoch writes
(metrics row, backup, checkpoints) are simulated in-process on a tiny model
with a run folder's callbacks, and saves that fail half-way leave the
previous file intact.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_mixkd.cli import main as cli
from keras_mixkd.models import create
from keras_mixkd.training import Backup
from keras_mixkd.training import Checkpoints
from keras_mixkd.training import RunFolder
from keras_mixkd.training import atomic_save
from tests.helpers import tiny_data
from tests.helpers import tiny_model

ROOT = pathlib.Path(__file__).resolve().parents[2]
FAST = ["--dataset=digits", "--batch_size=128", "--verbose=2"]

#: Runs `mixkd` with one extra callback that, at batch 3 of the second epoch,
#: writes a marker file and waits: the test then kills the process there,
#: certainly in the middle of an epoch.
PAUSING_MIXKD = """
import pathlib, sys, time
import keras
from keras_mixkd.cli import main
from keras_mixkd.training import run_folder

marker = pathlib.Path(sys.argv[1])

class PauseMidEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.epoch == 1 and batch == 3:
            marker.write_text("in epoch 2")
            time.sleep(600)

original = run_folder.RunFolder.callbacks
run_folder.RunFolder.callbacks = (
    lambda self, *a, **k: original(self, *a, **k) + [PauseMidEpoch()])
sys.exit(main.run(["mixkd", *sys.argv[2:]]))
"""


def mixkd(*args):
    return cli.run(["mixkd", *args])


@pytest.fixture
def teacher(tmp_path):
    """A resnet8 teacher file (untrained: what it knows does not matter)."""
    path = tmp_path / "teacher.keras"
    create("resnet8", num_classes=10).save(path)
    return path


def distill_args(teacher, out, epochs):
    return ["distill", "--teacher=resnet8", f"--teacher_weights={teacher}",
            "--student=resnet8", f"--epochs={epochs}", f"--output_dir={out}",
            *FAST]


def logged_epochs(out):
    lines = (out / "metrics.csv").read_text().strip().splitlines()
    return [line.split(",")[0] for line in lines[1:]]


def check_finished(out, epochs, model_name="resnet8"):
    """Each epoch logged once, checkpoints of the last epoch, no leftovers."""
    assert logged_epochs(out) == [str(e) for e in range(epochs)]
    assert json.loads((out / "summary.json").read_text())["epochs"] == epochs
    checkpoints = out / "checkpoints"
    assert json.loads((checkpoints / "last.json").read_text()) == {
        "epoch": epochs}
    assert keras.saving.load_model(checkpoints / "last.keras").name == (
        model_name)
    assert not (out / "backup").exists()
    assert not list(out.rglob(".tmp-*"))


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume(teacher, tmp_path, capsys):
    out, marker = tmp_path / "run", tmp_path / "marker"
    args = distill_args(teacher, out, epochs=3)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(
        [sys.executable, "-c", PAUSING_MIXKD, str(marker), *args],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while not marker.exists():
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            pytest.fail(f"the run never reached epoch 2: "
                        f"{process.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    # Killed in epoch 2: epoch 1 is logged, backed up and checkpointed.
    assert logged_epochs(out) == ["0"]
    assert Backup.finished_epochs(out / "backup") == 1
    first_row = (out / "metrics.csv").read_text().splitlines()[1]
    capsys.readouterr()

    assert mixkd(*args) == 0
    printed = capsys.readouterr().out
    # Resumed at epoch 2: only the interrupted epoch ran again.
    assert "Epoch 1/3" not in printed
    assert "Epoch 2/3" in printed and "Epoch 3/3" in printed
    check_finished(out, 3)
    assert (out / "metrics.csv").read_text().splitlines()[1] == first_row


def _fit_in_run_folder(path, epochs=2, overwrite=False):
    """A tiny model fitted with a run folder's callbacks (a stand-in for a
    `mixkd` run, much faster)."""
    keras.utils.set_random_seed(0)
    model = tiny_model("student")
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = tiny_data(32)
    run = RunFolder(path, {"epochs": epochs}, overwrite=overwrite)
    history = model.fit(x, y, validation_data=(x, y), epochs=epochs,
                        batch_size=16, verbose=0,
                        callbacks=run.callbacks(model))
    return run, history


@pytest.mark.parametrize("killed_in", [Backup, Checkpoints])
def test_kill_between_the_end_of_epoch_writes(tmp_path, monkeypatch,
                                              killed_in):
    """Killed in epoch 2 after its metrics row (before its backup), or after
    its backup (before its checkpoints)."""
    original = killed_in.on_epoch_end

    def killed(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("killed")
        original(self, epoch, logs)

    with monkeypatch.context() as patch:
        patch.setattr(killed_in, "on_epoch_end", killed)
        with pytest.raises(KeyboardInterrupt):
            _fit_in_run_folder(tmp_path)
    assert logged_epochs(tmp_path) == ["0", "1"]  # the row is written first
    backed_up = 1 if killed_in is Backup else 2
    assert Backup.finished_epochs(tmp_path / "backup") == backed_up
    last = json.loads((tmp_path / "checkpoints" / "last.json").read_text())
    assert last == {"epoch": 1}

    run, history = _fit_in_run_folder(tmp_path)
    # Before the backup: epoch 2 ran again and replaced its row. After it:
    # nothing ran again, and the checkpoints were written from the backup.
    assert len(history.history.get("loss", [])) == (
        1 if killed_in is Backup else 0)
    summary = run.write_summary()
    check_finished(tmp_path, 2, "student")
    best = json.loads((tmp_path / "checkpoints" / "best.json").read_text())
    assert best["value"] == summary["best_accuracy"]
    assert best["epoch"] == summary["best_epoch"]


def test_a_finished_run_trains_again_only_with_overwrite(tmp_path):
    """A finished run leaves no backup and is `finished`: its callbacks are
    refused; with overwrite, it trains from scratch and its metrics and best
    checkpoint replace the earlier ones, and other files stay."""
    _fit_in_run_folder(tmp_path)
    run = RunFolder(tmp_path, {"epochs": 2})
    assert run.finished
    with pytest.raises(ValueError, match="finished.*`overwrite=True`"):
        run.callbacks(tiny_model("student"))
    best = tmp_path / "checkpoints" / "best.json"
    best.write_text(json.dumps({"epoch": 1, "monitor": "val_accuracy",
                                "value": 2.0}))  # unbeatable if kept
    (tmp_path / "notes.txt").write_text("mine")
    run, history = _fit_in_run_folder(tmp_path, overwrite=True)
    assert len(history.history["loss"]) == 2
    summary = run.write_summary()
    check_finished(tmp_path, 2, "student")
    assert json.loads(best.read_text())["value"] == summary["best_accuracy"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


def _garbage_then_fail(*args, filepath=None, **kwargs):
    pathlib.Path(filepath or args[0]).write_bytes(b"not a keras file")
    raise OSError("disk full (simulated)")


def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = tiny_model("student")
    path = tmp_path / "last.keras"
    atomic_save(model, path)
    expected = [w.numpy().copy() for w in model.weights]
    for w in model.weights:
        w.assign(w + 1.0)
    monkeypatch.setattr(model, "save", _garbage_then_fail)
    with pytest.raises(OSError, match="disk full"):
        atomic_save(model, path)
    loaded = keras.saving.load_model(path)
    for saved, value in zip(loaded.weights, expected):
        np.testing.assert_array_equal(saved.numpy(), value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.keras"]


def test_failed_backup_keeps_the_previous_one(tmp_path, monkeypatch):
    model = tiny_model("student")
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = tiny_data(8)
    backup = Backup(tmp_path / "backup")
    model.fit(x, y, epochs=1, verbose=0, callbacks=[backup])
    # The backup of a finished fit is removed; write one by hand.
    backup.on_epoch_end(0)
    monkeypatch.setattr(model, "save_weights", _garbage_then_fail)
    with pytest.raises(OSError, match="disk full"):
        backup.on_epoch_end(1)
    assert Backup.finished_epochs(tmp_path / "backup") == 1
    assert [p.name for p in (tmp_path / "backup").iterdir()] == [
        "epoch-00001"]
    monkeypatch.undo()
    restored = tiny_model("student", seed=7)
    restored.compile("sgd", "sparse_categorical_crossentropy")
    history = restored.fit(x, y, epochs=1, verbose=0,
                           callbacks=[Backup(tmp_path / "backup")])
    assert history.history == {}  # restored, nothing left to train
    for a, b in zip(restored.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
