"""``distill`` with several teachers: ``extra_teacher_weights`` (files),
``extra_teachers`` (their architectures) and ``teacher_loss_weights``, from
Python and the command line, recorded in config.json, checked before the run
folder is made."""

import dataclasses
import json

import keras
import numpy as np
import pytest

import keras_mixkd
from keras_mixkd import training
from keras_mixkd.cli import main as cli
from keras_mixkd.training import DistillConfig
from keras_mixkd.training import engine

FAST = dict(dataset="digits", epochs=1, batch_size=128, verbose="0")


def _saved_teacher(path, name="resnet8", seed=0):
    """An untrained zoo model for digits, saved as a .keras file."""
    _, _, info = keras_mixkd.data.load("digits")
    keras.utils.set_random_seed(seed)
    model = keras_mixkd.models.create(name, info.num_classes,
                                      input_shape=info.image_shape)
    model.save(path)
    return model


@pytest.fixture(scope="module")
def teacher_files(tmp_path_factory):
    """Two different resnet8 teachers' files and the second's weights alone."""
    folder = tmp_path_factory.mktemp("teachers")
    first = _saved_teacher(folder / "first.keras", seed=0)
    second = _saved_teacher(folder / "second.keras", seed=1)
    second.save_weights(folder / "second.weights.h5")
    return folder, first, second


@pytest.fixture
def built_distillers(monkeypatch):
    """The Distillers `distill` builds, as they are built."""
    built = []

    class Recorded(keras_mixkd.Distiller):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(engine, "Distiller", Recorded)
    return built


def test_lists_are_parsed_from_flag_text_and_recorded_as_lists():
    config = DistillConfig(teacher_weights="t.keras", student="resnet8",
                           extra_teacher_weights="a.keras, b.pth",
                           extra_teachers=",resnet14",
                           teacher_loss_weights="1,2,1")
    assert config.extra_teacher_weights == ("a.keras", "b.pth")
    assert config.teacher_loss_weights == (1.0, 2.0, 1.0)
    assert config.extra_teacher_sources() == [(None, "a.keras"),
                                              ("resnet14", "b.pth")]
    record = config.record()
    assert record["extra_teacher_weights"] == ["a.keras", "b.pth"]
    assert record["teacher_loss_weights"] == [1.0, 2.0, 1.0]
    # One teacher: nothing new is recorded (older folders keep resuming).
    plain = DistillConfig(teacher_weights="t.keras", student="resnet8")
    assert not {"extra_teacher_weights", "extra_teachers",
                "teacher_loss_weights"} & set(plain.record())


@pytest.mark.parametrize("kwargs,message", [
    (dict(extra_teacher_weights=("a.keras",), teacher_loss_weights=(1.0,)),
     r"^`teacher_loss_weights` has 1 value\(s\) for 2 teacher\(s\)"),
    (dict(teacher_loss_weights=(1.0, -1.0), extra_teacher_weights="a.keras"),
     "must be >= 0 and not all 0"),
    (dict(extra_teachers="resnet8"),
     r"names 1 architecture\(s\) for 0 file\(s\)"),
    (dict(extra_teacher_weights="a.pth,b.keras", extra_teachers="resnet8"),
     r"names 1 architecture\(s\) for 2 file\(s\)"),
    (dict(teacher_loss_weights="1,x"), "each item must be a float"),
])
def test_inconsistent_teacher_lists_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DistillConfig(teacher_weights="t.keras", student="resnet8",
                      **kwargs).check_distill()


def test_two_teacher_files_distil_with_their_weights(
        teacher_files, tmp_path, built_distillers):
    folder, first, second = teacher_files
    config = DistillConfig(
        teacher_weights=str(folder / "first.keras"), student="resnet8",
        extra_teacher_weights=(str(folder / "second.weights.h5"),),
        extra_teachers=("resnet8",), teacher_loss_weights=(1.0, 3.0),
        output_dir=str(tmp_path / "run"), **FAST)
    _, summary = training.distill(config)
    assert summary["epochs"] == 1
    (distiller,) = built_distillers
    assert len(distiller.teachers) == 2
    assert distiller._teacher_weights == [0.25, 0.75]
    for loaded, saved in zip(distiller.teachers, (first, second)):
        for got, want in zip(loaded.get_weights(), saved.get_weights()):
            np.testing.assert_array_equal(got, want)  # frozen: unchanged
        assert not loaded.trainable
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert recorded["extra_teachers"] == ["resnet8"]
    assert recorded["teacher_loss_weights"] == [1.0, 3.0]
    # The same files named relative to another directory: the finished run.
    _, again = training.distill(config)
    assert again == summary and len(built_distillers) == 1
    # Another second teacher is another run.
    with pytest.raises(ValueError, match="differs in: extra_teacher_weights"):
        training.distill(dataclasses.replace(
            config, extra_teacher_weights=(str(folder / "first.keras"),),
            extra_teachers=None))


@pytest.mark.parametrize("extra,message", [
    (dict(extra_teacher_weights="missing.keras"),
     "`extra_teacher_weights=missing.keras`: no file there"),
    (dict(extra_teacher_weights="second.weights.h5"),
     "holds weights only, without the architecture: give `extra_teachers`"),
    (dict(extra_teacher_weights="second.keras",
          extra_teachers="second.keras"),
     "names a file, not an architecture: give it as `extra_teacher_weights`"),
])
def test_a_bad_extra_teacher_is_refused_before_the_run_folder(
        teacher_files, tmp_path, monkeypatch, extra, message):
    folder, _, _ = teacher_files
    monkeypatch.chdir(folder)
    config = DistillConfig(teacher_weights="first.keras", student="resnet8",
                           output_dir=str(tmp_path / "run"), **extra, **FAST)
    with pytest.raises(ValueError, match=message):
        training.distill(config)
    assert not (tmp_path / "run").exists()


def test_the_command_line_takes_several_teacher_files(
        teacher_files, tmp_path, built_distillers):
    folder, _, _ = teacher_files
    out = tmp_path / "cli"
    assert cli.run([
        "mixkd", "distill", f"--teacher_weights={folder / 'first.keras'}",
        f"--extra_teacher_weights={folder / 'second.keras'},"
        f"{folder / 'second.weights.h5'}",
        "--extra_teachers=,resnet8", "--teacher_loss_weights=2,1,1",
        "--student=resnet8", "--dataset=digits", "--epochs=1",
        "--batch_size=128", "--verbose=0", f"--output_dir={out}"]) == 0
    (distiller,) = built_distillers
    assert len(distiller.teachers) == 3
    assert distiller._teacher_weights == [0.5, 0.25, 0.25]
    recorded = json.loads((out / "config.json").read_text())
    assert recorded["extra_teachers"] == ["", "resnet8"]
    assert recorded["teacher_loss_weights"] == [2.0, 1.0, 1.0]
