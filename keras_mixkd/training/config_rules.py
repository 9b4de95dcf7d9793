"""The range and consistency rules of a run's configuration, once.

Each command's configuration (`keras_mixkd.training.command_config`) runs
`check_config` when it is made: a bad value raises `ValueError` naming the
field, written like its flag (``--name``), and the fix. A rule runs only
where the configuration has the fields it reads, so one set of rules serves
every command.
"""

import dataclasses

from keras_mixkd import data
from keras_mixkd import distiller
from keras_mixkd import feature_terms
from keras_mixkd import losses
from keras_mixkd import mixing
from keras_mixkd import recipe
from keras_mixkd import settings
from keras_mixkd.data.pipeline import image_size_of
from keras_mixkd.settings import CHOICES
from keras_mixkd.settings import DEFAULTS

#: ``mixed_precision`` names -> Keras dtype policies.
PRECISION_POLICIES = dict(zip(CHOICES["mixed_precision"],
                              ("float32", "mixed_float16", "mixed_bfloat16")))

#: ``strategy`` names: one device, all local GPUs, several machines.
STRATEGIES = CHOICES["strategy"]

#: ``verbose`` values (Keras's, and "auto": 1 on a terminal, 2 otherwise).
VERBOSITIES = CHOICES["verbose"]

#: ``teacher_dtype`` names (``none``: the teacher computes like the student).
TEACHER_DTYPES = CHOICES["teacher_dtype"]

#: ``fold_teacher`` names -> the `Distiller`'s ``fold_teacher``.
FOLD_TEACHER = dict(zip(CHOICES["fold_teacher"], (None, True, False)))

#: The presets by name -> the settings each fixes (`check_preset`).
PRESETS = settings.PRESETS

#: Fields that hold a list -> the type of its items: given as a list, a
#: tuple or a comma-separated string, kept as a tuple (None when empty).
LIST_FIELDS = {"extra_teachers": str, "extra_teacher_weights": str,
               "teacher_loss_weights": float}

#: Fields that are counts of at least 1 (None: unset).
COUNTS = ("epochs", "validation_freq", "batch_size", "eval_batch_size",
          "train_size", "steps_per_execution")


def _choices():
    """Field -> its allowed values (the registries are read when checked,
    so a loss or mixing registered later is accepted)."""
    return {"strategy": STRATEGIES,
            "mixed_precision": tuple(PRECISION_POLICIES),
            "verbose": VERBOSITIES,
            "loss": tuple(losses.available()),
            "mixing": tuple(mixing.available()),
            "mix_mode": mixing.MIX_MODES,
            "preset": (None, *PRESETS),
            "teacher_dtype": TEACHER_DTYPES,
            "fold_teacher": tuple(FOLD_TEACHER),
            "feature_loss": ("none", *feature_terms.available()),
            "channels": (None, *data.CHANNELS)}


def check_config(config):
    """Normalises and checks the fields ``config`` has, in place.

    ``verbose`` becomes a string, ``image_size`` ``(H, W)`` or None and
    ``validation_split`` 0 None; then every rule whose fields ``config``
    has runs.

    Args:
        config: a frozen dataclass of `keras_mixkd.training.command_config`.

    Raises:
        ValueError: naming the field (``--name``) and the fix.
    """
    names = {f.name for f in dataclasses.fields(config)}

    def value(name, fallback=None):
        return getattr(config, name) if name in names else fallback

    if "verbose" in names:
        object.__setattr__(config, "verbose", str(config.verbose))
    if "image_size" in names:
        object.__setattr__(config, "image_size",
                           parse_image_size(config.image_size))
    for name, kind in LIST_FIELDS.items():
        if name in names:
            object.__setattr__(config, name,
                               parse_list(name, getattr(config, name), kind))
    for name, choices in _choices().items():
        if name in names:
            check_choice(name, getattr(config, name), choices)
    if value("preset") is not None:
        check_preset(config)
    for name in COUNTS:
        if value(name) is not None and not int(value(name)) >= 1:
            raise ValueError(f"`{name}` must be >= 1, got {value(name)}.")
    if "backup_interval_s" in names and not (
            isinstance(config.backup_interval_s, (int, float))
            and config.backup_interval_s >= 0):
        raise ValueError("`backup_interval_s` must be >= 0 (0: back up "
                         f"every epoch), got {config.backup_interval_s}.")
    # The library's own rules, each checked where it lives.
    if "dataset" in names:
        checked("dataset", data.check_name, config.dataset)
    if "validation_split" in names:
        checked("validation_split", _set_validation_split, config)
    if "learning_rate" in names:
        checked("learning_rate/weight_decay", recipe.check_hyperparameters,
                 config.learning_rate, config.weight_decay)
    if "ce_weight" in names:
        checked("ce_weight/kd_weight", distiller.check_weights,
                 config.ce_weight, config.kd_weight)
    if "mixup_alpha" in names:
        checked("mixup_alpha/mix_fraction/mix_sampling",
                 mixing.check_arguments,
                 config.mixup_alpha or 1.0,  # 0: a teacher without mixup
                 value("mix_fraction", DEFAULTS["mix_fraction"]),
                 value("mix_sampling", DEFAULTS["mix_sampling"]))


def check_preset(config):
    """Applies ``config``'s ``preset``, in place.

    A field the preset fixes takes the preset's value where it holds its
    default (the preset is the new default); a field given another value
    contradicts the preset. ``mixup_alpha`` None stays None (the command's
    default, `DEFAULT_MIXUP_ALPHA`).

    Raises:
        ValueError: naming the contradicting field and the fix.
    """
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    for name, value in PRESETS[config.preset].items():
        given = getattr(config, name)
        if given == value or (name == "mixup_alpha" and given is None):
            continue
        if given != defaults[name]:
            raise ValueError(preset_conflict(config.preset, name, given))
        object.__setattr__(config, name, value)


def preset_conflict(preset, name, given):
    """The message of a flag that contradicts ``preset``, or None where
    ``--name=given`` agrees with it."""
    value = PRESETS[preset][name]
    if given == value:
        return None
    if value is None:
        return (f"`preset={preset}` keeps the default `{name}`, but "
                f"`{name}={given}` was given. Drop one of them.")
    return (f"`preset={preset}` fixes `{name}={value}`, but "
            f"`{name}={given}` was given. Drop one of them.")


def parse_image_size(value):
    """The ``--image_size`` flag as ``(H, W)`` or None (`image_size_of`),
    its error naming the flag."""
    try:
        return image_size_of(value)
    except ValueError as e:
        raise ValueError(f"`image_size={value}`: {e}") from e


def parse_list(name, value, kind):
    """A list field's value as a tuple of ``kind`` (None when empty).

    Args:
        name: the field, for the message.
        value: None, a list or tuple, or a comma-separated string (as the
            flag's text).
        kind: the type of the items (``str``, ``float``).

    Returns:
        A tuple, or None.

    Example:

    >>> parse_list("teacher_loss_weights", "1,3", float)
    (1.0, 3.0)
    """
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"`{name}={value}` must be a list (or a "
                         "comma-separated string).")
    try:
        items = tuple(kind(item.strip() if isinstance(item, str) else item)
                      for item in items)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`{name}={value}`: each item must be a "
                         f"{kind.__name__} ({e}).") from e
    return items if any(str(item) for item in items) else None


def check_choice(name, value, choices):
    """Raises `ValueError` naming ``--name`` unless ``value`` is a choice."""
    if value not in choices:
        shown = ", ".join(str(c) for c in choices if c is not None)
        raise ValueError(f"`{name}={value}` is not one of: {shown}.")


def checked(fields, check, *values):
    """Runs a library check, naming the fields (``"a/b"``) in its
    `ValueError`."""
    flags = ", ".join(f"`{f}`" for f in fields.split("/"))
    try:
        check(*values)
    except ValueError as e:
        raise ValueError(f"{flags}: {e}") from e



def _set_validation_split(config):
    """Normalises ``validation_split`` (0 means none: None)."""
    object.__setattr__(config, "validation_split",
                       data.check_validation_split(config.validation_split))
