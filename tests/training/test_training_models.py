"""The engine's models: keras.applications names, .keras files, warm starts,
on an image folder at a size other than 32."""

import dataclasses
import json
import re

import keras
import numpy as np
import pytest

from keras_mixkd import models
from keras_mixkd import training
from keras_mixkd.training import RunConfig
from tests.helpers import write_image_folder

MOBILENET = "keras.applications.MobileNetV3Small"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("images") / "flowers")


@pytest.fixture(scope="module")
def base(folder):
    # 40x36: non-square, not 32, above the MobileNets' minimum of 32.
    return RunConfig(dataset=f"folder:{folder}", image_size="40,36",
                     epochs=1, batch_size=8, verbose="0")


@pytest.fixture(scope="module")
def teacher_file(base, tmp_path_factory):
    """A keras.applications teacher trained 1 epoch on the folder."""
    out = tmp_path_factory.mktemp("teacher")
    model, _ = training.train_teacher(dataclasses.replace(
        base, model=MOBILENET, output_dir=str(out)))
    assert model.input_shape[1:] == (40, 36, 3)
    assert model.output_shape[-1] == 3
    record = json.loads((out / "config.json").read_text())
    assert record["model"] == MOBILENET and record["image_size"] == [40, 36]
    return out / "checkpoints" / "last.keras"


def test_image_size_is_parsed_and_recorded_as_earlier_versions_did():
    assert RunConfig(image_size="16,20").image_size == (16, 20)
    assert RunConfig(image_size="16").image_size == (16, 16)
    assert RunConfig(image_size=16).image_size == (16, 16)
    assert RunConfig(image_size=16).record("train-teacher")["image_size"] == 16
    assert RunConfig(image_size="16,20").record(
        "train-teacher")["image_size"] == [16, 20]
    with pytest.raises(ValueError, match="`image_size=0,5`"):
        RunConfig(image_size="0,5")


@pytest.mark.slow
def test_distil_an_applications_teacher_file_into_a_smaller_student(
        base, teacher_file, tmp_path):
    # The teacher's architecture comes with its .keras file: no --teacher.
    config = dataclasses.replace(base, teacher_weights=str(teacher_file),
                                 student="resnet8",
                                 output_dir=str(tmp_path / "run"))
    student, summary = training.distill(config)
    teacher = keras.saving.load_model(teacher_file, compile=False)
    assert student.count_params() < teacher.count_params() / 5
    assert student.input_shape[1:] == (40, 36, 3)
    assert summary["epochs"] == 1
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["teacher"] is None and record["student"] == "resnet8"
    assert record["teacher_weights"] == str(teacher_file)
    # Calling it again with the same configuration resumes: nothing to do.
    _, again = training.distill(config)
    assert again["epochs"] == 1


def test_student_weights_warm_start_from_a_file(base, folder, tmp_path):
    info = training.engine.dataset_info(base)
    keras.utils.set_random_seed(3)
    start = models.create("resnet8", num_classes=3,
                          input_shape=info.image_shape)
    start.save(tmp_path / "start.keras")
    student = training.build_model(None, tmp_path / "start.keras", info,
                                   "student", "student_weights")
    for ours, theirs in zip(student.weights, start.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    # A name and a file: the file's weights in the named architecture.
    named = training.build_model("resnet8", tmp_path / "start.keras", info,
                                 "student", "student_weights")
    np.testing.assert_array_equal(named.get_layer("fc").kernel.numpy(),
                                  start.get_layer("fc").kernel.numpy())
    with pytest.raises(ValueError, match="`student_weights.*resnet14"):
        training.build_model("resnet14", tmp_path / "start.keras", info,
                             "student", "student_weights")
    # The warm-started student is recorded, and a zoo name is not needed.
    config = dataclasses.replace(
        base, teacher="resnet8", teacher_weights=str(tmp_path / "start.keras"),
        student_weights=str(tmp_path / "start.keras"),
        output_dir=str(tmp_path / "run"), mixing="none")
    training.distill(config)
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["student_weights"] == str(tmp_path / "start.keras")


@pytest.mark.parametrize("kwargs,message", [
    ({}, "Missing `student` (an architecture) or `student_weights`"),
    ({"student_weights": "w.weights.h5"}, "holds weights only"),
    ({"student": "keras.applications.Nope"},
     "`student=keras.applications.Nope` is not an architecture"),
    ({"student": "resnet8", "teacher_weights": "w.pth", "teacher": None},
     "`teacher_weights=w.pth` holds weights only"),
])
def test_model_settings_fail_before_any_data(kwargs, message):
    config = RunConfig(**{"dataset": "digits", "teacher": "resnet8",
                          "teacher_weights": "t.keras", **kwargs})
    with pytest.raises(ValueError, match=re.escape(message)):
        training.distill(config)
