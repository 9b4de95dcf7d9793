"""Each command's own configuration: its fields, checks, records and CLI."""

import dataclasses
import inspect
import json
import pathlib

import pytest

from keras_mixkd import training
from keras_mixkd.cli import flag_docs
from keras_mixkd.cli import flags
from keras_mixkd.training import command_config
from keras_mixkd.training import config_fields

RECORDS = json.loads((pathlib.Path(__file__).parents[1] / "fixtures"
                      / "config_records.json").read_text())


def _names(cls):
    return {f.name for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("command", list(training.COMMAND_CONFIGS))
def test_a_command_config_has_the_flags_of_its_command(command):
    """``flag_docs`` (light, for ``--help``) lists the same flags as the
    command's configuration, besides the deprecated ``--beta_alpha``."""
    cls = training.COMMAND_CONFIGS[command]
    assert _names(cls) == set(flag_docs.COMMAND_FLAGS[command]) - {
        "beta_alpha"}


def test_run_config_is_every_command_config():
    every = set().union(*map(_names, training.COMMAND_CONFIGS.values()))
    assert _names(training.RunConfig) == every
    config = training.RunConfig()
    for cls in training.COMMAND_CONFIGS.values():
        assert isinstance(config, cls)


def test_each_field_is_declared_once():
    """A field's name, default and role are written in one class only."""
    declared = {}
    for _, cls in inspect.getmembers(command_config, inspect.isclass):
        if dataclasses.is_dataclass(cls):
            for name in cls.__dict__.get("__annotations__", {}):
                if name != "COMMAND":
                    declared.setdefault(name, []).append(cls.__name__)
    assert {n: c for n, c in declared.items() if len(c) > 1} == {}
    assert set(declared) == _names(training.RunConfig)
    for field in dataclasses.fields(training.RunConfig):
        assert "record" in field.metadata, field.name


@pytest.mark.parametrize("case", RECORDS, ids=lambda c: str(len(c["kwargs"])))
def test_a_command_config_records_what_run_config_records(case):
    config = training.RunConfig(**case["kwargs"])
    for command in ("train-teacher", "distill"):
        own = config.for_command(command)
        assert own.record() == config.record(command)
        assert set(own.inert_keys()) == set(config.inert_keys(command))


def test_a_run_config_names_the_command_it_records():
    with pytest.raises(ValueError, match="name the command"):
        training.RunConfig().record()
    with pytest.raises(ValueError, match="No configuration of command "
                       "'export'"):
        training.RunConfig().for_command("export")


@pytest.mark.parametrize("cls, kwargs, message", [
    (training.TeacherConfig, {"epochs": 0}, "`epochs` must be >= 1"),
    (training.DistillConfig, {"mixing": "blend"},
     "`mixing=blend` is not one of"),
    (training.DistillConfig, {"preset": "paper", "epochs": 10},
     "`preset=paper` fixes `epochs=240`"),
    (training.EvaluateConfig, {"dataset": "imagenet"},
     "`dataset`: Unknown dataset 'imagenet'"),
    (training.EvaluateConfig, {"batch_size": 0}, "`batch_size` must be >= 1"),
    (training.TeacherConfig, {"mixup_alpha": -1.0},
     "`alpha` must be > 0"),
])
def test_each_config_checks_its_fields_when_made(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_a_config_takes_only_its_commands_fields():
    with pytest.raises(TypeError, match="epochs"):
        training.EvaluateConfig(epochs=2)
    with pytest.raises(TypeError, match="mixing"):
        training.TeacherConfig(mixing="pmu")
    assert training.ConvertConfig(model="resnet8").weights is None


def test_evaluate_reads_the_whole_training_set_without_a_split():
    config = training.EvaluateConfig(batch_size=8)
    assert config.data_subset() == (None, None)
    assert config.resolved_eval_batch_size() == max(
        8, flag_docs.MIN_EVAL_BATCH_SIZE)
    trained = training.TeacherConfig(train_size=100, validation_split=0.1,
                                     eval_batch_size=32)
    assert trained.data_subset() == (100, 0.1)
    assert trained.resolved_eval_batch_size() == 32


@pytest.mark.parametrize("run, cls", [
    (training.train_teacher, training.DistillConfig),
    (training.distill, training.TeacherConfig),
    (training.evaluate, training.TeacherConfig),
])
def test_another_commands_config_is_refused_by_name(run, cls):
    with pytest.raises(TypeError, match=r"takes a \w+Config \(or a "
                       f"RunConfig\\), got {cls.__name__}"):
        run(cls())


def test_the_cli_builds_each_commands_own_config():
    flags.FLAGS(["mixkd", "--epochs=3", "--model=resnet8"])
    try:
        teacher = flags.command_config("train-teacher")
        assert type(teacher) is training.TeacherConfig
        assert teacher.epochs == 3 and teacher.model == "resnet8"
        evaluate = flags.command_config("evaluate")
        assert type(evaluate) is training.EvaluateConfig
        assert type(flags.run_config()) is training.RunConfig
    finally:
        flags.FLAGS.unparse_flags()


def test_roles_are_declared_with_setting():
    role = training.DistillConfig.__dataclass_fields__["mix_fraction"]
    assert role.metadata["only_with_mixing"] == ("pmu",)
    assert training.TeacherConfig.__dataclass_fields__["dataset"].metadata[
        "record"] == config_fields.ALWAYS


def test_a_teacher_folder_recording_a_distill_setting_resumes(tmp_path):
    """A `RunConfig` recorded a changed ``teacher_dtype`` in a teacher
    run; its `TeacherConfig` does not take it, and resumes the folder."""
    earlier = training.RunConfig(dataset="digits", model="resnet8",
                                 teacher_dtype="bfloat16")
    record = earlier.record("train-teacher")
    assert "teacher_dtype" not in record
    (tmp_path / "config.json").write_text(json.dumps(
        {**record, "teacher_dtype": "bfloat16"}))
    (tmp_path / "metrics.csv").write_text("epoch,loss\n0,1.0\n")
    config = earlier.for_command("train-teacher")
    training.RunFolder(tmp_path, config.record(),
                       resumable=config.inert_keys())  # no error
    with pytest.raises(ValueError, match="differs in: epochs"):
        changed = dataclasses.replace(config, epochs=3)
        training.RunFolder(tmp_path, changed.record(),
                           resumable=changed.inert_keys())
