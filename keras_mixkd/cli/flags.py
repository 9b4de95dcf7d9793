"""The ``mixkd`` flags (absl): one per configuration field, same defaults.

Name lists come from the library's registries; range and consistency rules
are `RunConfig`'s; help texts and each command's flags are `flag_docs`'s
(light, for ``--help``). `keras_mixkd.cli.main` refuses a flag the command
does not take by name.
"""

import dataclasses
import warnings

from absl import flags

from keras_mixkd import exporting
from keras_mixkd import feature_terms
from keras_mixkd import losses
from keras_mixkd import mixing
from keras_mixkd import training
from keras_mixkd.cli import flag_docs
from keras_mixkd.training import config as config_lib
from keras_mixkd.training import config_rules as rules

FLAGS = flags.FLAGS


_default = config_lib.default
_help = flag_docs.help_of

# Data and run.
flags.DEFINE_string("dataset", _default("dataset"), _help("dataset"))
flags.DEFINE_string("data_dir", None, _help("data_dir"))
flags.DEFINE_string("image_size", None, _help("image_size"))
flags.DEFINE_integer("channels", None, _help("channels"))
flags.DEFINE_integer("train_size", None, _help("train_size"))
flags.DEFINE_float("validation_split", None, _help("validation_split"))
flags.DEFINE_integer("epochs", _default("epochs"), _help("epochs"))
flags.DEFINE_integer("validation_freq", _default("validation_freq"),
                     _help("validation_freq"))
flags.DEFINE_float("backup_interval_s", _default("backup_interval_s"),
                   _help("backup_interval_s"))
flags.DEFINE_integer("seeds", 1, _help("seeds"))
flags.DEFINE_integer("batch_size", _default("batch_size"), _help("batch_size"))
flags.DEFINE_integer("eval_batch_size", None, _help("eval_batch_size"))
flags.DEFINE_float("learning_rate", None, _help("learning_rate"))
flags.DEFINE_float("weight_decay", _default("weight_decay"),
                   _help("weight_decay"))
flags.DEFINE_integer("seed", _default("seed"), _help("seed"))
flags.DEFINE_enum("strategy", _default("strategy"), rules.STRATEGIES,
                  _help("strategy"))
flags.DEFINE_enum("mixed_precision", _default("mixed_precision"),
                  list(rules.PRECISION_POLICIES), _help("mixed_precision"))
flags.DEFINE_bool("jit_compile", False, _help("jit_compile"))
flags.DEFINE_integer("steps_per_execution", _default("steps_per_execution"),
                     _help("steps_per_execution"))
flags.DEFINE_bool("deterministic", False, _help("deterministic"))
flags.DEFINE_string("output_dir", None, _help("output_dir"))
flags.DEFINE_bool("overwrite", False, _help("overwrite"))
flags.DEFINE_enum("verbose", _default("verbose"), rules.VERBOSITIES,
                  _help("verbose"))

# Models.
for _name in ("model", "weights", "output", "teacher", "teacher_weights",
              "student", "student_weights"):
    flags.DEFINE_string(_name, None, _help(_name))
flags.DEFINE_integer("num_classes", None, _help("num_classes"))
for _name in ("extra_teacher_weights", "extra_teachers",
              "teacher_loss_weights"):
    flags.DEFINE_list(_name, None, _help(_name))

# Export.
flags.DEFINE_enum("format", None, list(exporting.FORMATS), _help("format"))
flags.DEFINE_enum("quantize", exporting.ExportConfig.quantize,
                  list(exporting.QUANTIZATIONS), _help("quantize"))
flags.DEFINE_enum("outputs", exporting.ExportConfig.outputs,
                  list(exporting.OUTPUTS), _help("outputs"))
flags.DEFINE_enum("trained_loss", None, list(exporting.TRAINING_LOSSES),
                  _help("trained_loss"))
flags.DEFINE_bool("calibrate", False, _help("calibrate"))
flags.DEFINE_string("calibration_dataset", None, _help("calibration_dataset"))
flags.DEFINE_float("trained_temperature", None, _help("trained_temperature"))

# Mixup and distillation.
flags.DEFINE_float("mixup_alpha", None, _help("mixup_alpha"))
flags.DEFINE_float("beta_alpha", None, _help("beta_alpha"))
flags.DEFINE_enum("preset", None, list(rules.PRESETS), _help("preset"))
flags.DEFINE_enum("loss", _default("loss"),
                  list(dict.fromkeys([*losses.available(),
                                      *exporting.TRAINING_LOSSES])),
                  _help("loss"))
flags.DEFINE_enum("mixing", _default("mixing"), mixing.available(),
                  _help("mixing"))
flags.DEFINE_float("mix_fraction", _default("mix_fraction"),
                   _help("mix_fraction"))
flags.DEFINE_enum("mix_sampling", _default("mix_sampling"),
                  mixing.SAMPLINGS, _help("mix_sampling"))
flags.DEFINE_enum("mix_mode", _default("mix_mode"),
                  list(mixing.MIX_MODES), _help("mix_mode"))
flags.DEFINE_float("temperature", None, _help("temperature"))
flags.DEFINE_float("ce_weight", _default("ce_weight"), _help("ce_weight"))
flags.DEFINE_float("kd_weight", _default("kd_weight"), _help("kd_weight"))
flags.DEFINE_enum("teacher_dtype", _default("teacher_dtype"),
                  rules.TEACHER_DTYPES, _help("teacher_dtype"))
flags.DEFINE_enum("fold_teacher", _default("fold_teacher"),
                  list(rules.FOLD_TEACHER), _help("fold_teacher"))
flags.DEFINE_enum("feature_loss", _default("feature_loss"),
                  ["none", *feature_terms.available()], _help("feature_loss"))
flags.DEFINE_float("feature_weight", None, _help("feature_weight"))

#: Old flag name -> the flag it stands for (they warn).
DEPRECATED = {"beta_alpha": "mixup_alpha"}


def present(name):
    """Whether a flag was given on the command line."""
    return FLAGS[name].present


def run_config(**overrides):
    """The `RunConfig` of the flags (every command's fields), for the
    commands that run several (`config_of`)."""
    return config_of(training.RunConfig, **overrides)


def command_config(command, **overrides):
    """The configuration ``command`` takes
    (`keras_mixkd.training.COMMAND_CONFIGS`), from the flags (`config_of`).
    """
    return config_of(training.COMMAND_CONFIGS[command], **overrides)


def config_of(cls, **overrides):
    """A configuration of class ``cls``, each field from its flag.

    Deprecated flags warn (`FutureWarning`) and stand for their new name.

    Args:
        cls: `keras_mixkd.training.RunConfig` or a command's configuration.
        **overrides: fields the command sets itself.

    Raises:
        ValueError: from the configuration's checks, or an old flag that
            contradicts its new name.
    """
    names = [f.name for f in dataclasses.fields(cls)]
    values = {name: FLAGS[name].value for name in names if name in FLAGS}
    for old, new in DEPRECATED.items():
        if new not in names or not present(old):
            continue
        warnings.warn(f"--{old} is deprecated; use --{new}.", FutureWarning,
                      stacklevel=3)
        if present(new) and FLAGS[new].value != FLAGS[old].value:
            raise ValueError(f"--{old} (deprecated) and --{new} differ; "
                             f"give --{new} only.")
        values[new] = FLAGS[old].value
    values = {**values, **overrides}
    check_given(values)
    return cls(**values)


def check_given(values):
    """Raises `ValueError` where a flag given on the command line
    contradicts ``--preset``: the configuration cannot tell a flag given
    at its default from one left out, and gives the latter the preset's
    value (`keras_mixkd.training.config_rules.check_preset`)."""
    preset = values.get("preset")
    for name in rules.PRESETS.get(preset, ()):
        if name in values and name in FLAGS and present(name):
            message = rules.preset_conflict(preset, name, values[name])
            if message:
                raise ValueError(message)
