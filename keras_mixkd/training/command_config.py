"""Each command's configuration: what ``train-teacher``, ``distill``,
``evaluate`` and ``convert`` take, as frozen dataclasses.

The fields are named exactly like the ``mixkd`` flags and have the same
defaults, so ``mixkd distill --epochs=8`` and ``DistillConfig(epochs=8)``
describe the same run. What the commands share lives in a base
(`RuntimeConfig`: data, devices and output; `TrainingConfig`: a training
run), and each field declares its role once, on itself
(`keras_mixkd.training.config_fields.setting`). The rules run when a
configuration is made (`keras_mixkd.training.config_rules.check_config`).
"""

import dataclasses
import typing

from keras_mixkd import losses
from keras_mixkd import mixing
from keras_mixkd.settings import DEFAULTS
from keras_mixkd.settings import MIN_EVAL_BATCH_SIZE
from keras_mixkd.training.config_fields import ALWAYS
from keras_mixkd.training.config_fields import CHANGED
from keras_mixkd.training.config_fields import NEVER
from keras_mixkd.training.config_fields import setting
from keras_mixkd.training.config_fields import unused_reason
from keras_mixkd import teachers
from keras_mixkd.training.config_rules import LIST_FIELDS
from keras_mixkd.training.config_rules import check_config
from keras_mixkd.training.config_rules import checked

#: Default ``mixup_alpha`` of a command when the field is None.
DEFAULT_MIXUP_ALPHA = {"train-teacher": 0.0, "distill": 1.0}


@dataclasses.dataclass(frozen=True)
class CommandConfig:
    """What every command's configuration does: checks itself when made,
    and writes the ``config.json`` record of a run."""

    #: The command this configuration is for (None: several).
    COMMAND: typing.ClassVar[str] = None

    def __post_init__(self):
        check_config(self)

    def _command(self, command):
        command = command or self.COMMAND
        if command is None:
            raise ValueError(f"{type(self).__name__} serves several "
                             "commands: name the command.")
        return command

    def recorded(self, name):
        """The value of field ``name`` as a ``config.json`` holds it.

        ``image_size`` is recorded as ``H`` when square (as earlier
        versions did), else ``[H, W]``; ``temperature`` 1 of ``"mixstd"``
        (its default) as None, as runs recorded it before MIXSTD took a
        temperature; a list field (`LIST_FIELDS`) as a list, as JSON reads
        it back; other fields as they are.
        """
        value = getattr(self, name)
        if name == "image_size" and value is not None:
            return value[0] if value[0] == value[1] else list(value)
        if name in LIST_FIELDS and value is not None:
            return list(value)
        if (name == "temperature" and self.loss == "mixstd"
                and value is not None and float(value) == 1.0):
            return None
        return value

    def record(self, command=None):
        """The ``config.json`` of a run of ``command``: resolved values.

        Args:
            command: "train-teacher" or "distill" (None: this
                configuration's own command).

        Returns:
            A JSON-ready dict: the command and every field of the
            command's configuration that its role records
            (`keras_mixkd.training.config_fields.setting`).
        """
        command = self._command(command)
        foreign = foreign_fields(command)
        record = {"command": command}
        for field in dataclasses.fields(self):
            name, value = field.name, self.recorded(field.name)
            role = field.metadata["record"]
            if name in foreign or role == NEVER or (
                    isinstance(role, tuple) and command not in role):
                continue
            if name == "mixup_alpha":
                value = self.resolved_mixup_alpha(command)
            if role != CHANGED or value != field.default:
                record[name] = value
        return record

    def inert_keys(self, command=None):
        """Recorded settings without effect on this run: a resumed run may
        differ there.

        They are the settings ``command`` does not take (a `RunConfig`
        recorded some, such as a teacher run's ``teacher_dtype``, before
        each command had its configuration) and, for distill, those its
        mixing does not use.
        """
        command = self._command(command)
        foreign = tuple(sorted(foreign_fields(command)))
        if command != "distill":
            return foreign
        return tuple(f.name for f in dataclasses.fields(self)
                     if unused_reason(f, self.mixing)) + foreign


@dataclasses.dataclass(frozen=True)
class RuntimeConfig(CommandConfig):
    """What every command that reads data takes: data, devices, output.

    Args:
        dataset: a name `keras_mixkd.data.load` accepts ("digits" offline,
            "folder:PATH", "tfds:NAME"...).
        data_dir: tensorflow-datasets data directory.
        image_size: resize the images to this size: ``H``, ``(H, W)`` or
            ``"H,W"``, kept as ``(H, W)`` (None: the dataset's).
        channels: read every image as grayscale (1) or RGB (3); None: as
            the data is (an image folder must then not mix grayscale and
            colour files).
        batch_size: batch size per replica (the paper: 64).
        seed: seed of initialisation, data order and mixing.
        strategy: "default", "mirrored" or "multiworker" (TF_CONFIG).
        mixed_precision: "none", "float16" or "bfloat16".
        jit_compile: compile the train step with XLA.
        deterministic: TensorFlow op determinism (bit-identical reruns).
        output_dir: train-teacher, distill: the run folder (None:
            ``runs/<command>-<models>-<data>``); evaluate: the folder of
            its ``evaluation.json`` (None: printed only).
        verbose: Keras progress output, "auto", "0", "1" or "2".
    """

    dataset: str = setting(DEFAULTS["dataset"], record=ALWAYS, path=True)
    data_dir: str = setting(record=NEVER, path=True, resumable=True)
    image_size: tuple = setting()
    channels: int = setting()
    batch_size: int = setting(DEFAULTS["batch_size"], record=ALWAYS)
    seed: int = setting(DEFAULTS["seed"], record=ALWAYS)
    strategy: str = setting(DEFAULTS["strategy"], record=ALWAYS)
    mixed_precision: str = setting(DEFAULTS["mixed_precision"],
                                   record=ALWAYS)
    jit_compile: bool = setting(DEFAULTS["jit_compile"], record=ALWAYS)
    deterministic: bool = setting(DEFAULTS["deterministic"])
    output_dir: str = setting(record=NEVER, resumable=True)
    verbose: str = setting(DEFAULTS["verbose"], record=NEVER, resumable=True)

    def resolved_eval_batch_size(self):
        """The evaluation batch per replica: the larger of ``batch_size``
        and `MIN_EVAL_BATCH_SIZE` (inference only)."""
        return max(int(self.batch_size), MIN_EVAL_BATCH_SIZE)

    def data_subset(self):
        """``(train_size, validation_split)``: the whole training set and
        no validation split (a training run may choose others)."""
        return None, None


@dataclasses.dataclass(frozen=True)
class TrainingConfig(RuntimeConfig):
    """What ``train-teacher`` and ``distill`` share: one training run.

    Args:
        train_size: train on a class-stratified subset of this many images.
        validation_split: hold out this class-stratified fraction of the
            training images, chosen by ``seed``
            (`keras_mixkd.data.load_splits`): ``best`` is chosen on it
            (``val_*`` metrics) and the test set is only reported
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
        eval_batch_size: batch size per replica of the validation and test
            evaluations (None: the larger of ``batch_size`` and
            `MIN_EVAL_BATCH_SIZE`, `resolved_eval_batch_size`). Inference
            only: the accuracies do not depend on it. Not recorded.
        learning_rate: base rate for batch 64 (None: the paper's rate of the
            architecture), scaled linearly with the global batch.
        weight_decay: coupled L2 weight decay.
        steps_per_execution: training steps run per call of the compiled
            step (fewer host round trips on a GPU; same results).
        overwrite: train again from scratch in a run folder that holds a
            run (finished or not, of this configuration or another),
            replacing the run's own files there.
        mixup_alpha: the Beta(a, a) parameter of all mixing. None: 1.0 for
            distillation; train-teacher trains without mixup unless > 0.
    """

    train_size: int = setting()
    validation_split: float = setting()
    epochs: int = setting(DEFAULTS["epochs"], record=ALWAYS)
    validation_freq: int = setting(DEFAULTS["validation_freq"])
    backup_interval_s: float = setting(DEFAULTS["backup_interval_s"],
                                       resumable=True)
    eval_batch_size: int = setting(record=NEVER)
    learning_rate: float = setting(record=ALWAYS)
    weight_decay: float = setting(DEFAULTS["weight_decay"], record=ALWAYS)
    steps_per_execution: int = setting(DEFAULTS["steps_per_execution"],
                                       record=NEVER)
    overwrite: bool = setting(DEFAULTS["overwrite"], record=NEVER)
    mixup_alpha: float = setting(record=("train-teacher", "distill"),
                                 not_with_mixing=("none",))

    def resolved_eval_batch_size(self):
        """The evaluation batch per replica: ``eval_batch_size``, or the
        larger of ``batch_size`` and `MIN_EVAL_BATCH_SIZE`."""
        if self.eval_batch_size is not None:
            return int(self.eval_batch_size)
        return super().resolved_eval_batch_size()

    def data_subset(self):
        """``(train_size, validation_split)`` of this run."""
        return self.train_size, self.validation_split

    def resolved_mixup_alpha(self, command=None):
        """``mixup_alpha``, or the command's default when it is None."""
        if self.mixup_alpha is None:
            return DEFAULT_MIXUP_ALPHA[self._command(command)]
        return float(self.mixup_alpha)


@dataclasses.dataclass(frozen=True)
class ModelField:
    """The ``model`` field: an architecture.

    Args:
        model: a name of `keras_mixkd.models.available` or
            ``"keras.applications.<Name>"``.
    """

    model: str = setting(record=("train-teacher",))


@dataclasses.dataclass(frozen=True)
class WeightsField:
    """The ``weights`` field: a model file.

    Args:
        weights: a weights file (a ``.keras`` file brings its
            architecture: ``model`` may stay None).
    """

    weights: str = setting(record=NEVER, path=True)


@dataclasses.dataclass(frozen=True)
class TeacherConfig(TrainingConfig, ModelField):
    """What ``train-teacher`` takes: one network trained alone.

    Args:
        model: the architecture to train (`ModelField`).
        **fields: those of `TrainingConfig` and `RuntimeConfig`.

    Example:

    >>> config = TeacherConfig(dataset="digits", model="resnet8", epochs=2)
    >>> teacher, summary = keras_mixkd.training.train_teacher(config)
    """

    COMMAND: typing.ClassVar[str] = "train-teacher"

    def check_train_teacher(self):
        """Raises `ValueError` on settings a teacher run cannot use."""
        if not self.model:
            raise ValueError("Missing `model`.")


@dataclasses.dataclass(frozen=True)
class DistillConfig(TrainingConfig):
    """What ``distill`` takes: a student distilled from a frozen teacher.

    Args:
        teacher, teacher_weights, student, student_weights: the models:
            architecture names (as ``model``) and files. A ``.keras`` file
            brings its architecture (the name may then stay None); a name
            and a file load the file's weights into the named
            architecture. ``student_weights`` warm-starts the student.
        extra_teacher_weights, extra_teachers: the teachers after the
            first (`keras_mixkd.Distiller`'s several teachers): their files
            (a tuple, or a comma-separated string) and, one per file, their
            architecture names ("" or None for a ``.keras`` file, which
            brings its own).
        teacher_loss_weights: each teacher's weight in the KD term, the
            first teacher's included (None: equal weights).
        preset: a name of `keras_mixkd.settings.PRESETS`: "paper" (the
            official MIX-KD settings) or "patient" (classic KD with mixed
            images appended, 240 epochs). The fields it fixes take its
            values where they hold their defaults; another value is an
            error (`keras_mixkd.training.config_rules.check_preset`).
        loss: distillation loss, a name of `keras_mixkd.losses.available`.
        mixing: a name of `keras_mixkd.mixing.available`.
        mix_fraction: share of each batch partial mixup mixes.
        mix_sampling: "official" or "exact" partial-mixup sampling.
        mix_mode: "replace" (the mixed batch replaces the clean one) or
            "append" (the clean batch and its mixed copy, CE on the clean
            rows, KD on all: `keras_mixkd.Distiller`). Recorded when not
            "replace".
        temperature: temperature of "kd" (default 4), "ls" (default 2),
            "dkd" (4) or "dist" (1); "mixstd": the base temperature tau
            (default 1, the official code; each sample's temperature is
            ``tau * std(z)``). Recorded as None for "mixstd" at 1.
        ce_weight, kd_weight: weights of the student CE and the KD term.
        teacher_dtype: precision of the frozen teacher's forward pass
            ("none": the student's policy; "bfloat16" under a float32
            student is faster on CPUs with bfloat16 instructions and moves
            the loss by about 1e-3 relative).
        fold_teacher: run the teacher with its BatchNorm folded into its
            convolutions: "auto" (when it computes below float32), "on" or
            "off".
        feature_loss: "none", or a feature loss of
            `keras_mixkd.feature_terms.available` on RepDistiller's layers of
            the two zoo models (`keras_mixkd.feature_terms.zoo_terms`):
            "hint" (FitNets), "at", "sp" or "pkt".
        feature_weight: each feature term's weight; None: RepDistiller's
            (hint 100, at 1000, sp 3000, pkt 30000).
        **fields: those of `TrainingConfig` and `RuntimeConfig`.

    Example:

    >>> config = DistillConfig(dataset="digits", teacher="resnet14",
    ...                        student="resnet8", mixing="pmu", epochs=2)
    """

    COMMAND: typing.ClassVar[str] = "distill"

    teacher: str = setting(record=("distill",))
    teacher_weights: str = setting(record=("distill",), path=True)
    student: str = setting(record=("distill",))
    student_weights: str = setting(path=True)
    extra_teacher_weights: tuple = setting(path=True)
    extra_teachers: tuple = setting()
    teacher_loss_weights: tuple = setting()
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
    feature_loss: str = setting(DEFAULTS["feature_loss"])
    feature_weight: float = setting()

    def check_distill(self):
        """Raises `ValueError` on settings a distillation run cannot use.

        Settings that only apply to some mixings must keep their defaults
        under the others (a changed one would be silently ignored).
        """
        checked("loss/temperature", losses.get, self.loss, self.temperature)
        self.extra_teacher_sources()
        # Its message names `teacher_loss_weights` itself.
        teachers.normalized_weights(self.teacher_loss_weights,
                                    1 + len(self.extra_teacher_weights or ()))
        if self.feature_weight is not None and (
                self.feature_loss == "none" or not self.feature_weight >= 0):
            raise ValueError(
                "`feature_weight` weighs the feature terms: give it with a "
                "`feature_loss` (e.g. at), and >= 0; got "
                f"`feature_weight={self.feature_weight}` with "
                f"`feature_loss={self.feature_loss}`.")
        if self.mix_mode == "append" and self.mixing == "none":
            raise ValueError("`mix_mode=append` adds a mixed copy of each "
                             "batch: give a `mixing` (e.g. fmu or cutmix).")
        for field in dataclasses.fields(self):
            reason = unused_reason(field, self.mixing)
            if reason and getattr(self, field.name) != field.default:
                raise ValueError(f"`{field.name}` {reason}.")
        if self.mixup_alpha is not None and not self.mixup_alpha > 0:
            raise ValueError(f"`mixup_alpha` must be > 0 to mix, got "
                             f"{self.mixup_alpha}.")
        if self.jit_compile:
            checked("mixing/jit_compile", mixing.check_jit_compile,
                    self.mixing)


    def extra_teacher_sources(self):
        """The teachers after the first, as ``(architecture, file)`` pairs
        (architecture None: the ``.keras`` file's own).

        Raises:
            ValueError: `extra_teachers` without files, or not one name
                per file.
        """
        files = self.extra_teacher_weights or ()
        names = self.extra_teachers
        if names is None:
            return [(None, path) for path in files]
        if len(names) != len(files):
            raise ValueError(
                f"`extra_teachers` names {len(names)} architecture(s) for "
                f"{len(files)} file(s) of `extra_teacher_weights`: give one "
                "per file (empty for a .keras file, e.g. "
                "`extra_teachers=resnet32,`), or leave it out when every "
                "file is a .keras file.")
        return [(name or None, path) for name, path in zip(names, files)]


@dataclasses.dataclass(frozen=True)
class EvaluateConfig(RuntimeConfig, ModelField, WeightsField):
    """What ``evaluate`` takes: a model file and the data to test it on.

    Args:
        model, weights: the architecture (`ModelField`) and its file
            (`WeightsField`).
        **fields: those of `RuntimeConfig`.

    Example:

    >>> config = EvaluateConfig(dataset="digits",
    ...                         weights="runs/t/checkpoints/best.keras")
    >>> keras_mixkd.training.evaluate(config)["accuracy"]
    """


@dataclasses.dataclass(frozen=True)
class ConvertConfig(CommandConfig, ModelField, WeightsField):
    """What ``convert`` takes: an official PyTorch checkpoint to convert.

    Args:
        model, weights: the architecture (a name of
            `keras_mixkd.models.available`) and the ``.pth`` checkpoint.
        output: the ``.keras`` file to write.
        num_classes: classes of the checkpoint (None: from the file).

    Example:

    >>> config = ConvertConfig(model="resnet8", weights="ckpt.pth",
    ...                        output="resnet8.keras")
    """

    output: str = setting(record=NEVER)
    num_classes: int = setting(record=NEVER)


#: Command -> the configuration it takes.
COMMAND_CONFIGS = {"train-teacher": TeacherConfig, "distill": DistillConfig,
                   "evaluate": EvaluateConfig, "convert": ConvertConfig}


def fields_of(command):
    """The names of the fields ``command`` takes (`COMMAND_CONFIGS`)."""
    return {f.name for f in dataclasses.fields(COMMAND_CONFIGS[command])}


def foreign_fields(command):
    """The fields other commands take and ``command`` does not: never
    recorded by ``command``, and inert when its runs resume."""
    return set().union(*map(fields_of, COMMAND_CONFIGS)) - fields_of(command)


def as_config(config, cls, caller):
    """``config`` when it is a ``cls`` (a `RunConfig` is every command's).

    Raises:
        TypeError: naming ``caller``, the configuration it takes and the
            one it was given.
    """
    if not isinstance(config, cls):
        raise TypeError(
            f"{caller} takes a {cls.__name__} (or a RunConfig), got "
            f"{type(config).__name__}: build one with {cls.__name__}(...), "
            "or RunConfig(...).for_command(...).")
    return config
