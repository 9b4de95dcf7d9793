"""``mixkd study --seeds``: each cell repeated per seed, with the engine's
training replaced by untrained models (the wiring, not the learning)."""

import json
import pathlib

import pytest

from keras_mixkd import models
from keras_mixkd.experiments import study as study_lib
from keras_mixkd import training
from keras_mixkd.cli import main as cli

GRID = ["--dataset=digits", "--teachers=resnet8", "--students=resnet8",
        "--teacher_mixup=no", "--student_mixup=no", "--temperatures=4,std",
        "--epochs=1", "--seed=3", "--verbose=0"]


def _fake_training(patch):
    """Records the configurations; writes what a finished run would."""
    seen = []

    def run(config, teacher=None):
        seen.append(config)
        summary = {"epochs": 1, "best_accuracy": 0.5 + 0.01 * config.seed,
                   "best_epoch": 1, "last_accuracy": 0.5 + 0.01 * config.seed
                   + 0.02 * (teacher is not None and config.loss == "mixstd"),
                   "wall_time_s": 1.0}
        path = pathlib.Path(config.output_dir)
        path.mkdir(parents=True, exist_ok=True)
        (path / "summary.json").write_text(json.dumps(summary))
        command = "train-teacher" if teacher is None else "distill"
        (path / "config.json").write_text(json.dumps(config.record(command)))
        model = models.create("resnet8", num_classes=10,
                              input_shape=(32, 32, 3))
        return model, summary

    patch.setattr(training, "train_teacher", lambda config: run(config))
    patch.setattr(training, "distill", run)
    return seen


def test_study_seeds_run_each_cell_per_seed(tmp_path, capsys):
    with pytest.MonkeyPatch.context() as patch:
        seen = _fake_training(patch)
        assert cli.run(["mixkd", "study", *GRID, "--seeds=3",
                        f"--output_dir={tmp_path}"]) == 0
    # Each run gets its command's own configuration.
    cells = [c for c in seen if isinstance(c, training.DistillConfig)]
    assert all(type(c) is training.DistillConfig for c in cells)
    assert [(c.seed, c.loss) for c in cells] == [
        (3, "kd"), (3, "mixstd"), (4, "kd"), (4, "mixstd"), (5, "kd"),
        (5, "mixstd")]
    assert cells[2].output_dir.endswith("resnet8-plain--resnet8-plain--T4"
                                        "--seed4")
    teachers = [c for c in seen if type(c) is training.TeacherConfig]
    assert [c.seed for c in teachers] == [3]  # one teacher
    assert len(cells) + len(teachers) == len(seen)
    rows = study_lib.read_csv(tmp_path / "results.csv")
    assert [r["seed"] for r in rows] == [3, 3, 4, 4, 5, 5]
    report = (tmp_path / "report.md").read_text()
    assert "## Over seeds" in report
    assert "| resnet8-plain--resnet8-plain--Tstd | 3 | 56.00 ± 1.00 |" in (
        report)
    assert "+2.00 [+2.00, +2.00] *" in report
    assert "Cells that differ from their classic-KD cell" in report
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        seen = _fake_training(patch)
        assert cli.run(["mixkd", "study", *GRID, "--seeds=3",
                        f"--output_dir={tmp_path}"]) == 0
    assert seen == []  # finished: nothing runs again
