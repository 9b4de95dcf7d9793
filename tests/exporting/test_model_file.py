"""SavedModel and LiteRT exports: raw uint8 images in, the model's outputs."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mixkd
from keras_mixkd import exporting


@pytest.fixture(scope="module")
def trained():
    """A small CNN trained for a few epochs on the digits, and its test set."""
    keras.utils.set_random_seed(0)
    train_ds, test_ds, info = keras_mixkd.data.load("digits", batch_size=32)
    inputs = keras.Input(info.image_shape)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same")(inputs)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    x = keras.layers.Flatten()(keras.layers.MaxPooling2D(2)(x))
    model = keras.Model(inputs, keras.layers.Dense(10)(x))
    model.compile(keras.optimizers.Adam(3e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(train_ds, epochs=4, verbose=0)
    raw = exporting.raw_images(test_ds, info, limit=10_000)
    labels = np.concatenate([y for _, y in test_ds])
    normalised = (raw / np.float32(255.0) - np.float32(info.mean)) / (
        np.float32(info.std))
    logits = model.predict(normalised.astype("float32"), verbose=0)
    accuracy = np.mean(logits.argmax(1) == labels)
    assert accuracy > 0.8  # meaningful for the int8 comparison
    return model, info, train_ds, raw, labels, logits, accuracy


def _close_to_keras(out, logits, tolerance):
    assert out.shape == logits.shape and out.dtype == np.float32
    assert np.abs(out - logits).max() <= tolerance * np.abs(logits).max()


def test_saved_model_serves_raw_images(trained, tmp_path):
    model, info, _, raw, _, logits, _ = trained
    path = keras_mixkd.export(model, tmp_path / "a" / "b" / "student",
                              info=info)
    loaded = tf.saved_model.load(str(path))
    assert list(loaded.signatures) == ["serving_default"]
    serve = loaded.signatures["serving_default"]
    (spec,) = serve.structured_input_signature[1].values()
    assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, 32, 32, 3]
    assert list(serve.structured_outputs) == ["logits"]
    _close_to_keras(exporting.run_exported(path, raw), logits, 1e-5)
    # A SavedModel keeps its metadata inside.
    metadata = json.loads((path / "export.json").read_text())
    assert metadata == {"mean": list(info.mean), "std": list(info.std),
                        "image_size": [32, 32], "outputs": "logits",
                        "class_names": [str(i) for i in range(10)]}


@pytest.mark.parametrize("loss", ["mixstd", "ce"])
def test_probabilities_are_those_the_model_was_trained_for(trained, tmp_path,
                                                           loss):
    model, info, _, raw, _, logits, _ = trained
    path = keras_mixkd.export(model, tmp_path / "p", info=info,
                              outputs="probabilities", loss=loss)
    scaled = logits / (logits.std(axis=1, ddof=1, keepdims=True)
                       if loss == "mixstd" else 1.0)
    expected = np.exp(scaled - scaled.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(exporting.run_exported(path, raw), expected,
                               atol=1e-5)


def test_litert_float_and_float16(trained, tmp_path):
    model, info, _, raw, _, logits, _ = trained
    path = keras_mixkd.export(model, tmp_path / "f32" / "student.tflite",
                              format="litert", info=info)
    _close_to_keras(exporting.run_exported(path, raw), logits, 1e-5)
    assert (path.parent / "student.json").is_file()
    half = keras_mixkd.export(model, tmp_path / "student16.tflite",
                              format="litert", info=info, quantize="float16")
    _close_to_keras(exporting.run_exported(half, raw), logits, 1e-2)
    assert half.stat().st_size < 0.7 * path.stat().st_size


def test_int8_keeps_accuracy_within_one_point(trained, tmp_path):
    model, info, train_ds, raw, labels, _, accuracy = trained
    path = keras_mixkd.export(model, tmp_path / "student8.tflite",
                              format="litert", info=info, quantize="int8",
                              representative_data=train_ds)
    interpreter = tf.lite.Interpreter(model_path=str(path))
    assert interpreter.get_input_details()[0]["dtype"] == np.uint8
    assert any(t["dtype"] == np.int8 for t in interpreter.get_tensor_details())
    out = exporting.run_exported(path, raw)
    assert abs(np.mean(out.argmax(1) == labels) - accuracy) <= 0.01
    figures = exporting.measure(path, raw[:20])
    assert figures["size_bytes"] == path.stat().st_size
    assert 0 < figures["latency_ms"] < 1000


def test_bad_arguments_fail_before_anything_is_written(trained, tmp_path):
    model, info, _, raw, _, _, _ = trained
    out = tmp_path / "never" / "student.tflite"
    cases = [
        (dict(format="onnx", info=info), "`format` must be one of"),
        (dict(info=None), "`info` is required"),
        (dict(format="saved_model", info=info, quantize="int8"),
         "applies to format='litert' only"),
        (dict(format="litert", info=info, quantize="int8"),
         "needs `representative_data`"),
        (dict(format="litert", info=info, quantize="int8",
              representative_data=raw.astype("float32")), "must be uint8"),
        (dict(info=info, outputs="probabilities", loss="hinge"),
         "`loss` must be one of"),
        (dict(info=info, outputs="probabilities"),
         "The loss the model was trained with is required"),
        (dict(info=info, outputs="probabilities", loss="ce",
              calibration_temperature=0.0),
         "`calibration_temperature` must be a finite number"),
        (dict(info=info, calibration_temperature=2.0), "apply to outputs="),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            keras_mixkd.export(model, out, **kwargs)
    assert not out.parent.exists()
