"""Exported probabilities of a MIXSTD student trained at base temperature tau."""

import json

import keras
import numpy as np
import pytest

from keras_mixkd import data
from keras_mixkd import exporting
from keras_mixkd import models
from keras_mixkd.cli import main as cli
from keras_mixkd.exporting import resolve_trained_outputs
from tests.helpers import scaled_softmax


def test_exported_probabilities_and_their_checks():
    logits = np.random.default_rng(1).normal(size=(5, 10)).astype("float32")
    np.testing.assert_allclose(
        exporting.probabilities(logits, "mixstd", temperature=0.29),
        scaled_softmax(logits, 0.29), rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(
        exporting.probabilities(logits, "mixstd", temperature=1.0),
        exporting.probabilities(logits, "mixstd"))
    with pytest.raises(ValueError, match="mixstd student only"):
        exporting.probabilities(logits, "kd", temperature=4.0)
    with pytest.raises(ValueError, match="must be > 0"):
        exporting.probabilities(logits, "mixstd", temperature=0.0)
    record = {"command": "distill", "loss": "mixstd", "temperature": 0.5}
    assert resolve_trained_outputs(record) == ("mixstd", 0.5)
    assert resolve_trained_outputs(record, "mixstd", 0.5) == ("mixstd", 0.5)
    with pytest.raises(ValueError, match="Drop `trained_temperature`"):
        resolve_trained_outputs(record, "mixstd", 2.0)
    with pytest.raises(ValueError, match="Drop `trained_loss`"):
        resolve_trained_outputs(record, "kd")
    old = {"command": "distill", "loss": "mixstd", "temperature": None}
    assert resolve_trained_outputs(old) == ("mixstd", None)
    assert resolve_trained_outputs(old, temperature=1.0) == ("mixstd", None)
    assert resolve_trained_outputs(None, "mixstd", 0.5) == ("mixstd", 0.5)
    with pytest.raises(ValueError, match="give `trained_loss`: one of"):
        resolve_trained_outputs(None)
    with pytest.raises(ValueError, match="mixstd student only"):
        resolve_trained_outputs({"command": "train-teacher"}, None, 0.5)
    # dkd and dist students were trained on softmax(logits), like kd.
    for loss in ("dkd", "dist"):
        assert resolve_trained_outputs(
            {"command": "distill", "loss": loss, "temperature": 4.0}) == (
                loss, None)
        np.testing.assert_allclose(
            exporting.probabilities(logits, loss),
            exporting.probabilities(logits, "ce"))


def test_export_reads_the_temperature_of_the_run(tmp_path, capsys):
    keras.utils.set_random_seed(0)
    _, test_ds, info = data.load("digits", batch_size=128)
    model = models.create("resnet8", num_classes=10,
                          input_shape=info.image_shape)
    (tmp_path / "checkpoints").mkdir()
    weights = tmp_path / "checkpoints" / "best.keras"
    model.save(weights)
    (tmp_path / "config.json").write_text(json.dumps(
        {"command": "distill", "loss": "mixstd", "temperature": 0.5,
         "seed": 0, "dataset": "digits"}))
    raw = exporting.raw_images(test_ds, info, limit=64)
    normalised = (raw / np.float32(255.0) - np.float32(info.mean)) / (
        np.float32(info.std))
    logits = model.predict(normalised.astype("float32"), verbose=0)
    out = tmp_path / "p"
    assert cli.run(["mixkd", "export", f"--weights={weights}",
                    "--dataset=digits", "--format=saved_model",
                    "--outputs=probabilities", f"--output={out}"]) == 0
    assert "loss mixstd, temperature 0.5" in capsys.readouterr().out
    np.testing.assert_allclose(exporting.run_exported(out, raw),
                               scaled_softmax(logits, 0.5), atol=1e-5)
    assert cli.run(["mixkd", "export", f"--weights={weights}",
                    "--dataset=digits", "--format=saved_model",
                    "--outputs=probabilities", "--trained_temperature=2",
                    f"--output={out}"]) == 1
    assert "Drop --trained_temperature" in capsys.readouterr().err
    with pytest.raises(ValueError, match="`trained_temperature` must be > 0"):
        exporting.ExportConfig(trained_temperature=0.0)
