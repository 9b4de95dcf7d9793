"""``--calibrate``: one temperature, fitted by NLL on held-out images only."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixkd import analysis
from keras_mixkd import data
from keras_mixkd import exporting
from keras_mixkd.cli import main as cli
from tests.helpers import write_image_folder


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _scaling_model(classes, scale):
    """A model whose "images" are logits, multiplied by ``scale``."""
    inputs = keras.Input((classes,))
    layer = keras.layers.Dense(classes, use_bias=False)
    outputs = layer(inputs)
    layer.set_weights([scale * np.eye(classes, dtype="float32")])
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("loss,true_temperature", [("ce", 3.0),
                                                   ("mixstd", 0.5)])
def test_fit_calibration_recovers_the_temperature_of_the_labels(
        loss, true_temperature):
    # Labels drawn from softmax(trained_logits / T): the fitted T is T, up
    # to sampling noise (6000 samples: a few per cent).
    rng = np.random.default_rng(0)
    z = rng.normal(scale=2.0, size=(6000, 5)).astype("float32")
    trained = analysis.trained_logits(z, loss)
    probs = _softmax(trained / true_temperature)
    labels = np.array([rng.choice(5, p=p) for p in probs])
    # The model outputs 3 z: overconfident under CE; under MIXSTD the scale
    # of the logits does not matter at all.
    model = _scaling_model(5, 3.0)
    held_out = tf.data.Dataset.from_tensor_slices((z, labels)).batch(500)
    fitted = exporting.fit_calibration(model, held_out, loss)
    expected = true_temperature * (3.0 if loss == "ce" else 1.0)
    np.testing.assert_allclose(fitted["temperature"], expected, rtol=0.06)
    assert fitted["images"] == 6000
    assert fitted["nll_after"] <= fitted["nll_before"]


RUN_SETTINGS = {"command": "distill", "loss": "kd", "seed": 0,
                "dataset": "digits", "image_size": 8}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A small CNN trained on digits (8x8) without its held-out share."""
    root = tmp_path_factory.mktemp("runs")
    keras.utils.set_random_seed(0)
    splits = data.load_splits("digits", batch_size=32, image_size=8,
                              seed=0, validation_split=0.2,
                              augment_train=False)  # 8x8: no crops
    inputs = keras.Input(splits.info.image_shape)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(10)(x))
    model.compile(keras.optimizers.Adam(3e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(splits.train, epochs=6, verbose=0)
    runs = {}
    for name, extra in (("held", {"validation_split": 0.2}), ("plain", {})):
        run = root / name
        (run / "checkpoints").mkdir(parents=True)
        model.save(run / "checkpoints" / "best.keras")
        (run / "config.json").write_text(json.dumps({**RUN_SETTINGS,
                                                     **extra}))
        runs[name] = run / "checkpoints" / "best.keras"
    alone = root / "alone.keras"
    model.save(alone)
    runs["alone"] = alone
    return model, splits, runs


def mixkd(*args):
    return cli.run(["mixkd", "export", "--dataset=digits", "--image_size=8",
                    "--format=litert", *args])


def test_calibrate_fits_on_the_runs_held_out_split(trained_run, tmp_path,
                                                    capsys):
    model, splits, runs = trained_run
    out = tmp_path / "student.tflite"
    assert mixkd(f"--weights={runs['held']}", "--outputs=probabilities",
                 "--calibrate", f"--output={out}") == 0
    printed = capsys.readouterr().out
    results = json.loads(printed.strip().splitlines()[-1])
    # Independently: the temperature that minimises the NLL of the model's
    # logits on the held-out images (same split: dataset, seed, fraction).
    logits, labels = analysis.collect_logits(model, splits.validation,
                                             return_labels=True)
    expected = analysis.fit_temperature(logits, labels)
    assert 0.05 < expected < 20  # a real optimum, not a bound
    np.testing.assert_allclose(results["calibration_temperature"], expected,
                               rtol=1e-5)
    assert results["calibration"]["images"] == len(labels)
    metadata = json.loads((tmp_path / "student.json").read_text())
    assert metadata["calibration_temperature"] == results["calibration_temperature"]
    assert metadata["calibration"]["validation_split"] == 0.2
    assert "test calibration error (ECE)" in printed
    # The file serves softmax(logits / T); its test ECE is reported.
    raw = exporting.raw_images(splits.test, splits.info, limit=10_000)
    test_labels = np.concatenate([y for _, y in splits.test])
    normalised = (raw / np.float32(255.0) - np.float32(splits.info.mean)) / (
        np.float32(splits.info.std))
    test_logits = model.predict(normalised.astype("float32"), verbose=0)
    served = exporting.run_exported(out, raw)
    np.testing.assert_allclose(served, _softmax(test_logits / expected),
                               atol=1e-4)
    np.testing.assert_allclose(results["ece"],
                               analysis.expected_calibration_error(
                                   test_labels, served), atol=1e-4)


@pytest.mark.parametrize("weights,args,message", [
    ("plain", ["--calibrate"], "trained without --validation_split"),
    ("alone", ["--calibrate", "--trained_loss=kd"], "not in a run folder"),
    ("held", ["--calibrate", "--calibration_dataset=digits"],
     "on the test set"),
    ("held", ["--calibration_dataset=digits"], "add --calibrate"),
])
def test_calibration_without_held_out_images_is_refused(
        trained_run, tmp_path, capsys, weights, args, message):
    runs = trained_run[2]
    out = tmp_path / "out" / "m.tflite"
    assert mixkd(f"--weights={runs[weights]}", "--outputs=probabilities",
                 *args, f"--output={out}") == 1
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error
    assert not out.parent.exists()


def test_calibrate_needs_probabilities(trained_run, tmp_path, capsys):
    runs = trained_run[2]
    assert mixkd(f"--weights={runs['held']}", "--calibrate",
                 f"--output={tmp_path / 'm.tflite'}") == 1
    assert "add --outputs=probabilities" in capsys.readouterr().err


def test_a_calibration_dataset_must_have_the_models_classes(
        trained_run, tmp_path, capsys):
    runs = trained_run[2]
    folder = write_image_folder(tmp_path / "three", classes=3, size=(8, 8))
    assert mixkd(f"--weights={runs['plain']}", "--outputs=probabilities",
                 "--calibrate", f"--calibration_dataset=folder:{folder}",
                 f"--output={tmp_path / 'm.tflite'}") == 1
    assert "has 3 classes" in capsys.readouterr().err


def test_calibrate_on_another_dataset(trained_run, tmp_path, capsys):
    runs = trained_run[2]
    folder = write_image_folder(tmp_path / "ten", classes=10, size=(8, 8))
    for index in range(10):  # named like digits' classes
        for split in ("train", "test"):
            (folder / split / f"class_{index}").rename(
                folder / split / str(index))
    out = tmp_path / "m.tflite"
    assert mixkd(f"--weights={runs['plain']}", "--outputs=probabilities",
                 "--calibrate", f"--calibration_dataset=folder:{folder}",
                 f"--output={out}") == 0
    results = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert results["calibration"]["images"] == 10 * (8 + 4)
    assert results["calibration"]["calibration_dataset"] == (
        f"folder:{folder}")
    assert results["calibration_temperature"] > 0
