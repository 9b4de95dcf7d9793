"""``distill`` with ``feature_loss``: RepDistiller's layers of the zoo pair,
recorded in config.json, resumed after an interruption with the
connectors, refused for models outside the zoo; the named compare methods."""

import dataclasses
import json

import keras
import pytest

import keras_mixkd
from keras_mixkd import training
from keras_mixkd.experiments.compare.methods import METHODS
from keras_mixkd.experiments.compare.methods import run_config
from keras_mixkd.training import RunConfig
from tests.helpers import interrupt_at_second_epoch

FAST = dict(dataset="digits", epochs=2, batch_size=128, verbose="0")


def _teacher(name="resnet8"):
    _, _, info = keras_mixkd.data.load("digits")
    return keras_mixkd.models.create(name, info.num_classes,
                                     input_shape=info.image_shape)


def test_hint_run_records_its_loss_and_resumes_with_its_connector(
        tmp_path, monkeypatch):
    teacher = _teacher()
    config = RunConfig(teacher="resnet8", student="resnet8",
                       feature_loss="hint", mixing="none",
                       output_dir=str(tmp_path), **FAST)
    interrupt_at_second_epoch(
        monkeypatch, lambda: training.distill(config, teacher=teacher))
    recorded = json.loads((tmp_path / "config.json").read_text())
    assert recorded["feature_loss"] == "hint"
    assert "feature_weight" not in recorded  # RepDistiller's, the default
    _, summary = training.distill(config, teacher=teacher)
    assert summary["epochs"] == 2
    rows = (tmp_path / "metrics.csv").read_text().strip().splitlines()
    assert "feature_loss" in rows[0].split(",")
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1"]
    with pytest.raises(ValueError, match="differs in: feature_loss"):
        training.distill(dataclasses.replace(config, feature_loss="at"),
                         teacher=teacher)


def test_a_model_outside_the_zoo_is_refused_before_the_run_folder(tmp_path):
    teacher = _teacher()
    renamed = keras.Model(teacher.input, teacher.output, name="my_teacher")
    config = RunConfig(teacher="resnet8", student="resnet8", feature_loss="at",
                       output_dir=str(tmp_path / "run"), **FAST)
    with pytest.raises(ValueError, match="takes RepDistiller's layers of the "
                                         "zoo's models, but the teacher is "
                                         "'my_teacher'"):
        training.distill(config, teacher=renamed)
    assert not (tmp_path / "run" / "config.json").exists()


@pytest.mark.parametrize("kwargs", [{"feature_weight": 5.0},
                                    {"feature_loss": "at",
                                     "feature_weight": -1.0}])
def test_feature_weight_needs_a_feature_loss_and_a_sign(kwargs):
    with pytest.raises(ValueError, match="`feature_weight` weighs"):
        RunConfig(student="resnet8", **kwargs).check_distill()


@pytest.mark.parametrize("name,feature_loss,mixing,weights", [
    ("fitnet", "hint", "none", (1.0, 0.0)),
    ("at", "at", "none", (1.0, 0.0)),
    ("fitnet_kd", "hint", "none", (0.1, 0.9)),
    ("at_kd", "at", "none", (0.1, 0.9)),
    ("at_pmu", "at", "pmu", (1.0, 0.0)),
    ("at_fmu", "at", "fmu", (1.0, 0.0)),
])
def test_repdistiller_methods(name, feature_loss, mixing, weights):
    base = RunConfig(teacher="resnet8", student="resnet8", dataset="digits")
    run = run_config(base, METHODS[name], 0, "-")
    run.check_distill()
    assert (run.feature_loss, run.mixing, run.loss, run.temperature) == (
        feature_loss, mixing, "kd", 4.0)
    assert (run.ce_weight, run.kd_weight) == weights
    assert run.feature_weight is None  # RepDistiller's beta
