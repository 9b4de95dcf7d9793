"""Each `RunConfig` field's role is declared once, on the field."""

import dataclasses
import json
import pathlib

import pytest

from keras_mixkd.training import RunConfig
from keras_mixkd.training import config as config_lib
from keras_mixkd.training import config_fields

#: ``record``/``inert_keys`` of RunConfigs, written by the version that kept
#: the roles in separate lists (before they were declared on the fields).
RECORDS = json.loads((pathlib.Path(__file__).parents[1] / "fixtures"
                      / "config_records.json").read_text())
COMMANDS = ("train-teacher", "distill")


def _foreign(command):
    """The `RunConfig` fields ``command`` does not take."""
    cls = config_lib.COMMAND_CONFIGS[command]
    return ({f.name for f in dataclasses.fields(RunConfig)}
            - {f.name for f in dataclasses.fields(cls)})


@pytest.mark.parametrize("case", RECORDS, ids=lambda c: str(len(c["kwargs"])))
def test_records_keep_what_the_lists_recorded(case):
    """Today's record is the earlier one without the settings the command
    does not take (a teacher run's ``teacher_dtype``), and those are inert
    on resumption: folders holding them keep resuming."""
    config = RunConfig(**case["kwargs"])
    for command in COMMANDS:
        earlier, inert = case["records"][command], config.inert_keys(command)
        dropped = set(earlier) - set(config.record(command))
        assert dropped <= _foreign(command) and dropped <= set(inert)
        assert config.record(command) == {
            k: v for k, v in earlier.items() if k not in dropped}
        assert set(inert) - _foreign(command) == set(case["inert"][command])


def test_lists_derived_from_the_fields():
    assert set(config_lib.TRAINING_KEYS) == {
        "dataset", "epochs", "batch_size", "learning_rate", "weight_decay",
        "seed", "strategy", "mixed_precision", "jit_compile"}
    assert set(config_lib.COMMAND_KEYS["train-teacher"]) == {
        "model", "mixup_alpha"}
    assert set(config_lib.COMMAND_KEYS["distill"]) == {
        "teacher", "teacher_weights", "student", "loss", "mixing",
        "mix_fraction", "mix_sampling", "mixup_alpha", "temperature",
        "ce_weight", "kd_weight", "preset"}
    assert set(config_lib.PATH_KEYS) == {
        "dataset", "data_dir", "weights", "teacher_weights",
        "student_weights", "extra_teacher_weights"}
    assert set(config_lib.RESUMABLE_KEYS) == {
        "verbose", "output_dir", "data_dir", "backup_interval_s"}


def test_every_field_declares_its_role():
    roles = (config_fields.ALWAYS, config_fields.NEVER,
             config_fields.CHANGED)
    for field in dataclasses.fields(RunConfig):
        role = field.metadata["record"]
        assert role in roles or set(role) <= set(COMMANDS), field.name


def test_a_new_field_is_recorded_only_when_changed():
    """A field declared with `setting` and no role keeps older folders
    resuming: absent from the record at its default, present when set."""

    @dataclasses.dataclass(frozen=True)
    class Later(RunConfig):
        new_knob: int = config_fields.setting(3)

    assert "new_knob" not in Later().record("distill")
    assert Later(new_knob=5).record("train-teacher")["new_knob"] == 5


def test_inert_fields_follow_their_mixing():
    def inert(mixing):
        keys = RunConfig(mixing=mixing).inert_keys("distill")
        return set(keys) - _foreign("distill")

    assert inert("fmu") == {"mix_fraction", "mix_sampling"}
    assert inert("none") == {"mixup_alpha", "mix_fraction", "mix_sampling"}
    assert inert("pmu") == set()
    with pytest.raises(ValueError, match="`mix_sampling` applies to "
                       "`mixing=pmu` only, not `mixing=cutmix`"):
        RunConfig(mixing="cutmix", mix_sampling="exact").check_distill()
    with pytest.raises(ValueError, match="`mixup_alpha` has no effect with "
                       "`mixing=none`"):
        RunConfig(mixing="none", mixup_alpha=0.5).check_distill()
