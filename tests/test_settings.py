"""keras_mixkd.settings: the one home of defaults, choices and the paper's
values, read by everything that states them."""

import dataclasses
import inspect
import subprocess
import sys

from keras_mixkd import Distiller
from keras_mixkd import exporting
from keras_mixkd import losses
from keras_mixkd import mixing
from keras_mixkd import recipe
from keras_mixkd import settings
from keras_mixkd.cli import flag_docs
from keras_mixkd.experiments.compare import methods
from keras_mixkd.training import config_rules
from keras_mixkd.training.config import RunConfig


def test_settings_import_neither_tensorflow_nor_keras():
    code = ("import sys, keras_mixkd.settings, keras_mixkd.cli.flag_docs\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'tensorflow', 'keras', 'numpy'}))")
    out = subprocess.run([sys.executable, "-c", code], check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_run_config_defaults_are_the_settings():
    for field in dataclasses.fields(RunConfig):
        if field.default is None:
            assert field.name not in settings.DEFAULTS, field.name
        else:
            assert settings.DEFAULTS[field.name] == field.default, field.name
    assert config_rules.PRESETS["paper"] is settings.PAPER
    assert tuple(config_rules.PRECISION_POLICIES) == settings.CHOICES[
        "mixed_precision"]
    assert tuple(config_rules.FOLD_TEACHER) == settings.CHOICES["fold_teacher"]
    assert flag_docs.DEFAULTS is settings.DEFAULTS
    assert flag_docs.CHOICES is settings.CHOICES


def test_choices_are_the_registries():
    trained = set(exporting.TRAINING_LOSSES)
    assert set(settings.CHOICES["trained_loss"]) == trained
    assert set(settings.CHOICES["loss"]) == set(losses.available()) | trained
    assert set(settings.CHOICES["mixing"]) == set(mixing.available())
    assert settings.CHOICES["mix_mode"] == mixing.MIX_MODES
    assert set(methods.DEFAULT_METHODS) <= set(methods.METHODS)


def test_the_paper_values_reach_recipe_losses_mixing_and_methods():
    assert (recipe.EPOCHS, recipe.BATCH_SIZE, recipe.WEIGHT_DECAY,
            recipe.MILESTONES) == (240, 64, 5e-4, (150, 180, 210))
    assert recipe.learning_rate_for("resnet8") == settings.LEARNING_RATE
    assert recipe.learning_rate_for("MobileNetV2") == (
        settings.LOW_LEARNING_RATE)
    assert losses.KDDivergence().temperature == settings.KD_TEMPERATURE == 4
    kd = losses.get("kd")
    assert kd.temperature == settings.KD_TEMPERATURE
    for name in ("kd", "fmu_kd", "pmu_kd", "kd_append_mixup"):
        assert methods.METHODS[name].settings["temperature"] == (
            settings.KD_TEMPERATURE), name
    assert methods.METHODS["mixkd"].settings["mix_fraction"] == (
        settings.MIX_FRACTION)
    signature = inspect.signature(Distiller)
    assert (signature.parameters["ce_weight"].default,
            signature.parameters["kd_weight"].default) == (0.1, 0.9)
    layer = mixing.PartialMixUp()
    assert (layer.alpha, layer.mix_fraction) == (1.0, 0.1)
