"""``mixkd study`` and ``mixkd report`` end to end: a tiny grid on digits."""

import keras
import pytest

from keras_mixkd.experiments import study as study_lib
from keras_mixkd import training
from keras_mixkd.cli import main as cli
from keras_mixkd.training import RunFolder

GRID = ["--dataset=digits", "--teachers=resnet8", "--students=resnet8",
        "--teacher_mixup=no,yes", "--student_mixup=no",
        "--temperatures=4,std", "--epochs=1", "--batch_size=128",
        "--verbose=0"]
INTERRUPTED = "resnet8-mixup--resnet8-plain--T4"
PNG = b"\x89PNG"


def mixkd(*args):
    return cli.run(["mixkd", *args])


def _count_training(monkeypatch):
    """Counts the calls of the two training functions the study drives."""
    calls = {"teacher": 0, "distill": 0}
    for name, key in (("train_teacher", "teacher"), ("distill", "distill")):
        original = getattr(training, name)

        def counted(*args, _original=original, _key=key, **kwargs):
            calls[_key] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(training, name, counted)
    return calls


class _Interrupt(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if batch == 2:
            raise KeyboardInterrupt("simulated interruption")


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    """A study interrupted inside one cell, then resumed to the end."""
    out = tmp_path_factory.mktemp("study")
    args = ["study", *GRID, f"--output_dir={out}"]
    original = RunFolder.callbacks

    def callbacks(self, *a, **k):
        extra = [_Interrupt()] if self.path.name == INTERRUPTED else []
        return original(self, *a, **k) + extra

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RunFolder, "callbacks", callbacks)
        with pytest.raises(KeyboardInterrupt):
            mixkd(*args)
    assert not (out / "cells" / INTERRUPTED / "summary.json").exists()
    with pytest.MonkeyPatch.context() as patch:
        calls = _count_training(patch)
        assert mixkd(*args) == 0
    # Both teachers and the two cells of the plain teacher were kept.
    assert calls == {"teacher": 0, "distill": 2}
    return out


@pytest.mark.slow
def test_study_writes_results_figures_and_report(study_dir):
    rows = study_lib.read_csv(study_dir / "results.csv")
    assert [(r["teacher_mixup"], r["temperature"]) for r in rows] == [
        (False, 4.0), (False, "std"), (True, 4.0), (True, "std")]
    for row in rows:
        assert row["student_mixing"] == "none" and row["epochs"] == 1
        for key in ("last_accuracy", "ece", "nll", "brier", "logit_std_mean",
                    "teacher_accuracy", "teacher_logit_std_mean"):
            assert row[key] is not None
    assert len(study_lib.read_csv(study_dir / "teachers.csv")) == 2
    figures = sorted(p.name for p in (study_dir / "figures").glob("*.png"))
    assert figures == ["accuracy-resnet8-plain.png", "teacher_smoothness.png"]
    for name in figures:
        assert (study_dir / "figures" / name).read_bytes()[:4] == PNG
        assert f"(figures/{name})" in (study_dir / "report.md").read_text()
    config = (study_dir / "cells" / INTERRUPTED / "config.json").read_text()
    assert '"loss": "kd"' in config and '"temperature": 4.0' in config
    assert '"mixup_alpha": 1.0' in (
        study_dir / "teachers" / "resnet8-mixup" / "config.json").read_text()


@pytest.mark.slow
def test_finished_study_resumes_without_training(study_dir, monkeypatch):
    summaries = sorted(study_dir.rglob("summary.json"))
    assert len(summaries) == 6
    mtimes = [p.stat().st_mtime_ns for p in summaries]
    evaluated = study_dir / "cells" / INTERRUPTED / "analysis.json"
    evaluated.unlink()  # trained, killed before its evaluation
    calls = _count_training(monkeypatch)
    assert mixkd("study", *GRID, f"--output_dir={study_dir}") == 0
    assert calls == {"teacher": 0, "distill": 0}
    assert [p.stat().st_mtime_ns for p in summaries] == mtimes
    assert evaluated.is_file()


@pytest.mark.slow
def test_another_grid_in_the_same_folder_is_refused(study_dir, capsys):
    assert mixkd("study", *GRID[:-4], "--temperatures=1,4", "--epochs=1",
                 "--batch_size=128", f"--output_dir={study_dir}") == 1
    err = capsys.readouterr().err
    assert "holds another grid" in err and "temperatures" in err


@pytest.mark.parametrize("args,message", [
    (["--quick", "--dataset=cifar100"], "--quick runs on digits"),
    (["--loss=kd"], "does not take --loss"),
    (["--mixing=none"], "fmu or pmu"),
    (["--temperatures=hot"], "number > 0 or 'std'"),
    (["--teachers=resnet999"], "resnet999 is not an architecture"),
    (["--teacher_mixup_alpha=0"], "must be > 0"),
])
def test_bad_study_flags_fail_at_once(args, message, tmp_path, capsys):
    assert mixkd("study", f"--output_dir={tmp_path}", *args) == 1
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_report_of_a_run_and_of_a_folder_of_runs(study_dir):
    run = study_dir / "cells" / INTERRUPTED
    assert mixkd("report", str(run)) == 0
    text = (run / "report.md").read_text()
    assert "![training curves](training_curves.png)" in text
    assert (run / "training_curves.png").read_bytes()[:4] == PNG
    assert "| val_accuracy |" in text or "val_accuracy |" in text
    assert mixkd("report", str(study_dir / "cells")) == 0
    text = (study_dir / "cells" / "report.md").read_text()
    assert INTERRUPTED in text and "(runs_curves.png)" in text
    assert (study_dir / "cells" / "runs_curves.png").read_bytes()[:4] == PNG


@pytest.mark.slow
def test_report_of_the_study(study_dir):
    (study_dir / "report.md").unlink()
    assert mixkd("report", str(study_dir)) == 0
    text = (study_dir / "report.md").read_text()
    assert "4 of 4 cells finished" in text and "## Observations" in text
    assert "Mixup-trained resnet8 teachers are" in text


@pytest.mark.parametrize("args,message", [
    ([], "Give one folder"),
    (["/nonexistent/folder"], "No folder at"),
])
def test_report_errors(args, message, capsys):
    assert mixkd("report", *args) == 1
    assert message in capsys.readouterr().err


def test_report_of_a_folder_without_runs(tmp_path, capsys):
    assert mixkd("report", str(tmp_path)) == 1
    assert "holds no run" in capsys.readouterr().err
