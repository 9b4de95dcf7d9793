"""Run folders written by an earlier version resume (tests/fixtures).

The folders of ``tests/fixtures/run_folders`` were written by
``tests/fixtures/make_run_folders.py`` (with `RunConfig`, before each
command had its own configuration) and stopped before the second of two
epochs; each resumes from its backup and finishes with today's code, given
its command's configuration or a `RunConfig`.
"""

import dataclasses
import json
import pathlib
import shutil

import keras
import pytest

from keras_mixkd import training
from keras_mixkd.training import Backup
from keras_mixkd.training import RunFiles
from tests.fixtures.make_run_folders import CONFIGS

FIXTURES = pathlib.Path(__file__).parents[1] / "fixtures" / "run_folders"


@pytest.fixture
def folders(tmp_path):
    shutil.copytree(FIXTURES, tmp_path / "runs")
    return tmp_path / "runs"


#: How the test gives a run its configuration.
AS = {"RunConfig": lambda config, command: config,
      "command": lambda config, command: config.for_command(command)}


def _resumed(path, config, command, run, **kwargs):
    before = RunFiles(path)
    recorded = before.record()
    first_row = before.metrics()[0]
    assert before.last_epoch() == 1 and before.summary() is None
    assert recorded == config.record(command)  # today's record of it
    _, summary = run(dataclasses.replace(config, output_dir=str(path)),
                     **kwargs)
    after = RunFiles(path)
    assert summary["epochs"] == 2 and after.summary() == summary
    rows = after.metrics()
    assert [row["epoch"] for row in rows] == [0, 1]
    assert rows[0] == first_row  # epoch 0 was not trained again
    assert after.record() == recorded
    assert after.last_epoch() == 2
    assert not Backup.finished_epochs(after.backup_dir)  # none left over


@pytest.mark.parametrize("given", list(AS))
def test_a_teacher_folder_resumes(folders, given):
    config = AS[given](CONFIGS["teacher"], "train-teacher")
    if given == "command":
        assert type(config) is training.TeacherConfig
    _resumed(folders / "teacher", config, "train-teacher",
             training.train_teacher)


@pytest.mark.parametrize("given", list(AS))
def test_a_distillation_folder_resumes(folders, given):
    config = AS[given](CONFIGS["student"], "distill")
    if given == "command":
        assert type(config) is training.DistillConfig
    teacher = keras.saving.load_model(
        RunFiles(folders / "teacher").last_checkpoint)
    _resumed(folders / "student", config, "distill", training.distill,
             teacher=teacher)


def test_the_folders_are_refused_under_another_configuration(folders):
    changed = training.TeacherConfig(
        dataset="digits", model="resnet8", epochs=3, batch_size=128,
        mixup_alpha=1.0, verbose="0", output_dir=str(folders / "teacher"))
    with pytest.raises(ValueError, match="differs in: epochs"):
        training.train_teacher(changed)
    assert json.loads((folders / "teacher" / RunFiles.CONFIG).read_text())[
        "epochs"] == 2
