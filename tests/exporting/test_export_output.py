"""Export files do not clobber each other: named metadata, no silent overwrite."""

import json

import keras
import numpy as np
import pytest

import keras_mixkd
from keras_mixkd import exporting
from keras_mixkd.data import DatasetInfo

INFO = DatasetInfo("tiny", 3, (4, 4, 1), (0.5,), (0.25,), 10, 10,
                   ("a", "b", "c"))
OTHER = DatasetInfo("other", 3, (4, 4, 1), (0.5,), (0.25,), 10, 10,
                    ("x", "y", "z"))


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4, 4, 1))
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, outputs)


def test_metadata_file_is_named_after_the_output():
    assert exporting.metadata_path("out/student.tflite", "litert").as_posix(
    ) == "out/student.json"
    assert exporting.metadata_path("out/student", "saved_model").as_posix(
    ) == "out/student/export.json"


def test_two_exports_in_one_folder_keep_their_own_metadata(model, tmp_path):
    first = keras_mixkd.export(model, tmp_path / "student.tflite",
                               format="litert", info=INFO)
    second = keras_mixkd.export(model, tmp_path / "teacher.tflite",
                                format="litert", info=OTHER)
    assert json.loads((tmp_path / "student.json").read_text())[
        "class_names"] == ["a", "b", "c"]
    assert json.loads((tmp_path / "teacher.json").read_text())[
        "class_names"] == ["x", "y", "z"]
    assert first.is_file() and second.is_file()
    saved = keras_mixkd.export(model, tmp_path / "saved", info=INFO)
    assert json.loads((saved / "export.json").read_text())["outputs"] == (
        "logits")
    assert not (tmp_path / "export.json").exists()


@pytest.mark.parametrize("format,name", [("litert", "m.tflite"),
                                         ("saved_model", "m")])
def test_an_existing_output_is_refused_without_overwrite(model, tmp_path,
                                                         format, name):
    path = keras_mixkd.export(model, tmp_path / name, format=format,
                              info=INFO)
    metadata = exporting.metadata_path(path, format)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(FileExistsError, match="`overwrite=True`") as error:
        keras_mixkd.export(model, path, format=format, info=OTHER)
    assert str(path) in str(error.value)
    assert isinstance(error.value, ValueError)  # a usage error in the CLI
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before  # nothing written
    keras_mixkd.export(model, path, format=format, info=OTHER,
                       overwrite=True)
    assert json.loads(metadata.read_text())["class_names"] == ["x", "y", "z"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        {path.name, metadata.name} - {"export.json"})  # no temporary left


def test_a_leftover_metadata_file_is_refused_too(model, tmp_path):
    (tmp_path / "m.json").write_text("{}")
    with pytest.raises(FileExistsError, match="m.json exists"):
        keras_mixkd.export(model, tmp_path / "m.tflite", format="litert",
                           info=INFO)
    assert not (tmp_path / "m.tflite").exists()


def test_outputs_of_the_wrong_kind_are_refused_even_with_overwrite(
        model, tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "notes.txt").write_text("mine")
    (tmp_path / "file").write_text("mine")
    cases = [(tmp_path / "folder", "litert", "is a folder"),
             (tmp_path / "folder", "saved_model", "holds no SavedModel"),
             (tmp_path / "file", "saved_model", "is a file"),
             (tmp_path / "m.json", "litert", "a .json name")]
    for path, format, message in cases:
        with pytest.raises(ValueError, match=message):
            keras_mixkd.export(model, path, format=format, info=INFO,
                               overwrite=True)
    assert (tmp_path / "folder" / "notes.txt").read_text() == "mine"
    assert (tmp_path / "file").read_text() == "mine"


def test_probabilities_record_their_loss_and_temperature(model, tmp_path):
    path = keras_mixkd.export(model, tmp_path / "p.tflite", format="litert",
                              info=INFO, outputs="probabilities",
                              loss="mixstd", temperature=2.0,
                              calibration_temperature=0.5)
    metadata = json.loads((tmp_path / "p.json").read_text())
    assert (metadata["outputs"], metadata["trained_loss"],
            metadata["trained_temperature"],
            metadata["calibration_temperature"]) == (
                "probabilities", "mixstd", 2.0, 0.5)
    images = np.random.default_rng(0).integers(0, 256, (6, 4, 4, 1),
                                               dtype=np.uint8)
    logits = model.predict(((images / 255.0 - 0.5) / 0.25).astype(
        "float32"), verbose=0).astype("float64")
    # softmax(z / (tau * std(z) * T)), tau = 2 trained, T = 0.5 calibrated.
    scaled = logits / logits.std(axis=1, ddof=1, keepdims=True) / 2.0 / 0.5
    expected = np.exp(scaled - scaled.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(exporting.run_exported(path, images),
                               expected, atol=1e-5)
