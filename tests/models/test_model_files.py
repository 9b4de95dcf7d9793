"""`keras_mixkd.models.load` on files that are not models: a `ValueError`
saying what the file is instead (never a raw KeyError or "File not found")."""

import json
import zipfile

import pytest

from keras_mixkd import models
from keras_mixkd.models import applications


def _zip(path, **members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name.replace("_", "."), content)
    return path


@pytest.mark.parametrize("write, found", [
    (lambda p: p.write_bytes(b""), "an empty file"),
    (lambda p: p.write_text("not a model"), "not a zip archive"),
    (lambda p: p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 32),
     "an HDF5 file, not a zip archive"),
    (lambda p: _zip(p, model_weights_h5=b""),
     "a zip without config.json (it holds model.weights.h5)"),
    (lambda p: _zip(p, config_json="{oops"),
     "a zip whose config.json is not JSON"),
    (lambda p: _zip(p, config_json=json.dumps([1, 2])),
     "a zip whose config.json describes no Keras object"),
])
def test_files_that_are_not_models(tmp_path, write, found):
    path = tmp_path / "model.keras"
    write(path)
    assert applications.keras_file_problem(path).startswith(found)
    with pytest.raises(ValueError) as caught:
        models.load(path)
    assert str(caught.value).startswith(
        f"{path} is not a Keras model file: {found}")


def test_a_real_model_file_passes_and_a_broken_one_says_keras_failed(
        tmp_path):
    path = tmp_path / "m.keras"
    models.create("resnet8", num_classes=3, input_shape=(8, 8, 3)).save(path)
    assert applications.keras_file_problem(path) is None
    assert models.load(path, num_classes=3).output_shape == (None, 3)
    # A model configuration whose class Keras does not know.
    _zip(tmp_path / "odd.keras", config_json=json.dumps(
        {"class_name": "NoSuchLayer", "config": {}}))
    with pytest.raises(ValueError, match="Keras cannot load the model in it"):
        models.load(tmp_path / "odd.keras")
