"""The engine's speed settings: steps_per_execution, teacher_dtype, fold_teacher."""

import dataclasses
import json

import pytest

from keras_mixkd import training
from keras_mixkd.models import folding


def test_bad_speed_settings_are_refused_by_name():
    for field, value in (("teacher_dtype", "int8"), ("fold_teacher", "yes"),
                         ("steps_per_execution", 0)):
        with pytest.raises(ValueError, match=field):
            training.RunConfig(dataset="digits", **{field: value})


@pytest.mark.slow
def test_distill_runs_a_bfloat16_folded_teacher(tmp_path, monkeypatch):
    copies = []

    def spy(*args, **kwargs):  # the teacher copy the Distiller's fit runs
        copies.append(folding_frozen_teacher(*args, **kwargs))
        return copies[-1]

    folding_frozen_teacher = folding.frozen_teacher
    monkeypatch.setattr(folding, "frozen_teacher", spy)
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
    # The teacher really ran folded and in bfloat16, the student in float32.
    (copy,) = {id(c): c for c in copies}.values()
    assert copy.pairs  # BatchNorm folded into its convolutions
    computing = {layer.compute_dtype for layer in copy.model.layers
                 if layer.weights}
    assert computing == {"bfloat16"}
    assert student.dtype_policy.compute_dtype == "float32"
    record = json.loads((tmp_path / "student" / "config.json").read_text())
    # Settings that change results are recorded; steps_per_execution is not.
    assert record["teacher_dtype"] == "bfloat16"
    assert record["fold_teacher"] == "on"
    assert "steps_per_execution" not in record
