"""``backup_interval_s``: sparse backups that keep the resume guarantee.

An epoch commits its backup (and its checkpoints, then its TensorBoard
points) when the interval has passed since the last commit, when it
improves ``best``, when training stops after it, and at the end. A run
killed between commits resumes from the last one, and ends with every
epoch exactly once in ``metrics.csv`` and TensorBoard.
"""

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixkd.training import Backup
from keras_mixkd.training import RunConfig
from keras_mixkd.training import RunFolder
from keras_mixkd.training import engine
from keras_mixkd.training.run_files import read_rows
from tests.helpers import tiny_data
from tests.helpers import tiny_model

#: ``val_score`` of each epoch (from 0) that validates: a new best at
#: epochs 0 and 4 only.
SCORES = {0: 0.5, 3: 0.4, 4: 0.7}
EPOCHS = 7
NEVER = 1e9  # an interval no test reaches: commits come from other rules


class _Score(keras.callbacks.Callback):
    """Puts a known ``val_score`` into the logs (placed first)."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch in SCORES:
            logs["val_score"] = SCORES[epoch]


class _Spy(keras.callbacks.Callback):
    """After the run folder's callbacks: what each epoch end committed."""

    def __init__(self, backup, checkpoints):
        super().__init__()
        self.backup, self.checkpoints = backup, checkpoints
        self.committed, self.last = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.committed.append(self.backup.committed)
        last = self.checkpoints / "last.json"
        self.last.append(json.loads(last.read_text())["epoch"]
                         if last.exists() else 0)


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("killed")


def _fit(path, interval_s=NEVER, interrupt=None, schedule=0.1):
    """A tiny model fitted in a run folder; returns (history, spy)."""
    keras.utils.set_random_seed(0)
    model = tiny_model("student")
    model.compile(keras.optimizers.SGD(schedule),
                  "sparse_categorical_crossentropy")
    x, y = tiny_data(32)
    run = RunFolder(path, {"epochs": EPOCHS}, backup_interval_s=interval_s)
    callbacks = run.callbacks(model, monitor="val_score")
    backup = next(c for c in callbacks if isinstance(c, Backup))
    spy = _Spy(backup, run.checkpoint_dir)
    extra = [] if interrupt is None else [_Interrupt(interrupt)]
    history = model.fit(x, y, epochs=EPOCHS, batch_size=16, verbose=0,
                        callbacks=[_Score(), *callbacks, spy, *extra])
    return history, spy


def _summaries(log_dir):
    """(writer, tag, step, value) of every summary TensorBoard received."""
    found = []
    for path in sorted(log_dir.rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                number = (float(tf.make_ndarray(value.tensor))
                          if value.tag.startswith("epoch_") else None)
                found.append((path.parent.name, value.tag, event.step,
                              number))
    return found


def _check_finished(path):
    """Each epoch once in metrics.csv and TensorBoard; consistent files."""
    _, rows = read_rows(path / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(EPOCHS))
    steps = [(w, t, s) for w, t, s, _ in _summaries(path / "tensorboard")]
    assert len(steps) == len(set(steps)), "a step was written twice"
    losses = sorted(s for w, t, s in steps if (w, t) == ("train",
                                                         "epoch_loss"))
    assert losses == list(range(EPOCHS))
    checkpoints = path / "checkpoints"
    assert json.loads((checkpoints / "last.json").read_text()) == {
        "epoch": EPOCHS}
    best = json.loads((checkpoints / "best.json").read_text())
    assert (best["epoch"], best["value"]) == (5, 0.7)
    assert not (path / "backup").exists()
    assert RunFolder(path, {"epochs": EPOCHS}).finished


def test_sparse_backups_commit_at_a_new_best_and_at_the_end(tmp_path):
    _, spy = _fit(tmp_path)
    # Epochs 1 and 5 (a new best) and 7 (the last) commit, nothing else.
    assert spy.committed == [1, 1, 1, 1, 5, 5, 7]
    # The checkpoints never run ahead of the backup.
    assert spy.last == spy.committed
    _check_finished(tmp_path)


def test_interval_zero_backs_up_every_epoch(tmp_path):
    _, spy = _fit(tmp_path, interval_s=0)
    assert spy.committed == spy.last == list(range(1, EPOCHS + 1))
    _check_finished(tmp_path)


@pytest.mark.parametrize("killed_at", [3, 6])
def test_a_run_killed_between_backups_resumes_each_epoch_once(tmp_path,
                                                               killed_at):
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, interrupt=killed_at)
    backed_up = 1 if killed_at == 3 else 5
    assert Backup.finished_epochs(tmp_path / "backup") == backed_up
    # The rows of the epochs after the backup are there until resumption.
    _, rows = read_rows(tmp_path / "metrics.csv")
    assert len(rows) == killed_at
    # TensorBoard holds the committed epochs only.
    steps = [s for w, t, s, _ in _summaries(tmp_path / "tensorboard")
             if (w, t) == ("train", "epoch_loss")]
    assert sorted(steps) == list(range(backed_up))

    history, spy = _fit(tmp_path)
    # The epochs since the backup ran again, once.
    assert len(history.history["loss"]) == EPOCHS - backed_up
    assert spy.committed[-1] == EPOCHS
    _check_finished(tmp_path)


def test_tensorboard_writes_each_epochs_own_learning_rate(tmp_path):
    """Epochs waiting for a backup are written with the learning rate of
    their own end, not the optimizer's rate when the backup commits."""
    schedule = keras.optimizers.schedules.ExponentialDecay(
        0.1, decay_steps=1, decay_rate=0.5)
    _fit(tmp_path, schedule=schedule)
    rates = {s: v for w, t, s, v in _summaries(tmp_path / "tensorboard")
             if (w, t) == ("train", "epoch_learning_rate")}
    steps_per_epoch = 2  # 32 images in batches of 16
    expected = {e: float(schedule(steps_per_epoch * (e + 1)))
                for e in range(EPOCHS)}
    assert rates.keys() == expected.keys()
    np.testing.assert_allclose([rates[e] for e in sorted(rates)],
                               [expected[e] for e in sorted(expected)],
                               rtol=1e-6)


class _Clock:
    """A clock that a callback moves by 4 s at each epoch end."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _fit_backup(tmp_path, backup, before=()):
    model = tiny_model("student")
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = tiny_data(16)
    committed = []
    seen = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: committed.append(backup.committed))
    model.fit(x, y, epochs=EPOCHS, batch_size=16, verbose=0,
              callbacks=[*before, backup, seen])
    return committed


def test_backup_commits_once_the_interval_has_passed(tmp_path):
    clock = _Clock()

    def tick(epoch, logs):
        clock.now += 4.0

    backup = Backup(tmp_path / "backup", interval_s=10, clock=clock)
    committed = _fit_backup(tmp_path, backup, [
        keras.callbacks.LambdaCallback(on_epoch_end=tick)])
    # At 12 s (epoch 3), 24 s (epoch 6), and the last epoch.
    assert committed == [0, 0, 3, 3, 3, 6, 7]
    assert not (tmp_path / "backup").exists()


def test_backup_commits_the_epoch_after_which_training_stops(tmp_path):
    def stop(epoch, logs):
        if epoch == 2:
            backup.model.stop_training = True

    backup = Backup(tmp_path / "backup", interval_s=NEVER)
    committed = _fit_backup(tmp_path, backup, [
        keras.callbacks.LambdaCallback(on_epoch_end=stop)])
    assert committed == [0, 0, 3]


@pytest.mark.parametrize("value", [-1.0, float("nan"), None, "30"])
def test_backup_interval_is_checked(value):
    with pytest.raises(ValueError, match="`backup_interval_s` must be >= 0"):
        RunConfig(dataset="digits", backup_interval_s=value)


@pytest.mark.parametrize("value", [-1.0, float("nan")])
def test_backup_checks_its_interval(value):
    with pytest.raises(ValueError, match="`interval_s` must be >= 0"):
        Backup("backup", interval_s=value)


def test_backup_interval_is_recorded_only_when_set_and_may_change(tmp_path):
    config = RunConfig(dataset="digits", teacher="resnet8", student="resnet8",
                       epochs=2)
    assert "backup_interval_s" not in config.record("distill")
    every = dataclasses.replace(config, backup_interval_s=0)
    assert every.record("distill")["backup_interval_s"] == 0
    # A run resumes with another interval: it changes no result.
    (tmp_path / "config.json").write_text(json.dumps(
        every.record("distill")))
    (tmp_path / "metrics.csv").write_text("epoch,loss\n0,1.0\n")
    RunFolder(tmp_path, config.record("distill"))


def test_the_engine_gives_the_run_folder_its_interval(tmp_path):
    config = RunConfig(dataset="digits", teacher="resnet8", student="resnet8",
                       epochs=2, output_dir=str(tmp_path / "run"),
                       backup_interval_s=7)
    strategy = tf.distribute.get_strategy()
    run = engine.open_run(config, "distill", "run", strategy)
    assert run.backup_interval_s == 7
    # Every worker of a multi-worker run backs up at the same epochs.
    workers = dataclasses.replace(config, strategy="multiworker")
    assert engine.open_run(workers, "distill", "run",
                           strategy).backup_interval_s == 0


def test_fit_data_without_autotune_yields_the_same_batches():
    """Autotuning off (releasing a used iterator no longer waits for it)
    changes neither the batches nor their order."""
    x, y = tiny_data(40)

    def pipeline():
        return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(
            40, seed=3).map(lambda a, b: (a * 2.0, b),
                            num_parallel_calls=tf.data.AUTOTUNE).batch(8)

    tuned, static = pipeline(), engine.without_autotune(pipeline())
    assert static.options().autotune.enabled is False
    for _ in range(2):  # two epochs: a new iterator each
        for (a, b), (c, d) in zip(tuned, static, strict=True):
            np.testing.assert_array_equal(a, c)
            np.testing.assert_array_equal(b, d)
    assert engine.without_autotune(None) is None


def test_steps_per_epoch_is_the_known_length_of_the_data():
    """Given to fit, it spares the iterator Keras throws away each epoch."""
    x, y = tiny_data(40)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    assert engine.steps_per_epoch(ds.batch(8)) == 5
    assert engine.steps_per_epoch(ds.batch(16)) == 3
    unknown = ds.filter(lambda a, b: b >= 0).batch(8)
    assert engine.steps_per_epoch(unknown) is None
    assert engine.steps_per_epoch(ds.repeat().batch(8)) is None
    assert engine.steps_per_epoch((x, y)) is None
    assert engine.steps_per_epoch(ds.take(0).batch(8)) is None
