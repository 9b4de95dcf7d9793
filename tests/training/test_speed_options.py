"""The engine's speed settings: steps_per_execution, teacher_dtype, fold_teacher."""

import dataclasses
import json

import pytest

from keras_mixkd import training


def test_bad_speed_settings_are_refused_by_name():
    for field, value in (("teacher_dtype", "int8"), ("fold_teacher", "yes"),
                         ("steps_per_execution", 0)):
        with pytest.raises(ValueError, match=field):
            training.RunConfig(dataset="digits", **{field: value})


def test_distill_runs_a_bfloat16_folded_teacher(tmp_path):
    base = training.RunConfig(dataset="digits", epochs=1, batch_size=32,
                              train_size=256, verbose="0")
    teacher, _ = training.train_teacher(dataclasses.replace(
        base, model="resnet8", output_dir=str(tmp_path / "teacher")))
    config = dataclasses.replace(
        base, teacher="resnet8", student="resnet8", teacher_dtype="bfloat16",
        fold_teacher="on", steps_per_execution=2,
        output_dir=str(tmp_path / "student"))
    student, summary = training.distill(config, teacher=teacher)
    assert 0.0 <= summary["last_accuracy"] <= 1.0
    record = json.loads((tmp_path / "student" / "config.json").read_text())
    # Settings that change results are recorded; steps_per_execution is not.
    assert record["teacher_dtype"] == "bfloat16"
    assert record["fold_teacher"] == "on"
    assert "steps_per_execution" not in record
