"""The ``mixkd`` command line, end to end on digits (1-2 short epochs)."""

import json

import keras
import pytest
import tensorflow_datasets as tfds

from keras_mixkd.cli import main as cli
from keras_mixkd.training import RunFolder

FAST = ["--dataset=digits", "--epochs=1", "--verbose=0", "--batch_size=128"]


def mixkd(*args):
    return cli.run(["mixkd", *args])


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    """A resnet8 teacher trained with mixup for one epoch (shared)."""
    out = tmp_path_factory.mktemp("teacher")
    assert mixkd("train-teacher", "--model=resnet8", "--mixup_alpha=1.0",
                 f"--output_dir={out}", *FAST) == 0
    return out


def _check_run_folder(path, epochs):
    config = json.loads((path / "config.json").read_text())
    summary = json.loads((path / "summary.json").read_text())
    assert summary["epochs"] == epochs
    assert 0.0 <= summary["last_accuracy"] <= 1.0
    assert summary["best_accuracy"] >= summary["last_accuracy"]
    rows = (path / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == epochs + 1 and "val_accuracy" in rows[0]
    for name in ("best.keras", "last.keras", "best.json"):
        assert (path / "checkpoints" / name).is_file()
    assert any((path / "tensorboard").rglob("*tfevents*"))
    assert not (path / "backup").exists()  # removed once the run finished
    return config, summary


def test_train_teacher_writes_a_complete_run_folder(teacher_run):
    config, _ = _check_run_folder(teacher_run, 1)
    assert config["model"] == "resnet8" and config["mixup_alpha"] == 1.0
    model = keras.saving.load_model(teacher_run / "checkpoints" / "last.keras")
    assert model.output_shape == (None, 10)


def test_distill_evaluate_and_flags_in_config(teacher_run, tmp_path, capsys):
    weights = teacher_run / "checkpoints" / "best.keras"
    out = tmp_path / "kd"
    assert mixkd("distill", "--teacher=resnet8", f"--teacher_weights={weights}",
                 "--student=resnet8", "--loss=kd", "--temperature=2",
                 "--mixing=cutmix", "--mixup_alpha=0.5", "--ce_weight=0.2",
                 "--kd_weight=0.8", f"--output_dir={out}", *FAST) == 0
    config, summary = _check_run_folder(out, 1)
    assert (config["loss"], config["temperature"], config["mixing"],
            config["mixup_alpha"]) == ("kd", 2.0, "cutmix", 0.5)
    assert mixkd("evaluate", "--model=resnet8",
                 f"--weights={out / 'checkpoints' / 'last.keras'}",
                 f"--output_dir={out}", "--dataset=digits", "--verbose=0") == 0
    evaluation = json.loads((out / "evaluation.json").read_text())
    # Within one of digits' 360 test images: the run computed with the fused
    # BatchNorm kernel, the evaluated file may compute with Keras's layer,
    # and on another CPU their rounding may flip a near tie.
    assert evaluation["accuracy"] == pytest.approx(summary["last_accuracy"],
                                                   abs=1.001 / 360)


@pytest.mark.slow
def test_distill_appends_mixed_queries_and_matches_functions(teacher_run,
                                                             tmp_path):
    """kd_append_mixup's and funmatch's settings, as distill flags."""
    weights = teacher_run / "checkpoints" / "best.keras"
    for name, flags in (
            ("append", ["--mix_mode=append", "--mixing=fmu", "--loss=kd"]),
            ("funmatch", ["--mixing=fmu", "--loss=kd", "--temperature=1",
                          "--ce_weight=0", "--kd_weight=1"])):
        out = tmp_path / name
        assert mixkd("distill", "--teacher=resnet8",
                     f"--teacher_weights={weights}", "--student=resnet8",
                     *flags, f"--output_dir={out}", *FAST) == 0
        config, _ = _check_run_folder(out, 1)
        assert config.get("mix_mode") == (
            "append" if name == "append" else None)  # recorded if not default
        assert config["ce_weight"] == (0.0 if name == "funmatch" else 0.1)


@pytest.mark.slow
def test_resume_after_interruption(teacher_run, tmp_path, monkeypatch):
    weights = teacher_run / "checkpoints" / "best.keras"
    out = tmp_path / "resumed"
    args = ["distill", "--teacher=resnet8", f"--teacher_weights={weights}",
            "--student=resnet8", f"--output_dir={out}", "--dataset=digits",
            "--epochs=2", "--verbose=0", "--batch_size=128"]

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt("simulated interruption")

    original = RunFolder.callbacks
    monkeypatch.setattr(RunFolder, "callbacks",
                        lambda self, *a, **k: original(self, *a, **k)
                        + [Interrupt()])
    with pytest.raises(KeyboardInterrupt):
        mixkd(*args)
    assert (out / "backup").exists()
    assert len((out / "metrics.csv").read_text().strip().splitlines()) == 2
    monkeypatch.setattr(RunFolder, "callbacks", original)
    assert mixkd(*args) == 0
    rows = (out / "metrics.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1"]  # each once
    _check_run_folder(out, 2)
    # Another configuration in the same folder is refused.
    assert mixkd(*args[:-3], "--epochs=3", "--verbose=0",
                 "--batch_size=128") == 1


@pytest.mark.parametrize("args,message", [
    (["distill", "--teacher=resnet999", "--teacher_weights=x.keras",
      "--student=resnet8"], "resnet999 is not an architecture"),
    (["train-teacher", "--model=resnet8", "--dataset=imagenet"],
     "imagenet"),
    (["distill", "--teacher=resnet8", "--teacher_weights=/nonexistent.keras",
      "--student=resnet8", "--dataset=digits"], "no file there"),
    (["distill", "--teacher=resnet8", "--teacher_weights=w.keras",
      "--student=resnet8", "--loss=mixstd", "--temperature=-1"],
     "--temperature must be > 0"),
    (["distill", "--teacher=resnet8", "--teacher_weights=w.keras",
      "--student=resnet8", "--preset=paper", "--loss=kd"],
     "--preset=paper fixes --loss=mixstd"),
    # A flag given at its default still contradicts the preset.
    (["distill", "--teacher=resnet8", "--teacher_weights=w.keras",
      "--student=resnet8", "--preset=patient", "--mixing=pmu"],
     "--preset=patient fixes --mixing=fmu, but --mixing=pmu was given"),
    (["distill", "--teacher=resnet8", "--teacher_weights=w.keras",
      "--student=resnet8", "--preset=patient", "--learning_rate=0.1"],
     "--preset=patient keeps the default --learning_rate"),
    (["distill", "--teacher=resnet8", "--teacher_weights=w.keras",
      "--student=resnet8", "--mixing=none", "--mix_fraction=0.3"],
     "applies to --mixing=pmu only"),
    (["distill", "--teacher=resnet8", "--teacher_weights=w.keras",
      "--student=resnet8", "--mix_fraction=1.5"], "must be in [0, 1]"),
    (["distill", "--teacher=resnet8", "--student=resnet8"],
     "Missing --teacher_weights"),
    (["frobnicate"], "unknown command"),
])
def test_bad_flags_fail_at_once(args, message, capsys):
    assert mixkd(*args) == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("args,flag", [
    (["convert", "--mixing=fmu"], "--mixing"),
    (["convert", "--model=resnet999", "--mixing=fmu", "--preset=paper"],
     "--mixing"),
    (["evaluate", "--nojit_compile", "--teacher=resnet8"], "--teacher"),
    (["train-teacher", "--model=resnet8", "--loss=kd"], "--loss"),
    (["quickstart", "--dataset=cifar10"], "--dataset"),
])
def test_a_flag_the_command_does_not_use_is_refused_first(args, flag, capsys):
    assert mixkd(*args) == 1
    err = capsys.readouterr().err
    assert f"does not take {flag}:" in err and "Missing" not in err


def test_deprecated_beta_alpha_warns_and_stands_for_mixup_alpha(capsys):
    common = ["distill", "--teacher=resnet8", "--student=resnet8",
              "--teacher_weights=/nonexistent.keras", "--mixing=none"]
    with pytest.warns(FutureWarning, match="--beta_alpha is deprecated"):
        assert mixkd(*common, "--beta_alpha=0.5") == 1
    # Read as --mixup_alpha: the rule of --mixing=none names it.
    assert "--mixup_alpha has no effect" in capsys.readouterr().err
    with pytest.warns(FutureWarning):
        assert mixkd(*common[:-1], "--beta_alpha=0.5",
                     "--mixup_alpha=2") == 1
    assert "differ" in capsys.readouterr().err


def test_teacher_weights_of_another_architecture(teacher_run, capsys):
    weights = teacher_run / "checkpoints" / "best.keras"
    assert mixkd("distill", "--teacher=resnet14", f"--teacher_weights={weights}",
                 "--student=resnet8", "--dataset=digits", "--verbose=0") == 1
    err = capsys.readouterr().err
    assert "--teacher_weights" in err and "resnet14" in err


def test_convert_official_checkpoint(reference_dir, tmp_path):
    out = tmp_path / "resnet20.keras"
    assert mixkd("convert", "--model=resnet20",
                 f"--weights={reference_dir / 'resnet20.pth'}",
                 f"--output={out}") == 0
    assert keras.saving.load_model(out).output_shape == (None, 100)
    assert mixkd("convert", "--model=resnet8x4",
                 f"--weights={reference_dir / 'resnet20.pth'}",
                 f"--output={tmp_path / 'bad.keras'}") == 1


def test_train_teacher_on_mocked_cifar_through_the_real_pipeline(tmp_path):
    with tfds.testing.mock_data(num_examples=16):
        assert mixkd("train-teacher", "--model=resnet8", "--dataset=cifar10",
                     "--epochs=1", "--batch_size=8", "--verbose=0",
                     f"--output_dir={tmp_path}") == 0
    _check_run_folder(tmp_path, 1)


@pytest.mark.slow
def test_quickstart(tmp_path, capsys):
    assert mixkd("quickstart", "--epochs=1", "--verbose=0",
                 f"--output_dir={tmp_path}") == 0
    printed = capsys.readouterr().out
    assert "MixKD (PMU + MIXSTD)" in printed and "KD (T=4)" in printed
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["model"] for r in results["rows"]] == [
        "teacher resnet14", "resnet8 alone", "resnet8 + KD (T=4)",
        "resnet8 + MixKD (PMU + MIXSTD)"]
    for name in ("teacher", "student", "kd", "mixkd"):
        _check_run_folder(tmp_path / name, 1)
    config = json.loads((tmp_path / "kd" / "config.json").read_text())
    assert (config["loss"], config["temperature"], config["mixing"]) == (
        "kd", 4.0, "none")
    assert (tmp_path / "results.md").read_text().startswith("| model |")
    assert "RESULTS.md" in printed and "mixkd compare" in printed


def test_help_lists_the_flags_of_a_command(capsys):
    assert mixkd("distill", "--help") == 0
    out = capsys.readouterr().out
    assert "mixkd distill" in out and "--teacher_weights" in out
    assert "--num_classes" not in out  # convert's: not a flag of distill
    assert mixkd("--help") == 0 and "commands:" in capsys.readouterr().out


def test_stray_positional_arguments_are_refused(capsys):
    assert mixkd("evaluate", "resnet8") == 1
    assert "unexpected argument" in capsys.readouterr().err
