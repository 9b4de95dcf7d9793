"""`RunConfig`: everything one training run needs, as explicit values.

The fields are named exactly like the ``mixkd`` command-line flags and have
the same defaults, so ``mixkd distill --epochs=8`` and
``RunConfig(epochs=8)`` describe the same run. The range and consistency
rules of a run live here, once: a bad value raises `ValueError` naming the
field (written like its flag, ``--name``) and the fix.
"""

import dataclasses
import pathlib

from keras_mixkd import data
from keras_mixkd import distiller
from keras_mixkd import losses
from keras_mixkd import mixing
from keras_mixkd import recipe
from keras_mixkd import settings
from keras_mixkd.data.pipeline import image_size_of
from keras_mixkd.settings import CHOICES
from keras_mixkd.settings import DEFAULTS
from keras_mixkd.settings import MIN_EVAL_BATCH_SIZE
from keras_mixkd.training.config_fields import ALWAYS
from keras_mixkd.training.config_fields import CHANGED
from keras_mixkd.training.config_fields import NEVER
from keras_mixkd.training.config_fields import fields_where
from keras_mixkd.training.config_fields import setting
from keras_mixkd.training.config_fields import unused_reason

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

#: What ``preset="paper"`` fixes: the official MIX-KD settings.
PRESETS = {"paper": settings.PAPER}

#: Keys of a run's ``config.json`` that an earlier version named otherwise.
RENAMED_KEYS = {"beta_alpha": "mixup_alpha"}

#: Default ``mixup_alpha`` of a command when the field is None.
DEFAULT_MIXUP_ALPHA = {"train-teacher": 0.0, "distill": 1.0}


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The configuration of one run, named like the ``mixkd`` flags.

    Adding a setting is one field here, with its flag's default and its
    role declared on it (`setting`: how ``config.json`` records it, whether
    it names a path, may change on resumption, or applies to some mixings
    only); `TRAINING_KEYS`, `COMMAND_KEYS`, `UNRECORDED_KEYS`, `PATH_KEYS`,
    `RESUMABLE_KEYS` and `inert_keys` are derived from those roles. A new
    field recorded only where it differs from its default (the default
    role) keeps older folders resuming.

    Args:
        dataset: a name `keras_mixkd.data.load` accepts ("digits" offline,
            "folder:PATH", "tfds:NAME"...).
        data_dir: tensorflow-datasets data directory.
        image_size: resize the images to this size: ``H``, ``(H, W)`` or
            ``"H,W"``, kept as ``(H, W)`` (None: the dataset's).
        channels: read every image as grayscale (1) or RGB (3); None: as
            the data is (an image folder must then not mix grayscale and
            colour files).
        train_size: train on a class-stratified subset of this many images.
        validation_split: train-teacher, distill: hold out this
            class-stratified fraction of the training images, chosen by
            ``seed`` (`keras_mixkd.data.load_splits`): ``best`` is chosen on
            it (``val_*`` metrics) and the test set is only reported
            (``test_*`` metrics); it is also what ``mixkd export
            --calibrate`` fits its temperature on. None or 0: none (``best``
            is chosen on the test set). Recorded in ``config.json`` only
            when set.
        epochs: training epochs (the paper: 240).
        validation_freq: validate (and choose ``best``) after the first
            epoch, every this many epochs and after the last one; the other
            epochs' ``val_*`` cells of ``metrics.csv`` stay empty. On a
            small training set the evaluation of a large test set can take
            longer than the epoch itself. Recorded when not 1.
        backup_interval_s: back up a run (`keras_mixkd.training.Backup`)
            after an epoch only when this many seconds have passed since
            the last backup, or after the last epoch or a new best (0:
            every epoch; multi-worker runs always). Recorded when not 30;
            a run may resume with another value.
        batch_size: batch size per replica (the paper: 64).
        eval_batch_size: batch size per replica of the validation and test
            evaluations (None: the larger of ``batch_size`` and
            `MIN_EVAL_BATCH_SIZE`, `resolved_eval_batch_size`). Inference
            only: the accuracies do not depend on it. Not recorded.
        learning_rate: base rate for batch 64 (None: the paper's rate of the
            architecture), scaled linearly with the global batch.
        weight_decay: coupled L2 weight decay.
        seed: seed of initialisation, data order and mixing.
        strategy: "default", "mirrored" or "multiworker" (TF_CONFIG).
        mixed_precision: "none", "float16" or "bfloat16".
        jit_compile: compile the train step with XLA.
        steps_per_execution: training steps run per call of the compiled
            step (fewer host round trips on a GPU; same results).
        teacher_dtype: distill: precision of the frozen teacher's forward
            pass ("none": the student's policy; "bfloat16" under a float32
            student is faster on CPUs with bfloat16 instructions and moves
            the loss by about 1e-3 relative).
        fold_teacher: distill: run the teacher with its BatchNorm folded
            into its convolutions: "auto" (when it computes below float32),
            "on" or "off".
        deterministic: TensorFlow op determinism (bit-identical reruns).
        output_dir: the run folder (None: ``runs/<command>-<models>-<data>``).
        overwrite: train-teacher, distill: train again from scratch in a run
            folder that holds a run (finished or not, of this configuration
            or another), replacing the run's own files there.
        verbose: Keras progress output, "auto", "0", "1" or "2".
        model: architecture of train-teacher, evaluate and convert: a name
            of `keras_mixkd.models.available` or
            ``"keras.applications.<Name>"``.
        weights: weights file of evaluate (a ``.keras`` file brings its
            architecture: ``model`` may stay None) and convert.
        output: the ``.keras`` file convert writes.
        num_classes: classes of convert (None: from the file).
        teacher, teacher_weights, student, student_weights: distillation's
            models: architecture names (as ``model``) and files. A ``.keras``
            file brings its architecture (the name may then stay None); a
            name and a file load the file's weights into the named
            architecture. ``student_weights`` warm-starts the student.
        mixup_alpha: the Beta(a, a) parameter of all mixing. None: 1.0 for
            distillation; train-teacher trains without mixup unless > 0.
        preset: "paper" checks the official MIX-KD settings (`PRESETS`).
        loss: distillation loss, a name of `keras_mixkd.losses.available`.
        mixing: a name of `keras_mixkd.mixing.available`.
        mix_fraction: share of each batch partial mixup mixes.
        mix_sampling: "official" or "exact" partial-mixup sampling.
        mix_mode: distill: "replace" (the mixed batch replaces the clean
            one) or "append" (the clean batch and its mixed copy, CE on the
            clean rows, KD on all: `keras_mixkd.Distiller`). Recorded when
            not "replace".
        temperature: temperature of "kd" (default 4), "ls" (default 2),
            "dkd" (4) or "dist" (1); "mixstd": the base temperature tau
            (default 1, the official code; each sample's temperature is
            ``tau * std(z)``). Recorded as None for "mixstd" at 1.
        ce_weight, kd_weight: weights of the student CE and the KD term.

    Example:

    >>> config = RunConfig(dataset="digits", model="resnet8", epochs=2)
    >>> teacher_config = dataclasses.replace(config, mixup_alpha=1.0)
    """

    dataset: str = setting(DEFAULTS["dataset"], record=ALWAYS, path=True)
    data_dir: str = setting(record=NEVER, path=True, resumable=True)
    image_size: tuple = setting()
    channels: int = setting()
    train_size: int = setting()
    validation_split: float = setting()
    epochs: int = setting(DEFAULTS["epochs"], record=ALWAYS)
    validation_freq: int = setting(DEFAULTS["validation_freq"])
    backup_interval_s: float = setting(DEFAULTS["backup_interval_s"],
                                       resumable=True)
    batch_size: int = setting(DEFAULTS["batch_size"], record=ALWAYS)
    eval_batch_size: int = setting(record=NEVER)
    learning_rate: float = setting(record=ALWAYS)
    weight_decay: float = setting(DEFAULTS["weight_decay"], record=ALWAYS)
    seed: int = setting(DEFAULTS["seed"], record=ALWAYS)
    strategy: str = setting(DEFAULTS["strategy"], record=ALWAYS)
    mixed_precision: str = setting(DEFAULTS["mixed_precision"],
                                   record=ALWAYS)
    jit_compile: bool = setting(DEFAULTS["jit_compile"], record=ALWAYS)
    steps_per_execution: int = setting(DEFAULTS["steps_per_execution"],
                                       record=NEVER)
    deterministic: bool = setting(DEFAULTS["deterministic"])
    output_dir: str = setting(record=NEVER, resumable=True)
    overwrite: bool = setting(DEFAULTS["overwrite"], record=NEVER)
    verbose: str = setting(DEFAULTS["verbose"], record=NEVER, resumable=True)
    model: str = setting(record=("train-teacher",))
    weights: str = setting(record=NEVER, path=True)
    output: str = setting(record=NEVER)
    num_classes: int = setting(record=NEVER)
    teacher: str = setting(record=("distill",))
    teacher_weights: str = setting(record=("distill",), path=True)
    student: str = setting(record=("distill",))
    student_weights: str = setting(path=True)
    mixup_alpha: float = setting(record=("train-teacher", "distill"),
                                 not_with_mixing=("none",))
    preset: str = setting(record=("distill",))
    loss: str = setting(DEFAULTS["loss"], record=("distill",))
    mixing: str = setting(DEFAULTS["mixing"], record=("distill",))
    mix_fraction: float = setting(DEFAULTS["mix_fraction"],
                                  record=("distill",),
                                  only_with_mixing=("pmu",))
    mix_sampling: str = setting(DEFAULTS["mix_sampling"],
                                record=("distill",),
                                only_with_mixing=("pmu",))
    mix_mode: str = setting(DEFAULTS["mix_mode"])
    temperature: float = setting(record=("distill",))
    ce_weight: float = setting(DEFAULTS["ce_weight"], record=("distill",))
    kd_weight: float = setting(DEFAULTS["kd_weight"], record=("distill",))
    teacher_dtype: str = setting(DEFAULTS["teacher_dtype"])
    fold_teacher: str = setting(DEFAULTS["fold_teacher"])

    def __post_init__(self):
        object.__setattr__(self, "verbose", str(self.verbose))
        object.__setattr__(self, "image_size", parse_image_size(
            self.image_size))
        for name, choices in (("strategy", STRATEGIES),
                              ("mixed_precision", tuple(PRECISION_POLICIES)),
                              ("verbose", VERBOSITIES),
                              ("loss", tuple(losses.available())),
                              ("mixing", tuple(mixing.available())),
                              ("mix_mode", mixing.MIX_MODES),
                              ("preset", (None, *PRESETS)),
                              ("teacher_dtype", TEACHER_DTYPES),
                              ("fold_teacher", tuple(FOLD_TEACHER)),
                              ("channels", (None, *data.CHANNELS))):
            check_choice(name, getattr(self, name), choices)
        for name in ("epochs", "validation_freq", "batch_size",
                     "eval_batch_size", "train_size", "steps_per_execution"):
            if getattr(self, name) is not None and not int(
                    getattr(self, name)) >= 1:
                raise ValueError(f"--{name} must be >= 1, got "
                                 f"{getattr(self, name)}.")
        if not (isinstance(self.backup_interval_s, (int, float))
                and self.backup_interval_s >= 0):
            raise ValueError("--backup_interval_s must be >= 0 (0: back up "
                             f"every epoch), got {self.backup_interval_s}.")
        # The library's own rules, each checked where it lives.
        _checked("dataset", data.check_name, self.dataset)
        _checked("validation_split", _set_validation_split, self)
        _checked("learning_rate/weight_decay", recipe.check_hyperparameters,
                 self.learning_rate, self.weight_decay)
        _checked("ce_weight/kd_weight", distiller.check_weights,
                 self.ce_weight, self.kd_weight)
        _checked("mixup_alpha/mix_fraction/mix_sampling",
                 mixing.check_arguments,
                 self.mixup_alpha or 1.0,  # 0: a teacher without mixup
                 self.mix_fraction, self.mix_sampling)
        self._check_preset()

    def _check_preset(self):
        if self.preset is None:
            return
        for name, value in PRESETS[self.preset].items():
            given = getattr(self, name)
            if name == "mixup_alpha" and given is None:
                continue
            if given != value:
                raise ValueError(
                    f"--preset={self.preset} fixes --{name}={value}, but "
                    f"--{name}={given} was given. Drop one of them.")
        for name, what in (("temperature", "the std-scaled temperature"),
                           ("learning_rate", "the official learning rate")):
            if getattr(self, name) is not None:
                raise ValueError(f"--preset={self.preset} uses {what}; "
                                 f"--{name} contradicts it.")

    def resolved_mixup_alpha(self, command):
        """``mixup_alpha``, or the command's default when it is None."""
        if self.mixup_alpha is None:
            return DEFAULT_MIXUP_ALPHA[command]
        return float(self.mixup_alpha)

    def check_distill(self):
        """Raises `ValueError` on settings a distillation run cannot use.

        Settings that only apply to some mixings must keep their defaults
        under the others (a changed one would be silently ignored).
        """
        _checked("loss/temperature", losses.get, self.loss,
                 self.temperature)
        if self.mix_mode == "append" and self.mixing == "none":
            raise ValueError("--mix_mode=append adds a mixed copy of each "
                             "batch: give a --mixing (e.g. fmu or cutmix).")
        for field in dataclasses.fields(self):
            reason = unused_reason(field, self.mixing)
            if reason and getattr(self, field.name) != field.default:
                raise ValueError(f"--{field.name} {reason}.")
        if self.mixup_alpha is not None and not self.mixup_alpha > 0:
            raise ValueError(f"--mixup_alpha must be > 0 to mix, got "
                             f"{self.mixup_alpha}.")
        if self.jit_compile:
            _checked("mixing/jit_compile", mixing.check_jit_compile,
                     self.mixing)

    def check_train_teacher(self):
        """Raises `ValueError` on settings a teacher run cannot use."""
        if not self.model:
            raise ValueError("Missing --model.")

    def inert_keys(self, command):
        """Recorded settings without effect on this run (its mixing's
        unused ones): a resumed run may differ there."""
        if command != "distill":
            return ()
        return tuple(f.name for f in dataclasses.fields(self)
                     if unused_reason(f, self.mixing))

    def resolved_eval_batch_size(self):
        """The evaluation batch per replica: ``eval_batch_size``, or the
        larger of ``batch_size`` and `MIN_EVAL_BATCH_SIZE`."""
        if self.eval_batch_size is not None:
            return int(self.eval_batch_size)
        return max(int(self.batch_size), MIN_EVAL_BATCH_SIZE)

    def recorded(self, name):
        """The value of field ``name`` as a ``config.json`` holds it.

        ``image_size`` is recorded as ``H`` when square (as earlier
        versions did), else ``[H, W]``; ``temperature`` 1 of ``"mixstd"``
        (its default) as None, as runs recorded it before MIXSTD took a
        temperature; other fields as they are.
        """
        value = getattr(self, name)
        if name == "image_size" and value is not None:
            return value[0] if value[0] == value[1] else list(value)
        if (name == "temperature" and self.loss == "mixstd"
                and value is not None and float(value) == 1.0):
            return None
        return value

    def record(self, command):
        """The ``config.json`` of a run of ``command``: resolved values.

        Args:
            command: "train-teacher" or "distill".

        Returns:
            A JSON-ready dict: the command, its `COMMAND_KEYS` and the
            `TRAINING_KEYS`, plus every other recorded field that differs
            from its default.
        """
        record = {"command": command}
        for field in dataclasses.fields(self):
            name, value = field.name, self.recorded(field.name)
            role = field.metadata["record"]
            if role == NEVER or (isinstance(role, tuple)
                                 and command not in role):
                continue
            if name == "mixup_alpha":
                value = self.resolved_mixup_alpha(command)
            if role != CHANGED or value != field.default:
                record[name] = value
        return record


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
    equal. Other keys and values are returned as they are.

    Args:
        key: a ``config.json`` key.
        value: its value.

    Returns:
        The value to compare.

    Example:

    >>> resolved_path("dataset", "folder:fm5")
    'folder:/home/me/fm5'
    """
    if key not in PATH_KEYS or not isinstance(value, str) or not value:
        return value
    if key == "dataset":
        return data.resolved_name(value)
    return str(pathlib.Path(value).expanduser().resolve())


def default(name):
    """The default value of the `RunConfig` field ``name``."""
    return RunConfig.__dataclass_fields__[name].default


def parse_image_size(value):
    """The ``--image_size`` flag as ``(H, W)`` or None (`image_size_of`),
    its error naming the flag."""
    try:
        return image_size_of(value)
    except ValueError as e:
        raise ValueError(f"--image_size={value}: {e}") from e


def check_choice(name, value, choices):
    """Raises `ValueError` naming ``--name`` unless ``value`` is a choice."""
    if value not in choices:
        shown = ", ".join(str(c) for c in choices if c is not None)
        raise ValueError(f"--{name}={value} is not one of: {shown}.")


def _set_validation_split(config):
    """Normalises ``validation_split`` (0 means none: None)."""
    object.__setattr__(config, "validation_split",
                       data.check_validation_split(config.validation_split))


def _checked(fields, check, *values):
    """Runs a library check, naming the fields in its `ValueError`."""
    flags = ", ".join(f"--{f}" for f in fields.split("/"))
    try:
        check(*values)
    except ValueError as e:
        raise ValueError(f"{flags}: {e}") from e


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
