"""`RunConfig`: every command's settings in one configuration.

Each command takes its own frozen configuration
(`keras_mixkd.training.command_config`: `TeacherConfig`, `DistillConfig`,
`EvaluateConfig`, `ConvertConfig`); `RunConfig` has all their fields, for
what runs several commands (compare, study, the quick start), and is each
of them. The lists of keys a run folder needs are derived here from the
roles the fields declare (`keras_mixkd.training.config_fields.setting`).
"""

import dataclasses
import pathlib
import typing

from keras_mixkd import data
from keras_mixkd import losses
from keras_mixkd.training.command_config import COMMAND_CONFIGS
from keras_mixkd.training.command_config import ConvertConfig
from keras_mixkd.training.command_config import DistillConfig
from keras_mixkd.training.command_config import EvaluateConfig
from keras_mixkd.training.command_config import TeacherConfig
from keras_mixkd.training.config_fields import ALWAYS
from keras_mixkd.training.config_fields import NEVER
from keras_mixkd.training.config_fields import fields_where

#: Keys of a run's ``config.json`` that an earlier version named otherwise.
RENAMED_KEYS = {"beta_alpha": "mixup_alpha"}


@dataclasses.dataclass(frozen=True)
class RunConfig(DistillConfig, TeacherConfig, EvaluateConfig, ConvertConfig):
    """Every command's settings, named like the ``mixkd`` flags.

    A `RunConfig` is a `TeacherConfig`, a `DistillConfig`, an
    `EvaluateConfig` and a `ConvertConfig` at once (each command ignores
    the fields it does not take): compare, study and the quick start build
    one for the several commands they run. A single command is better
    described by its own configuration (`for_command`).

    Adding a setting is one field in the configuration of the commands
    that take it, with its flag's default and its role declared on it
    (`setting`: how ``config.json`` records it, whether it names a path,
    may change on resumption, or applies to some mixings only);
    `TRAINING_KEYS`, `COMMAND_KEYS`, `UNRECORDED_KEYS`, `PATH_KEYS`,
    `RESUMABLE_KEYS` and `inert_keys` are derived from those roles. A new
    field recorded only where it differs from its default (the default
    role) keeps older folders resuming.

    Args:
        **fields: those of `DistillConfig`, `TeacherConfig`,
            `EvaluateConfig` and `ConvertConfig` (their bases
            `TrainingConfig` and `RuntimeConfig` included).

    Example:

    >>> config = RunConfig(dataset="digits", model="resnet8", epochs=2)
    >>> teacher_config = config.for_command("train-teacher")
    """

    COMMAND: typing.ClassVar[str] = None

    def for_command(self, command):
        """This configuration's fields that ``command`` takes.

        Args:
            command: a command of `COMMAND_CONFIGS`.

        Returns:
            The command's configuration (`TeacherConfig`...).
        """
        if command not in COMMAND_CONFIGS:
            raise ValueError(f"No configuration of command {command!r}; "
                             f"one of: {', '.join(COMMAND_CONFIGS)}.")
        cls = COMMAND_CONFIGS[command]
        return cls(**{f.name: getattr(self, f.name)
                      for f in dataclasses.fields(cls)})


def _roles(keep):
    """The `RunConfig` fields whose declared role passes ``keep``."""
    return fields_where(RunConfig, keep)


def _recorded_by(command):
    """Whether a role is recorded by ``command`` and no other command."""
    return lambda role: (isinstance(role["record"], tuple)
                         and command in role["record"])


#: Settings every training run records in its ``config.json``.
TRAINING_KEYS = _roles(lambda role: role["record"] == ALWAYS)

#: Settings each command records besides the `TRAINING_KEYS`.
COMMAND_KEYS = {command: _roles(_recorded_by(command))
                for command in ("train-teacher", "distill")}

#: Fields never recorded: where a run is, how it talks, not what it is.
UNRECORDED_KEYS = _roles(lambda role: role["record"] == NEVER)

#: Recorded settings that name a file or folder (``dataset`` when it is
#: ``folder:PATH``): compared after resolving them (`resolved_path`).
PATH_KEYS = _roles(lambda role: role["path"])

#: Settings that may change between a run and its resumption.
RESUMABLE_KEYS = _roles(lambda role: role["resumable"])


def upgrade_record(record):
    """A ``config.json`` of an earlier version with today's key names."""
    return {RENAMED_KEYS.get(key, key): value for key, value in record.items()}


def resolved_path(key, value):
    """A recorded value, with the path it names resolved.

    Relative paths are resolved against the current directory (a run
    folder does not know the one it was started from), then made absolute
    with symbolic links resolved, so that one file named two ways compares
    equal; a list of paths item by item. Other keys and values are
    returned as they are.

    Args:
        key: a ``config.json`` key.
        value: its value.

    Returns:
        The value to compare.

    Example:

    >>> resolved_path("dataset", "folder:fm5")
    'folder:/home/me/fm5'
    """
    if key in PATH_KEYS and isinstance(value, (list, tuple)):
        return [resolved_path(key, item) for item in value]
    if key not in PATH_KEYS or not isinstance(value, str) or not value:
        return value
    if key == "dataset":
        return data.resolved_name(value)
    return str(pathlib.Path(value).expanduser().resolve())


def default(name):
    """The default value of the `RunConfig` field ``name``."""
    return RunConfig.__dataclass_fields__[name].default


def trained_loss(record):
    """What a run trained its network to output, read from its
    ``config.json``: the one place that maps a run to its training loss.

    Args:
        record: the run's configuration record (a ``config.json``), or a
            `RunConfig`'s `record` of a command.

    Returns:
        ``(loss, temperature)``: ``("ce", None)`` for a network trained
        alone (train-teacher), else the distillation loss's name and
        temperature (None: its default). `keras_mixkd.losses.student_loss`
        turns them into the loss that fixes the network's probabilities.

    Example:

    >>> trained_loss({"command": "distill", "loss": "mixstd",
    ...               "temperature": 0.5})
    ('mixstd', 0.5)
    """
    record = upgrade_record(record or {})
    if record.get("command") != "distill":
        return losses.TRAINED_ALONE, None
    return record.get("loss", default("loss")), record.get("temperature")
