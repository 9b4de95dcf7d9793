"""MIXSTD's base temperature through the Distiller, RunConfig, the trained
outputs and the export (tau = 1 keeps every earlier behaviour)."""

import json

import keras
import numpy as np
import pytest
from scipy import special

import keras_mixkd
from keras_mixkd import analysis
from keras_mixkd import data
from keras_mixkd import exporting
from keras_mixkd import models
from keras_mixkd.cli import main as cli
from keras_mixkd.training import RunConfig
from keras_mixkd.training.exports import trained_temperature
from keras_mixkd.training.run_folder import RunFolder
from tests.helpers import CLASSES
from tests.helpers import tiny_data
from tests.helpers import tiny_model


def _scaled_softmax(z, tau):
    z = np.asarray(z, "float64")
    return special.softmax(z / (tau * z.std(1, ddof=1, keepdims=True)), 1)


def test_distiller_trains_a_step_at_temperature_one_half():
    x, y = tiny_data(16)
    d = keras_mixkd.Distiller(student=tiny_model("student", seed=1),
                              teacher=tiny_model("teacher", seed=7),
                              mixer=None, temperature=0.5)
    assert d.distillation_loss.temperature == 0.5
    assert d.student_loss.temperature == 0.5
    t = d.teacher.predict(x, verbose=0).astype("float64")
    s = d.student.predict(x, verbose=0).astype("float64")
    log_p, log_q = (special.log_softmax(np.log(_scaled_softmax(z, 0.5)), 1)
                    for z in (t, s))
    kd = 0.9 * np.mean(np.sum(np.exp(log_p) * (log_p - log_q), 1))
    ce = 0.1 * np.mean(-np.sum(np.eye(CLASSES)[y] * log_q, 1))
    before = [w.copy() for w in d.student.get_weights()]
    d.compile(optimizer=keras.optimizers.SGD(0.1))
    history = d.fit(x, y, batch_size=16, epochs=1, shuffle=False,
                    verbose=0).history
    np.testing.assert_allclose(history["kd_loss"][0], kd, rtol=1e-5)
    np.testing.assert_allclose(history["ce_loss"][0], ce, rtol=1e-5)
    assert any(np.any(a != b) for a, b in zip(before,
                                              d.student.get_weights()))
    restored = keras_mixkd.Distiller.from_config(d.get_config())
    assert restored.distillation_loss.temperature == 0.5
    assert restored.student_loss.temperature == 0.5


def test_run_config_records_the_temperature_only_off_its_default(tmp_path):
    tau = RunConfig(student="resnet8", loss="mixstd", temperature=0.5)
    tau.check_distill()
    assert tau.record("distill")["temperature"] == 0.5
    default = RunConfig(student="resnet8").record("distill")
    assert default["temperature"] is None
    assert RunConfig(student="resnet8", temperature=1.0).record(
        "distill") == default
    # A folder of an earlier version (temperature null) resumes with or
    # without --temperature=1, and refuses another temperature.
    RunFolder(tmp_path, default)
    RunFolder(tmp_path, RunConfig(student="resnet8", temperature=1).record(
        "distill"))
    with pytest.raises(ValueError, match="differs in: temperature"):
        RunFolder(tmp_path, tau.record("distill"))
    with pytest.raises(ValueError, match="--loss, --temperature: "):
        RunConfig(student="resnet8", temperature=-0.5).check_distill()
    # Classic KD keeps recording its temperature as given.
    assert RunConfig(student="resnet8", loss="kd", temperature=1.0).record(
        "distill")["temperature"] == 1.0


def test_trained_outputs_use_the_temperature():
    logits = np.random.default_rng(0).normal(size=(6, 10)) * 4
    loss = analysis.training_loss("mixstd", 0.5)
    np.testing.assert_allclose(analysis.trained_probabilities(logits, loss),
                               _scaled_softmax(logits, 0.5), rtol=1e-10)
    assert analysis.trained_outputs.describe(loss) == (
        "softmax(logits / (0.5 * std(logits, ddof=1)))")
    for same in (None, 1.0):
        assert analysis.training_loss("mixstd", same) == "mixstd"
    assert analysis.training_loss("kd", 4.0) == "kd"
    labels = np.arange(6)
    summary = analysis.calibration_summary(logits, labels, loss)
    assert summary["trained_probabilities"] == analysis.trained_outputs.describe(
        loss)
    np.testing.assert_allclose(
        summary["nll_trained"],
        -np.mean(np.log(_scaled_softmax(logits, 0.5)[np.arange(6), labels])),
        rtol=1e-9)


def test_exported_probabilities_and_their_checks():
    logits = np.random.default_rng(1).normal(size=(5, 10)).astype("float32")
    np.testing.assert_allclose(
        exporting.probabilities(logits, "mixstd", temperature=0.29),
        _scaled_softmax(logits, 0.29), rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(
        exporting.probabilities(logits, "mixstd", temperature=1.0),
        exporting.probabilities(logits, "mixstd"))
    with pytest.raises(ValueError, match="mixstd student only"):
        exporting.probabilities(logits, "kd", temperature=4.0)
    with pytest.raises(ValueError, match="must be > 0"):
        exporting.probabilities(logits, "mixstd", temperature=0.0)
    record = {"command": "distill", "loss": "mixstd", "temperature": 0.5}
    assert trained_temperature(record, "mixstd") == 0.5
    assert trained_temperature(record, "mixstd", 0.5) == 0.5
    with pytest.raises(ValueError, match="Drop --temperature"):
        trained_temperature(record, "mixstd", 2.0)
    old = {"command": "distill", "loss": "mixstd", "temperature": None}
    assert trained_temperature(old, "mixstd") is None
    assert trained_temperature(old, "mixstd", 1.0) is None
    assert trained_temperature(None, "mixstd", 0.5) == 0.5
    with pytest.raises(ValueError, match="mixstd student only"):
        trained_temperature({"command": "train-teacher"}, "ce", 0.5)


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
                               _scaled_softmax(logits, 0.5), atol=1e-5)
    assert cli.run(["mixkd", "export", f"--weights={weights}",
                    "--dataset=digits", "--format=saved_model",
                    "--outputs=probabilities", "--temperature=2",
                    f"--output={out}"]) == 1
    assert "Drop --temperature" in capsys.readouterr().err
