"""Bad files and folders given to ``mixkd``: one line naming the file or
flag and the fix, exit status 1, and no run folder written."""

import json
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from keras_mixkd.cli import flag_docs
from keras_mixkd.cli import main as cli

FAST = ["--epochs=1", "--verbose=0", "--batch_size=16", "--model=resnet8"]


def write_folder(root, channels_per_class, size=(8, 8)):
    rng = np.random.default_rng(0)
    for name, channels in channels_per_class.items():
        (root / name).mkdir(parents=True)
        for i, count in enumerate(channels):
            image = rng.integers(0, 256, (*size, count), np.uint8)
            (root / name / f"{i}.png").write_bytes(
                tf.io.encode_png(image).numpy())
    return root


def refused(capsys, tmp_path, command, *args):
    """Runs a command that must fail; returns its one-line message."""
    out = tmp_path / "run"
    if "output_dir" in flag_docs.COMMAND_FLAGS[command]:
        args = (*args, f"--output_dir={out}")
    status = cli.run(["mixkd", command, *args])
    err = capsys.readouterr().err.strip()
    assert status == 1, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"mixkd {command}: error: ")
    assert "Traceback" not in err
    assert not out.exists()  # nothing written
    return err


@pytest.fixture
def gray_folder(tmp_path):
    return write_folder(tmp_path / "gray", {"a": [1] * 3, "b": [1] * 3})


def test_corrupt_image(capsys, tmp_path, gray_folder):
    (gray_folder / "b" / "x.png").write_bytes(b"<html>not found</html>")
    err = refused(capsys, tmp_path, "train-teacher",
                  f"--dataset=folder:{gray_folder}", *FAST)
    assert f"{gray_folder / 'b' / 'x.png'}: not a PNG" in err
    assert "Remove or replace" in err


def test_one_class(capsys, tmp_path):
    root = write_folder(tmp_path / "one", {"only": [3] * 6})
    err = refused(capsys, tmp_path, "train-teacher",
                  f"--dataset=folder:{root}", *FAST)
    assert "has one class (only)" in err and "at least two" in err


def test_empty_folder(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    err = refused(capsys, tmp_path, "train-teacher",
                  f"--dataset=folder:{tmp_path / 'empty'}", *FAST)
    assert "holds no images" in err
    assert "digits" not in err and "network" not in err


@pytest.mark.slow
def test_mixed_channels_then_converted(capsys, tmp_path):
    root = write_folder(tmp_path / "mixed", {"a": [1, 3, 1], "b": [3, 1, 3]})
    err = refused(capsys, tmp_path, "train-teacher",
                  f"--dataset=folder:{root}", *FAST)
    assert "mixes 3 grayscale images" in err and "3 colour images" in err
    assert "--channels=1" in err
    for channels in (1, 3):
        out = tmp_path / f"run{channels}"
        assert cli.run(["mixkd", "train-teacher", f"--dataset=folder:{root}",
                        f"--channels={channels}", f"--output_dir={out}",
                        *FAST]) == 0
        assert json.loads((out / "config.json").read_text())[
            "channels"] == channels
        import keras

        model = keras.saving.load_model(out / "checkpoints" / "last.keras")
        assert model.input_shape == (None, 8, 8, channels)


def test_channels_other_than_1_or_3(capsys, tmp_path, gray_folder):
    err = refused(capsys, tmp_path, "train-teacher", "--channels=2",
                  f"--dataset=folder:{gray_folder}", *FAST)
    assert "--channels=2 is not one of: 1, 3" in err


def not_a_zip(path):
    path.write_text("a note, saved as .keras")
    return "not a zip archive"


def zip_without_config(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model.weights.h5", b"")
    return "a zip without config.json"


def zip_with_bad_config(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{not json")
    return "a zip whose config.json is not JSON"


@pytest.fixture
def teacher_weights(tmp_path):
    from keras_mixkd import models

    path = tmp_path / "teacher.weights.h5"
    models.create("resnet8", num_classes=10, input_shape=(32, 32, 3)
                  ).save_weights(path)
    return path


def command_args(command, flag, tmp_path, teacher_weights):
    """The other arguments of a command whose ``--flag`` file is bad."""
    if command == "evaluate":
        return ["--model=resnet8"]
    if command == "export":
        return ["--format=litert", f"--output={tmp_path / 'm.tflite'}"]
    args = ["--teacher=resnet8", "--student=resnet8"]
    return args + ([f"--teacher_weights={teacher_weights}"]
                   if flag == "student_weights" else [])


COMMAND_FLAGS = [("evaluate", "weights"), ("export", "weights"),
                 ("distill", "teacher_weights"),
                 ("distill", "student_weights")]


@pytest.mark.parametrize("make", [not_a_zip, zip_without_config,
                                  zip_with_bad_config])
@pytest.mark.parametrize("command, flag", COMMAND_FLAGS)
def test_a_keras_file_that_is_not_a_model(capsys, tmp_path, teacher_weights,
                                          make, command, flag):
    bad = tmp_path / "model.keras"
    found = make(bad)
    err = refused(capsys, tmp_path, command, "--dataset=digits",
                  f"--{flag}={bad}",
                  *command_args(command, flag, tmp_path, teacher_weights))
    assert f"--{flag}={bad} is not a Keras model file: {found}" in err
    assert "--dataset" not in err and "image_size" not in err
    assert not (tmp_path / "m.tflite").exists()


@pytest.mark.parametrize("command, flag", COMMAND_FLAGS)
def test_a_missing_file(capsys, tmp_path, teacher_weights, command, flag):
    missing = tmp_path / "nowhere" / "best.keras"
    err = refused(capsys, tmp_path, command, "--dataset=digits",
                  f"--{flag}={missing}",
                  *command_args(command, flag, tmp_path, teacher_weights))
    assert f"--{flag}={missing}: no file there" in err
    assert "--dataset" not in err and "network" not in err


def test_a_file_given_as_an_architecture(capsys, tmp_path):
    err = refused(capsys, tmp_path, "distill", "--dataset=digits",
                  "--teacher=runs/t/checkpoints/best.keras",
                  "--teacher_weights=t.weights.h5", "--student=resnet8")
    assert "names a file, not an architecture" in err
    assert "give it as --teacher_weights" in err
