"""MIXSTD's base temperature through the Distiller and RunConfig (tau = 1
keeps every earlier behaviour)."""

import json
import keras
import numpy as np
import pytest
from scipy import special

import keras_mixkd
from keras_mixkd.training import RunConfig
from keras_mixkd.training.run_folder import RunFolder
from tests.helpers import CLASSES
from tests.helpers import scaled_softmax
from tests.helpers import tiny_data
from tests.helpers import tiny_model


def test_distiller_trains_a_step_at_temperature_one_half():
    x, y = tiny_data(16)
    d = keras_mixkd.Distiller(student=tiny_model("student", seed=1),
                              teacher=tiny_model("teacher", seed=7),
                              mixer=None, temperature=0.5)
    assert d.distillation_loss.temperature == 0.5
    assert d.student_loss.temperature == 0.5
    t = d.teacher.predict(x, verbose=0).astype("float64")
    s = d.student.predict(x, verbose=0).astype("float64")
    log_p, log_q = (special.log_softmax(np.log(scaled_softmax(z, 0.5)), 1)
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
    # A folder of an earlier version (temperature null) that finished an
    # epoch resumes with or without --temperature=1, and refuses another
    # temperature.
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "config.json").write_text(json.dumps(default))
    (tmp_path / "checkpoints" / "last.json").write_text('{"epoch": 1}')
    RunFolder(tmp_path, default)
    RunFolder(tmp_path, RunConfig(student="resnet8", temperature=1).record(
        "distill"))
    with pytest.raises(ValueError, match="differs in: temperature"):
        RunFolder(tmp_path, tau.record("distill"))
    with pytest.raises(ValueError, match="`loss`, `temperature`: "):
        RunConfig(student="resnet8", temperature=-0.5).check_distill()
    # Classic KD keeps recording its temperature as given.
    assert RunConfig(student="resnet8", loss="kd", temperature=1.0).record(
        "distill")["temperature"] == 1.0