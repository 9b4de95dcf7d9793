"""User-defined methods in mixkd compare: definitions, validation, a run,
resume (added seeds, a run folder without result.json) and statistics."""

import json

import numpy as np
import pytest
from scipy import stats

from keras_mixkd import training
from keras_mixkd.analysis import plots
from keras_mixkd.cli import flag_docs
from keras_mixkd.cli import main as cli
from keras_mixkd.experiments import compare
from keras_mixkd.experiments import report
from keras_mixkd.experiments.compare import results as compare_results
from tests.experiments.test_compare import TINY
from tests.experiments.test_compare import _flags

KD_W9 = {"loss": "kd", "temperature": 2.0, "kd_weight": 9.0}
SPEC = "--method_spec=kd_w9:loss=kd,temperature=2,kd_weight=9"


# ---------------------------------------------------------------------------
# Definitions and their checks (no training).

def test_a_spec_reads_as_its_settings():
    assert compare.parse_spec(
        "w9:loss=kd, temperature=2,kd_weight=9,mixing=pmu") == ("w9", {
            "loss": "kd", "temperature": 2.0, "kd_weight": 9.0,
            "mixing": "pmu"})


@pytest.mark.parametrize("text,message", [
    ("w9", "write NAME:key=value"),
    ("w9:", "write NAME:key=value"),
    ("w9:loss", "write NAME:key=value"),
    (":loss=kd", "write NAME:key=value"),
    ("w9:loss=kd,,kd_weight=9", "write NAME:key=value"),
    ("w9:loss=kd,kd_weight=nine", "kd_weight=nine is not a number"),
    ("w9:loss=kd,loss=dkd", "loss is given twice"),
])
def test_bad_specs_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        compare.parse_spec(text)


@pytest.mark.parametrize("name,settings,message", [
    ("kd", {"loss": "kd"}, "'kd' is a named method"),
    ("a/b", {"loss": "kd"}, "use letters, digits"),
    ("w9", {"loss": "kd", "tau": 2.0}, "unknown setting.*tau.*a method sets"),
    ("w9", {"kd_weight": 9.0}, "needs a loss"),
    ("w9", {"loss": 3}, "loss=3 is not a name"),
    ("w9", {"loss": "kd", "kd_weight": "9"}, "kd_weight='9' is not a"),
    ("w9", {"loss": "kd", "ce_weight": True}, "is not a finite number"),
    ("w9", {"loss": "kd", "kd_weight": float("inf")}, "finite number"),
])
def test_bad_definitions_are_refused(name, settings, message):
    with pytest.raises(ValueError, match=message):
        compare.custom_method(name, settings)


def test_a_custom_method_sets_its_fields_and_keeps_the_others():
    config = training.RunConfig(**TINY, mixup_alpha=0.4, kd_weight=0.8)
    method = compare.custom_method("w9", KD_W9)
    assert method.description == ("user-defined: loss=kd, temperature=2.0, "
                                  "kd_weight=9.0, no mixing")
    run = compare.run_config(config, method, 2, "somewhere")
    assert (run.loss, run.temperature, run.kd_weight, run.ce_weight) == (
        "kd", 2.0, 9.0, 0.1)  # ce_weight: the base's
    assert (run.mixing, run.mixup_alpha, run.seed) == ("none", None, 2)
    run.check_distill()
    plain = compare.run_config(
        config, compare.custom_method("p", {"loss": "mixstd"}), 0, "-")
    assert (plain.kd_weight, plain.temperature) == (0.8, None)  # the base's
    # MIXSTD at a base temperature (its run folder's config.json then tells
    # the evaluation to measure softmax(z / (tau * std(z)))).
    sharp = compare.run_config(config, compare.custom_method(
        "t029", {"loss": "mixstd", "temperature": 0.29}), 0, "-")
    sharp.check_distill()
    assert (sharp.loss, sharp.temperature) == ("mixstd", 0.29)
    mixed = compare.run_config(config, compare.custom_method(
        "m", {"loss": "mixstd", "mixing": "pmu", "mix_fraction": 0.25,
              "mix_sampling": "exact"}), 0, "-")
    assert (mixed.mixing, mixed.mix_fraction, mixed.mix_sampling,
            mixed.mixup_alpha) == ("pmu", 0.25, "exact", 0.4)
    mixed.check_distill()
    # The same settings as a named method give the same run.
    assert compare.run_config(config, compare.custom_method(
        "again", {"loss": "mixstd", "mixing": "pmu"}), 0, "-") == (
        compare.run_config(config, "mixkd", 0, "-"))


def test_a_custom_method_takes_feature_terms():
    name, settings = compare.parse_spec(
        "at_500:loss=kd,temperature=4,feature_loss=at,feature_weight=500,"
        "ce_weight=0.1,kd_weight=0.9")
    assert settings["feature_loss"] == "at"
    assert settings["feature_weight"] == 500.0
    config = training.RunConfig(**TINY)
    run = compare.run_config(config, compare.custom_method(name, settings),
                             0, "-")
    run.check_distill()
    assert (run.feature_loss, run.feature_weight) == ("at", 500.0)
    # RepDistiller's weight when left out: the named at_kd's run.
    del settings["feature_weight"]
    assert compare.run_config(
        config, compare.custom_method("again", settings), 0, "-") == (
        compare.run_config(config, "at_kd", 0, "-"))
    # compare.json records them where they are set, and only there.
    recorded = compare.runner._checked_runs(config, {
        "plain": compare.custom_method("plain", {"loss": "kd"}),
        "at_500": compare.custom_method("at_500", {
            "loss": "kd", "feature_loss": "at", "feature_weight": 500.0})}, 0)
    assert "feature_loss" not in recorded["plain"]
    assert "feature_weight" not in recorded["plain"]
    assert (recorded["at_500"]["feature_loss"],
            recorded["at_500"]["feature_weight"]) == ("at", 500.0)
    with pytest.raises(ValueError, match="feature_loss=3 is not a name"):
        compare.custom_method("x", {"loss": "kd", "feature_loss": 3})


def test_a_request_names_every_method_it_defines():
    table = compare.check_request(["kd", "w9"], "w9", 2, {"w9": KD_W9})
    assert list(table) == ["kd", "w9"]
    assert table["kd"] is compare.METHODS["kd"]
    assert table["w9"].settings["kd_weight"] == 9.0
    with pytest.raises(ValueError, match="w9 is defined .* not among "
                                         "`methods`"):
        compare.check_request(["kd"], "kd", 1, {"w9": KD_W9})
    with pytest.raises(ValueError, match="or define w8 by its settings"):
        compare.check_request(["kd", "w8"], "kd", 1, {"w9": KD_W9})


def test_compare_checks_custom_values_before_writing(tmp_path):
    config = training.RunConfig(**TINY, output_dir=str(tmp_path / "out"))
    for settings, message in [
            ({"loss": "kd", "mix_fraction": 0.3},
             "Method bad: `mix_fraction` applies to `mixing=pmu` only"),
            ({"loss": "magic"}, "Method bad: `loss=magic` is not one of"),
            ({"loss": "kd", "kd_weight": -1.0}, "Method bad: `ce_weight`, "
                                                "`kd_weight`")]:
        with pytest.raises(ValueError, match=message):
            compare.compare(config, ("kd", "bad"), custom={"bad": settings})
    assert not (tmp_path / "out").exists()


def test_a_changed_definition_is_refused_naming_the_difference(tmp_path):
    base = {"dataset": "digits", "epochs": 1}
    recorded = {"loss": "kd", "kd_weight": 9.0}
    folder = compare.ComparisonFolder(tmp_path, base)
    folder.record_request({"w9": compare.custom_method("w9", KD_W9)}, [0],
                          "w9", {"w9": recorded})
    written = json.loads((tmp_path / "compare.json").read_text())
    assert written["custom"] == {"w9": recorded}
    assert written["descriptions"]["w9"].startswith("user-defined: ")
    again = compare.ComparisonFolder(tmp_path, base)
    again.check_custom({"w9": recorded})  # the same: fine
    with pytest.raises(ValueError, match="ran method w9 with other settings "
                                         r"\(differs in: kd_weight: 9.0 "
                                         "then 5.0\\)"):
        again.check_custom({"w9": {"loss": "kd", "kd_weight": 5.0}})
    # Another request keeps the definitions recorded before.
    again.record_request(["kd"], [0], "kd")
    assert json.loads((tmp_path / "compare.json").read_text())[
        "custom"] == {"w9": recorded}


def test_a_folder_made_before_custom_methods_takes_them(tmp_path):
    base = {"dataset": "digits", "epochs": 1}
    (tmp_path / "compare.json").write_text(json.dumps({
        "base": base, "methods": ["kd"], "seeds": [0], "baseline": "kd",
        "descriptions": {"kd": compare.METHODS["kd"].description}}))
    folder = compare.ComparisonFolder(tmp_path, base)
    assert folder.custom == {}
    folder.record_request({"kd": compare.METHODS["kd"],
                           "w9": compare.custom_method("w9", KD_W9)},
                          [0], "kd", {"w9": KD_W9})
    assert json.loads((tmp_path / "compare.json").read_text())[
        "custom"] == {"w9": KD_W9}


# ---------------------------------------------------------------------------
# End to end on digits: kd and a custom baseline, one then two seeds.

def _count_training(patch, fail=False):
    calls = []
    original = training.distill

    def counted(config, *args, **kw):
        if fail:
            raise AssertionError(f"distill called for {config.output_dir}")
        calls.append((config.loss, config.kd_weight, config.seed))
        return original(config, *args, **kw)

    patch.setattr(training, "distill", counted)
    return calls


@pytest.fixture(scope="module")
def custom_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("custom")
    config = training.RunConfig(**TINY, output_dir=str(root))
    lines = []
    with pytest.MonkeyPatch.context() as patch:
        calls = _count_training(patch)
        compare.compare(config, ("kd", "kd_w9"), seeds=1, baseline="kd_w9",
                        custom={"kd_w9": KD_W9}, log=lines.append)
        assert calls == [("kd", 0.9, 0), ("kd", 9.0, 0)]
        # A second seed: only its runs train.
        summary = compare.compare(config, ("kd", "kd_w9"), seeds=2,
                                  baseline="kd_w9", custom={"kd_w9": KD_W9},
                                  log=lines.append)
        assert calls[2:] == [("kd", 0.9, 1), ("kd", 9.0, 1)]
    return root, config, summary, lines


@pytest.mark.slow
def test_a_custom_method_runs_with_its_settings(custom_folder):
    root, _, summary, _ = custom_folder
    for seed in (0, 1):
        recorded = json.loads((root / "runs" / "kd_w9" / f"seed-{seed}" /
                               "config.json").read_text())
        assert (recorded["loss"], recorded["temperature"],
                recorded["kd_weight"], recorded["ce_weight"],
                recorded["mixing"]) == ("kd", 2.0, 9.0, 0.1, "none")
        result = json.loads((root / "runs" / "kd_w9" / f"seed-{seed}" /
                             "result.json").read_text())
        # Calibrated on what KD trains: the raw softmax.
        assert (result["ece"], result["nll"]) == (result["ece_raw"],
                                                  result["nll_raw"])
    request = json.loads((root / "compare.json").read_text())
    assert request["custom"]["kd_w9"] == {
        "loss": "kd", "temperature": 2.0, "mixing": "none",
        "mix_fraction": 0.1, "mix_sampling": "official", "ce_weight": 0.1,
        "kd_weight": 9.0}
    assert "kd_weight" not in request["base"]  # still the base's default
    assert list(summary["methods"]) == ["kd", "kd_w9"]
    assert summary["baseline"] == "kd_w9"
    assert summary["methods"]["kd_w9"]["description"].startswith(
        "user-defined: loss=kd")


@pytest.mark.slow
def test_custom_statistics_are_paired_against_a_custom_baseline(
        custom_folder):
    root, _, summary, _ = custom_folder
    rows = compare_results.read_results(root / "results.csv")
    assert [(r["method"], r["seed"]) for r in rows] == [
        ("kd", 0), ("kd", 1), ("kd_w9", 0), ("kd_w9", 1)]
    value = {(r["method"], r["seed"]): r["test_accuracy"] for r in rows}
    kd = [value["kd", s] for s in (0, 1)]
    w9 = [value["kd_w9", s] for s in (0, 1)]
    entry = summary["methods"]["kd"]
    assert entry["n_pairs"] == 2
    assert entry["diff_mean"] == pytest.approx(
        (kd[0] - w9[0] + kd[1] - w9[1]) / 2, abs=1e-12)
    d = np.subtract(kd, w9)
    half = stats.t.ppf(0.975, 1) * np.std(d, ddof=1) / np.sqrt(2)
    assert entry["diff_ci95"] == pytest.approx(
        [d.mean() - half, d.mean() + half], abs=1e-12)
    assert summary["methods"]["kd_w9"]["diff_ci95"] == [0.0, 0.0]
    text = report.write_report(root).read_text()
    assert "| kd_w9 | 2 |" in text and "minus kd_w9" in text
    assert "- `kd_w9`: user-defined: loss=kd, temperature=2.0" in text
    figure = plots.plot_method_comparison(summary, None)
    labels = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert [label.split("\n")[0] for label in labels] == ["kd", "kd_w9"]


@pytest.mark.slow
def test_a_run_folder_without_its_result_is_evaluated_not_retrained(
        custom_folder):
    root, config, _, _ = custom_folder
    result = root / "runs" / "kd_w9" / "seed-1" / "result.json"
    before = json.loads(result.read_text())
    result.unlink()
    lines = []
    with pytest.MonkeyPatch.context() as patch:
        _count_training(patch, fail=True)
        summary = compare.compare(config, ("kd", "kd_w9"), seeds=2,
                                  baseline="kd_w9", custom={"kd_w9": KD_W9},
                                  log=lines.append)
    after = json.loads(result.read_text())
    assert after["test_accuracy"] == before["test_accuracy"]
    assert after["eval_accuracy"] == pytest.approx(before["eval_accuracy"])
    assert summary["methods"]["kd_w9"]["n"] == 2
    assert lines[0].startswith("== run 1 of 1: kd_w9, seed 1 (elapsed ")


@pytest.mark.slow
def test_progress_lines_count_the_runs_of_the_invocation(custom_folder):
    lines = [line for line in custom_folder[3] if line.startswith("== run")]
    assert [line.split(" (")[0] for line in lines] == [
        "== run 1 of 2: kd, seed 0", "== run 2 of 2: kd_w9, seed 0",
        "== run 1 of 2: kd, seed 1", "== run 2 of 2: kd_w9, seed 1"]
    assert "left)" not in lines[0] and "left)" not in lines[2]
    assert lines[1].endswith(" left)") and lines[3].endswith(" left)")


@pytest.mark.slow
def test_a_changed_definition_is_refused_before_training(custom_folder):
    _, config, _, _ = custom_folder
    with pytest.MonkeyPatch.context() as patch:
        _count_training(patch, fail=True)
        with pytest.raises(ValueError, match="kd_weight: 9.0 then 5.0"):
            compare.compare(config, ("kd_w9",), baseline="kd_w9",
                            custom={"kd_w9": {**KD_W9, "kd_weight": 5.0}})


# ---------------------------------------------------------------------------
# The command line.

def test_help_names_every_key_a_method_may_set(capsys):
    # flag_docs imports nothing of the package: its text must keep up.
    assert ", ".join(compare.CUSTOM_KEYS) in flag_docs.help_of("method_spec")
    assert cli.run(["mixkd", "compare", "--help"]) == 0
    assert "--method_spec=" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_resumes_a_custom_comparison(custom_folder, capsys):
    root = custom_folder[0]
    with pytest.MonkeyPatch.context() as patch:
        _count_training(patch, fail=True)
        assert cli.run(_flags(root, "--methods=kd,kd_w9", SPEC, "--seeds=2",
                              "--baseline=kd_w9")) == 0
    out = capsys.readouterr().out
    assert "| kd_w9 | 2 |" in out and "minus kd_w9" in out


def test_descriptions_state_the_weights_the_runs_use(tmp_path):
    """compare.json (and so summary.md) describes each method with the loss
    weights of the base it ran on, not the defaults."""
    base = {"dataset": "digits", "epochs": 1, "kd_weight": 9.0}
    folder = compare.ComparisonFolder(tmp_path, base)
    folder.record_request(
        {name: compare.METHODS[name] for name in ("kd", "mixkd", "funmatch")}
        | {"t2": compare.custom_method("t2", {"loss": "kd",
                                              "temperature": 2.0})},
        [0], "kd", {"t2": {"loss": "kd", "temperature": 2.0}})
    written = json.loads((tmp_path / "compare.json").read_text())
    descriptions = written["descriptions"]
    assert "CE 0.1 + KD 9," in descriptions["kd"]
    assert "CE 0.1 + KD 9" in descriptions["mixkd"]
    assert "CE 0 + KD 1;" in descriptions["funmatch"]  # its own weights
    assert descriptions["t2"].endswith("CE 0.1 + KD 9")
    for description in descriptions.values():
        assert "0.9" not in description and "{weights}" not in description
    # Without a base: the defaults.
    assert "CE 0.1 + KD 0.9," in compare.METHODS["kd"].describe()
    w9 = compare.custom_method("w9", KD_W9).describe({"kd_weight": 2.0})
    assert "kd_weight=9" in w9 and "KD 2" not in w9
