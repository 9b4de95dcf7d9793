"""The named methods of mixing recipes beyond the paper: function matching
(Beyer et al., CVPR 2022) and mixed images appended as extra teacher
queries (Wang et al., NeurIPS 2022)."""

import pytest

from keras_mixkd.experiments import compare
from keras_mixkd.training import RunConfig

BASE = RunConfig(dataset="digits", teacher="resnet8", student="resnet8",
                 ce_weight=0.5, kd_weight=2.0)


def test_funmatch_is_fmu_kd_alone_at_t1_with_its_own_weights():
    run = compare.run_config(BASE, "funmatch", 3, "-")
    assert (run.loss, run.temperature, run.mixing, run.mix_mode) == (
        "kd", 1.0, "fmu", "replace")
    # The base's --ce_weight/--kd_weight do not change it.
    assert (run.ce_weight, run.kd_weight) == (0.0, 1.0)
    run.check_distill()
    description = compare.METHODS["funmatch"].description
    assert "`ce_weight`/`kd_weight` do not change it" in description
    assert "Beyer" in description


@pytest.mark.parametrize("method,mixing", [("kd_append_mixup", "fmu"),
                                           ("kd_append_cutmix", "cutmix")])
def test_append_methods_are_classic_kd_with_appended_mixed_rows(method,
                                                                 mixing):
    run = compare.run_config(BASE, method, 0, "-")
    assert (run.loss, run.temperature, run.mixing, run.mix_mode) == (
        "kd", 4.0, mixing, "append")
    assert (run.ce_weight, run.kd_weight) == (0.5, 2.0)  # the base's, as kd
    run.check_distill()
    assert run.record("distill")["mix_mode"] == "append"
    assert "mix_mode" not in compare.run_config(
        BASE, "kd", 0, "-").record("distill")


def test_mix_mode_is_a_custom_setting():
    method = compare.custom_method(
        "pmu_append", {"loss": "kd", "mixing": "pmu", "mix_mode": "append"})
    assert method.settings["mix_mode"] == "append"
    assert "mix_mode" not in compare.custom_method(
        "plain", {"loss": "kd"}).settings
    with pytest.raises(ValueError, match="give a `mixing`"):
        compare.run_config(BASE, compare.custom_method(
            "bad", {"loss": "kd", "mix_mode": "append"}),
            0, "-").check_distill()
    with pytest.raises(ValueError, match="mix_mode"):
        RunConfig(mix_mode="prepend")
