"""Exporting a model trained on one's own data: `DatasetInfo.for_model`."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mixkd
from keras_mixkd import exporting
from keras_mixkd.data import DatasetInfo


def _model(shape=(6, 6, 3), classes=3):
    inputs = keras.Input(shape)
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(classes, kernel_initializer=(
        keras.initializers.GlorotUniform(0)))(x)
    return keras.Model(inputs, outputs)


def test_for_model_takes_the_shape_and_classes_from_the_model():
    info = DatasetInfo.for_model(_model(), mean=0.5, std=(0.2, 0.3, 0.4),
                                 class_names=["cat", "dog", "fox"])
    assert info.image_shape == (6, 6, 3) and info.num_classes == 3
    assert info.mean == (0.5, 0.5, 0.5) and info.std == (0.2, 0.3, 0.4)
    assert info.class_names == ("cat", "dog", "fox")


@pytest.mark.parametrize("kwargs,message", [
    ({"mean": (0.5, 0.5), "std": 0.2},
     "`mean` has 2 values but the model's images have 3 channels"),
    ({"mean": 0.5, "std": (0.2, 0.0, 0.2)}, "`std` must be > 0"),
    ({"mean": 127.0, "std": 60.0}, "pixel units in \\[0, 1\\]"),
    ({"mean": 0.5, "std": 0.2, "class_names": ["a", "b"]},
     "`class_names` has 2 names but the model outputs 3 classes"),
])
def test_for_model_refuses_what_does_not_fit(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DatasetInfo.for_model(_model(), **kwargs)


def test_for_model_needs_fixed_size_images():
    inputs = keras.Input((None, None, 3))
    any_size = keras.Model(inputs, keras.layers.Dense(3)(
        keras.layers.GlobalAveragePooling2D()(inputs)))
    with pytest.raises(ValueError, match="fixed-size images"):
        DatasetInfo.for_model(any_size, mean=0.5, std=0.2)


def test_own_data_exports_with_its_normalisation_and_names(tmp_path):
    model = _model()
    info = DatasetInfo.for_model(model, mean=(0.4, 0.5, 0.6),
                                 std=(0.2, 0.25, 0.3),
                                 class_names=["cat", "dog", "fox"])
    path = keras_mixkd.export(model, tmp_path / "student", info=info)
    metadata = json.loads((path / "export.json").read_text())
    assert metadata["class_names"] == ["cat", "dog", "fox"]
    assert metadata["mean"] == [0.4, 0.5, 0.6]
    assert metadata["std"] == [0.2, 0.25, 0.3]
    raw = np.random.default_rng(0).integers(0, 256, (4, 6, 6, 3), "uint8")
    expected = model.predict(
        ((raw / 255.0 - np.array(info.mean)) / np.array(info.std)).astype(
            "float32"), verbose=0)
    out = exporting.run_exported(path, raw)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert tf.saved_model.contains_saved_model(str(path))


def test_export_without_info_names_the_constructor(tmp_path):
    with pytest.raises(ValueError, match="DatasetInfo.for_model"):
        keras_mixkd.export(_model(), tmp_path / "student")
    assert not (tmp_path / "student").exists()


@pytest.mark.parametrize("info_model,message", [
    (_model(classes=4), "The model outputs 3 classes but `info` has 4"),
    (_model(shape=(8, 8, 3)), r"takes images of shape \(6, 6, 3\) but `info` "
     r"describes \(8, 8, 3\)"),
])
def test_export_refuses_the_info_of_other_data(info_model, message, tmp_path):
    info = DatasetInfo.for_model(info_model, mean=0.5, std=0.2)
    with pytest.raises(ValueError, match=message):
        keras_mixkd.export(_model(), tmp_path / "student", info=info)
    assert not (tmp_path / "student").exists()
