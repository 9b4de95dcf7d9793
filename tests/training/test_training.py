"""keras_mixkd.training from Python: RunConfig, train_teacher, distill, callbacks."""

import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_mixkd import training
from keras_mixkd.cli import flags
from keras_mixkd.training import RunConfig
from keras_mixkd.training import RunFolder
from tests.helpers import interrupt_at_second_epoch
from tests.helpers import tiny_data
from tests.helpers import tiny_model

FAST = dict(dataset="digits", epochs=1, batch_size=128, verbose="0")

#: Loads a checkpoint with plain Keras, and checks keras_mixkd never loaded.
PLAIN_LOAD = """
import sys
import keras
model = keras.saving.load_model(sys.argv[1])
assert not [m for m in sys.modules if m.startswith("keras_mixkd")], "imported"
print(model.name, model.output_shape[-1])
"""


def test_fields_are_the_flags_with_their_defaults():
    for field in dataclasses.fields(RunConfig):
        assert field.name in flags.FLAGS, field.name
        assert flags.FLAGS[field.name].default == field.default, field.name


@pytest.mark.parametrize("kwargs,message", [
    ({"loss": "mixstd", "temperature": 0.0}, None),  # checked by distill
    ({"mixup_alpha": 0.0}, None),  # a teacher without mixup
    ({"mix_fraction": 1.5}, "`mix_fraction` must be in [0, 1]"),
    ({"mixup_alpha": -1.0}, "`mixup_alpha`, `mix_fraction`, `mix_sampling`:"
     " `alpha` must be > 0"),
    ({"mix_sampling": "any"}, "`sampling` must be one of"),
    ({"ce_weight": -1.0}, "`ce_weight`, `kd_weight`: `ce_weight` must be"),
    ({"learning_rate": -0.1}, "The learning rate must be > 0"),
    ({"weight_decay": -0.1}, "`weight_decay` must be >= 0"),
    ({"epochs": 0}, "`epochs` must be >= 1"),
    ({"dataset": "imagenet"}, "`dataset`: Unknown dataset 'imagenet'"),
    ({"dataset": "folder:/nonexistent"}, "/nonexistent is not a folder"),
    ({"loss": "nope"}, "`loss=nope` is not one of"),
    ({"mixing": "blend"}, "`mixing=blend` is not one of"),
    ({"mixed_precision": "int8"}, "`mixed_precision=int8` is not one of"),
    ({"preset": "paper", "loss": "kd"}, "`preset=paper` fixes `loss=mixstd`"),
    ({"preset": "paper", "epochs": 10}, "`preset=paper` fixes `epochs=240`"),
    ({"preset": "paper", "learning_rate": 0.1},
     "`preset=paper` keeps the default `learning_rate`, but "
     "`learning_rate=0.1` was given"),
    ({"preset": "paper", "temperature": 2.0}, "keeps the default"),
    ({"preset": "patient", "loss": "ls"}, "`preset=patient` fixes `loss=kd`"),
    ({"preset": "patient", "temperature": 2.0},
     "`preset=patient` fixes `temperature=4.0`"),
    ({"preset": "patient", "epochs": 60}, "fixes `epochs=240`"),
    ({"preset": "fast"}, "`preset=fast` is not one of"),
])
def test_bad_settings_fail_when_the_config_is_made(kwargs, message):
    if message is None:
        RunConfig(**kwargs)
        return
    with pytest.raises(ValueError) as error:
        RunConfig(**kwargs)
    assert message in str(error.value)


def test_a_preset_sets_the_fields_left_at_their_defaults():
    from keras_mixkd.experiments.compare import METHODS
    config = training.DistillConfig(preset="patient", seed=3)
    assert (config.loss, config.temperature, config.mixing, config.mix_mode,
            config.ce_weight, config.kd_weight, config.epochs,
            config.batch_size, config.learning_rate, config.seed) == (
        "kd", 4.0, "fmu", "append", 0.1, 0.9, 240, 64, None, 3)
    assert config.record()["loss"] == "kd"
    assert config.record()["mix_mode"] == "append"
    # The preset is the measured compare method, kd_append_mixup.
    method = METHODS["kd_append_mixup"].settings
    for name in ("loss", "temperature", "mixing", "mix_mode"):
        assert getattr(config, name) == method[name]
    # A given value equal to the preset's is accepted; the paper preset
    # changes nothing, its values being the defaults.
    assert RunConfig(preset="patient", mixing="fmu").mixing == "fmu"
    paper = RunConfig(preset="paper", seed=1)
    assert dataclasses.replace(paper, preset=None) == RunConfig(seed=1)


@pytest.mark.parametrize("kwargs,message", [
    ({"loss": "mixstd", "temperature": 0.0}, "`loss`, `temperature`: "),
    ({"loss": "kd", "temperature": 0.0}, "`loss`, `temperature`: "),
    ({"mixing": "none", "mix_fraction": 0.3}, "applies to `mixing=pmu` only"),
    ({"mixing": "fmu", "mix_sampling": "exact"}, "applies to `mixing=pmu`"),
    ({"mixing": "none", "mixup_alpha": 0.5}, "no effect with `mixing=none`"),
    ({"mixing": "none", "mix_mode": "append"}, "give a `mixing`"),
    ({"mixup_alpha": 0.0}, "`mixup_alpha` must be > 0 to mix"),
    ({"jit_compile": True, "mixing": "mixup"}, "XLA cannot compile"),
])
def test_distillation_rules(kwargs, message):
    config = RunConfig(**{"student": "resnet8", **kwargs})
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        config.check_distill()


def test_record_keeps_old_keys_and_adds_only_changed_new_ones():
    config = RunConfig(dataset="digits", model="resnet8", teacher="resnet14",
                       output_dir="x", verbose="2")
    teacher = config.record("train-teacher")
    assert teacher == {
        "command": "train-teacher", "model": "resnet8", "mixup_alpha": 0.0,
        "dataset": "digits", "epochs": 240, "batch_size": 64,
        "learning_rate": None, "weight_decay": 5e-4, "seed": 0,
        "strategy": "default", "mixed_precision": "none",
        "jit_compile": False}
    distill = config.record("distill")
    assert distill["mixup_alpha"] == 1.0 and distill["teacher"] == "resnet14"
    assert "model" not in distill and "output_dir" not in distill
    assert "deterministic" not in distill
    assert dataclasses.replace(config, deterministic=True).record(
        "distill")["deterministic"] is True
    # A field added later is recorded only where it is not its default.
    assert "train_size" not in distill
    assert dataclasses.replace(config, train_size=100).record(
        "train-teacher")["train_size"] == 100


def test_a_folder_of_an_earlier_version_resumes(tmp_path):
    config = RunConfig(dataset="digits", teacher="resnet8", student="resnet8")
    old = {("beta_alpha" if k == "mixup_alpha" else k): v
           for k, v in config.record("distill").items()}
    (tmp_path / "config.json").write_text(json.dumps(old))
    (tmp_path / "metrics.csv").write_text("epoch,loss\n0,1.0\n")  # 1 epoch
    RunFolder(tmp_path, config.record("distill"))  # the same run: no error
    changed = dataclasses.replace(config, mixup_alpha=0.5)
    with pytest.raises(ValueError, match="differs in: mixup_alpha"):
        RunFolder(tmp_path, changed.record("distill"))


def _plain_load(path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", PLAIN_LOAD, str(path)],
                            capture_output=True, text=True, env=env,
                            cwd="/", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher")
    config = RunConfig(model="resnet8", mixup_alpha=1.0, output_dir=str(out),
                       **FAST)
    model, summary = training.train_teacher(config)
    return config, model, summary


def test_train_teacher_returns_the_model_and_summary(teacher_run):
    config, model, summary = teacher_run
    out = pathlib.Path(config.output_dir)
    assert model.name == "resnet8" and summary["epochs"] == 1
    assert 0 <= summary["last_accuracy"] <= summary["best_accuracy"] <= 1
    assert json.loads((out / "summary.json").read_text()) == summary
    recorded = json.loads((out / "config.json").read_text())
    assert recorded == config.record("train-teacher")


@pytest.mark.slow
def test_checkpoints_load_without_keras_mixkd(teacher_run, tmp_path):
    config, teacher, _ = teacher_run
    checkpoints = pathlib.Path(config.output_dir) / "checkpoints"
    for name in ("best.keras", "last.keras"):
        assert _plain_load(checkpoints / name) == ["resnet8", "10"]
    loaded = keras.saving.load_model(checkpoints / "last.keras")
    for a, b in zip(loaded.weights, teacher.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    student_config = dataclasses.replace(
        config, teacher="resnet8", student="resnet8", mixup_alpha=None,
        output_dir=str(tmp_path / "student"))
    student, summary = training.distill(student_config, teacher=teacher)
    assert student.name == "resnet8" and summary["epochs"] == 1
    assert _plain_load(tmp_path / "student" / "checkpoints" / "best.keras") \
        == ["resnet8", "10"]


@pytest.mark.slow
def test_calling_again_resumes_from_the_last_finished_epoch(
        teacher_run, tmp_path, monkeypatch):
    _, teacher, _ = teacher_run
    config = RunConfig(teacher="resnet8", student="resnet8", mixing="fmu",
                       output_dir=str(tmp_path), **{**FAST, "epochs": 2})
    interrupt_at_second_epoch(
        monkeypatch, lambda: training.distill(config, teacher=teacher))
    assert (tmp_path / "backup").is_dir()
    _, summary = training.distill(config, teacher=teacher)
    assert summary["epochs"] == 2
    rows = (tmp_path / "metrics.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1"]
    with pytest.raises(ValueError, match="differs in: mixing"):
        training.distill(dataclasses.replace(config, mixing="pmu"),
                         teacher=teacher)


def test_distill_checks_the_teacher_file_before_any_data():
    config = RunConfig(teacher="resnet8", student="resnet8",
                       teacher_weights="/nonexistent.keras", **FAST)
    with pytest.raises(ValueError, match="`teacher_weights=/nonexistent"
                       r"\.keras`: no file there"):
        training.distill(config)
    with pytest.raises(ValueError, match="resnet999` is not an architecture"):
        training.distill(dataclasses.replace(config, teacher="resnet999"))


def test_nan_guard_stops_and_says_where(tmp_path):
    model = tiny_model("m")
    model.compile(keras.optimizers.SGD(0.1),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = tiny_data(32)
    x[16:] = 3e38  # the second batch of 16 overflows to inf, then NaN
    run = RunFolder(tmp_path, {"epochs": 3})
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0,
                        shuffle=False, callbacks=run.callbacks(model))
    assert len(history.history["loss"]) == 1
    assert isinstance(run.guard, keras.callbacks.TerminateOnNaN)
    assert "epoch 1, batch 2" in run.guard.failure
    with pytest.raises(training.TrainingStopped, match="No checkpoint"):
        run.check_finished()
    assert not (tmp_path / "checkpoints" / "last.keras").exists()
