"""mixkd compare's library: methods, folder, results, summary, runner."""

import dataclasses
import json

import numpy as np
import pytest
from scipy import stats

from keras_mixkd.experiments import compare
from keras_mixkd.experiments.compare import results as compare_results
from keras_mixkd.experiments import report
from keras_mixkd.experiments.report import compare_report
from keras_mixkd import data
from keras_mixkd.experiments import statistics
from keras_mixkd.experiments.evaluate import run_training_loss
from keras_mixkd import training
from keras_mixkd.cli import main as cli


def test_clean_train_pipeline_is_unshuffled_and_unaugmented():
    train, _, info = data.load("digits", batch_size=64, augment_train=False,
                               train_size=100)
    first = [(x.numpy(), y.numpy()) for x, y in train]
    second = [(x.numpy(), y.numpy()) for x, y in train]
    assert sum(len(y) for _, y in first) == 100
    for (x1, y1), (x2, y2) in zip(first, second):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    augmented, _, _ = data.load("digits", batch_size=64, train_size=100)
    images = np.concatenate([x for x, _ in first])
    shuffled = np.concatenate([x.numpy() for x, _ in augmented])
    # The same images, but the augmented pipeline moves (crops) them.
    assert images.shape == shuffled.shape
    assert not np.allclose(np.sort(images.ravel()), np.sort(shuffled.ravel()))


# ---------------------------------------------------------------------------
# Requests and the report of a fabricated folder (no training).


@pytest.mark.parametrize("methods,baseline,seeds,message", [
    (["kd", "magic"], "kd", 2, "Unknown method.*magic.*choose from"),
    (["mixkd", "alone"], "kd", 2, "`baseline=kd` is not among"),
    (["kd", "kd"], "kd", 2, "each method once"),
    (["kd"], "kd", 0, "`seeds` must be"),
])
def test_bad_requests_are_refused(methods, baseline, seeds, message):
    with pytest.raises(ValueError, match=message):
        compare.check_request(methods, baseline, seeds)


def test_every_method_is_a_valid_run():
    config = training.RunConfig(dataset="digits", teacher="resnet8",
                                student="resnet8", mixup_alpha=0.4)
    for name, method in compare.METHODS.items():
        run = compare.run_config(config, name, 3, "somewhere")
        assert run.seed == 3 and run.output_dir == "somewhere"
        if method.distilled:
            run.check_distill()
            mixes = run.mixing != "none"
            assert run.mixup_alpha == (0.4 if mixes else None)
        else:
            assert run.model == "resnet8" and run.mixup_alpha is None
    mixkd = compare.run_config(config, "mixkd", 0, "-")
    assert (mixkd.loss, mixkd.mixing, mixkd.mix_fraction,
            mixkd.mix_sampling) == ("mixstd", "pmu", 0.1, "official")
    assert compare.run_config(config, "mixkd_exact", 0, "-").mix_sampling == (
        "exact")
    kd = compare.run_config(config, "kd", 0, "-")
    assert (kd.loss, kd.temperature, kd.mixing) == ("kd", 4.0, "none")


def test_calibration_uses_what_each_method_trains(tmp_path):
    config = training.RunConfig(dataset="digits", teacher="resnet8",
                                student="resnet8")
    trained = []
    for method in compare.METHODS:
        run = compare.run_config(config, method, 0, "-")
        command = ("distill" if compare.METHODS[method].distilled
                   else "train-teacher")
        training.write_json(training.RunFiles(tmp_path / method).config_file,
                            run.record(command))
        trained.append(run_training_loss(tmp_path / method))
    # The feature methods (fitnet ... at_fmu) train softmax(z), as kd.
    assert trained == ["ce", "kd", "mixstd", "mixstd", "kd", "kd", "mixstd",
                       "ls", "dkd", "dist", "kd", "kd", "kd", *["kd"] * 6]
    with pytest.raises(ValueError, match="not a run folder"):
        run_training_loss(tmp_path / "nowhere")


def _fabricate(root, results, seeds, methods, baseline="kd"):
    folder = compare.ComparisonFolder(root, {"dataset": "digits",
                                             "student": "resnet8",
                                             "teacher": "resnet8",
                                             "epochs": 1, "batch_size": 64})
    folder.record_request(methods, seeds, baseline)
    for (method, seed), accuracy in results.items():
        path = folder.run_path(method, seed)
        path.mkdir(parents=True)
        (path / "result.json").write_text(json.dumps({
            "method": method, "seed": seed, "test_accuracy": accuracy,
            "best_accuracy": accuracy, "train_accuracy": 1.0,
            "gap": 1.0 - accuracy, "epochs": 1, "wall_s": 2.5,
            "ece": 0.05, "nll": 0.3, "ece_raw": 0.06, "nll_raw": 0.31}))
    return folder


def test_report_of_a_fabricated_folder(tmp_path):
    # 1/3 has no short binary form: the CSV must keep every digit.
    results = {("kd", 0): 0.9, ("kd", 1): 0.8 + 1 / 30, ("kd", 2): 0.85,
               ("mixkd", 0): 0.95, ("mixkd", 1): 0.9 + 1 / 30,
               ("mixkd", 2): 0.93, ("alone", 0): 0.7,
               ("alone", 2): 0.71, ("one", 0): 0.5}
    _fabricate(tmp_path, results, [0, 1, 2], ["kd", "mixkd", "alone"])
    assert report.write_report(tmp_path) == tmp_path / "summary.md"
    summary = json.loads((tmp_path / "summary.json").read_text())
    rows = compare_results.read_results(tmp_path / "results.csv")
    assert len(rows) == 8  # 'one' was not asked for
    assert {(r["method"], r["seed"]): r["test_accuracy"]
            for r in rows} == {k: v for k, v in results.items()
                               if k[0] != "one"}
    assert summary == compare_results.summarize_rows(
        rows, "kd", ["kd", "mixkd", "alone"],
        {m: compare.METHODS[m].describe() for m in compare.METHODS})
    assert summary["methods"]["alone"]["description"].startswith(
        "the student trained alone")
    assert summary["baseline"] == "kd"
    assert list(summary["methods"]) == ["kd", "mixkd", "alone"]
    mixkd = summary["methods"]["mixkd"]
    d = [results["mixkd", s] - results["kd", s] for s in range(3)]
    ci = stats.ttest_rel([results["mixkd", s] for s in range(3)],
                         [results["kd", s] for s in range(3)]
                         ).confidence_interval()
    assert mixkd["diff_mean"] == pytest.approx(np.mean(d), abs=1e-15)
    assert mixkd["diff_ci95"] == pytest.approx([ci.low, ci.high])
    alone = summary["methods"]["alone"]
    assert (alone["n"], alone["n_pairs"]) == (2, 2)
    assert alone["gap_mean"] == pytest.approx(0.295)
    text = (tmp_path / "summary.md").read_text()
    assert "| mixkd | 3 |" in text and "*" in text
    assert "Unfinished runs: alone seed 1." in text
    assert (tmp_path / "comparison.png").read_bytes()[:4] == b"\x89PNG"


def test_single_seed_report_says_the_interval_is_undefined(tmp_path):
    _fabricate(tmp_path, {("kd", 0): 0.9, ("mixkd", 0): 0.91}, [0],
               ["kd", "mixkd"])
    compare_report.write(tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["methods"]["mixkd"]["std"] is None
    assert summary["methods"]["mixkd"]["diff_ci95"] is None
    assert "one run, so the std and the interval are undefined" in (
        tmp_path / "summary.md").read_text()


def test_another_base_configuration_is_refused(tmp_path):
    _fabricate(tmp_path, {("kd", 0): 0.9}, [0], ["kd"])
    with pytest.raises(ValueError, match="epochs: 1 then 2"):
        compare.ComparisonFolder(tmp_path, {
            "dataset": "digits", "student": "resnet8", "teacher": "resnet8",
            "epochs": 2, "batch_size": 64})
    with pytest.raises(ValueError, match="not a comparison folder"):
        compare_results.write(tmp_path / "elsewhere")


# ---------------------------------------------------------------------------
# End to end on digits: one tiny teacher, two methods, two seeds.

TINY = dict(dataset="digits", teacher="resnet8", student="resnet8", epochs=1,
            batch_size=64, train_size=128, verbose="0")


def _count_training(patch, fail=False):
    """Counts (or forbids) the engine's training calls made by compare."""
    calls = []
    for name in ("train_teacher", "distill"):
        original = getattr(training, name)

        def counted(config, *args, _original=original, _name=name, **kw):
            if fail:
                raise AssertionError(f"{_name} called for {config.output_dir}")
            calls.append((_name, config.seed, config.output_dir))
            return _original(config, *args, **kw)

        patch.setattr(training, name, counted)
    return calls


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    config = training.RunConfig(**TINY, output_dir=str(root))
    with pytest.MonkeyPatch.context() as patch:
        calls = _count_training(patch)
        summary = compare.compare(config, ("kd", "mixkd"), seeds=2,
                                  log=lambda line: None)
    assert [(c[0], c[1]) for c in calls] == [
        ("train_teacher", 0), ("distill", 0), ("distill", 1),
        ("distill", 0), ("distill", 1)]
    return root, config, summary


@pytest.mark.slow
def test_compare_writes_every_file(compared):
    root, _, summary = compared
    rows = compare_results.read_results(root / "results.csv")
    assert [(r["method"], r["seed"]) for r in rows] == [
        ("kd", 0), ("kd", 1), ("mixkd", 0), ("mixkd", 1)]
    header = (root / "results.csv").read_text().splitlines()[0].split(",")
    assert header == list(compare_results.RESULT_COLUMNS)
    for row in rows:
        assert 0.0 <= row["test_accuracy"] <= 1.0 and row["epochs"] == 1
        assert row["gap"] == pytest.approx(row["train_accuracy"]
                                           - row["test_accuracy"])
        assert 0.0 <= row["ece"] <= 1.0 and row["nll"] > 0
        assert 0.0 <= row["ece_raw"] <= 1.0 and row["nll_raw"] > 0
        if row["method"] == "kd":  # trained on its raw softmax
            assert (row["ece"], row["nll"]) == (row["ece_raw"],
                                                row["nll_raw"])
        run = root / "runs" / row["method"] / f"seed-{row['seed']}"
        logged = json.loads((run / "summary.json").read_text())
        assert row["test_accuracy"] == logged["last_accuracy"]
    assert json.loads((root / "summary.json").read_text()) == summary
    expected = statistics.summarize(rows, "kd")
    for name in ("kd", "mixkd"):
        for key in ("n", "mean", "std", "diff_mean", "diff_ci95"):
            assert summary["methods"][name][key] == expected["methods"][
                name][key]
    teacher = json.loads((root / "teacher.json").read_text())
    assert teacher["teacher"] == "resnet8" and 0 <= teacher[
        "test_accuracy"] <= 1
    report.write_report(root)
    assert "| mixkd | 2 |" in (root / "summary.md").read_text()
    assert (root / "comparison.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_compare_resumes_and_runs_only_what_was_added(compared):
    root, config, _ = compared
    with pytest.MonkeyPatch.context() as patch:
        _count_training(patch, fail=True)
        compare.compare(config, ("kd", "mixkd"), seeds=2,
                        log=lambda line: None)
        compare.compare(config, ("mixkd",), seeds=1, baseline="mixkd",
                        log=lambda line: None)
    with pytest.MonkeyPatch.context() as patch:
        calls = _count_training(patch)
        summary = compare.compare(config, ("mixkd", "kd"), seeds=3,
                                  baseline="mixkd", log=lambda line: None)
    # The teacher is reloaded from its folder; only the new seed runs.
    assert [(c[0], c[1]) for c in calls] == [("distill", 2), ("distill", 2)]
    assert list(summary["methods"]) == ["mixkd", "kd"]
    assert summary["methods"]["kd"]["n_pairs"] == 3
    assert summary["baseline"] == "mixkd"
    with pytest.raises(ValueError, match="another base configuration"):
        compare.compare(dataclasses.replace(config, epochs=2), ("kd",))


# ---------------------------------------------------------------------------
# The command line.

def _flags(root, *extra):
    return ["mixkd", "compare", *(f"--{k}={v}" for k, v in TINY.items()),
            f"--output_dir={root}", *extra]


@pytest.mark.slow
def test_cli_resumes_a_finished_comparison(compared, capsys):
    root, _, _ = compared
    with pytest.MonkeyPatch.context() as patch:
        _count_training(patch, fail=True)
        assert cli.run(_flags(root, "--methods=kd,mixkd", "--seeds=2")) == 0
    out = capsys.readouterr().out
    assert "| mixkd | 2 |" in out
    assert json.loads((root / "compare.json").read_text())["seeds"] == [0, 1]
    assert cli.run(["mixkd", "report", str(root)]) == 0
    assert "summary.md" in capsys.readouterr().out


@pytest.mark.parametrize("extra,message", [
    (["--methods=kd,magic"], "Unknown method(s) magic; choose from: alone"),
    (["--methods=alone,mixkd"], "--baseline=kd is not among"),
    (["--seeds=0"], "--seeds must be an integer >= 1"),
    (["--teacher_epochs=0"], "--teacher_epochs must be >= 1"),
    (["--loss=kd"], "does not take --loss: each method"),
    (["--mixing=fmu"], "does not take --mixing"),
    (["--student=resnet9"], "--student=resnet9 is not an architecture"),
    # User-defined methods (tests/experiments/test_compare_custom.py).
    (["--method_spec=w9:loss=kd"], "w9 is defined (--method_spec) but not "
                                   "among --methods"),
    (["--methods=kd,w9"], "or define w9 by its settings (--method_spec=w9:"),
    (["--methods=kd", "--method_spec=kd:loss=dkd"], "'kd' is a named method"),
    (["--methods=kd,x", "--method_spec=x:loss=kd,tau=2"],
     "unknown setting(s) tau"),
    (["--methods=kd,x", "--method_spec=x:loss=kd,mix_fraction=0.3"],
     "Method x: --mix_fraction applies to --mixing=pmu only"),
    (["--methods=kd,x", "--method_spec=x=loss:kd"], "write NAME:key=value"),
    (["--methods=kd,x", "--method_spec=x:loss=kd",
      "--method_spec=x:loss=dkd"], "--method_spec defines x twice"),
])
def test_cli_errors_come_before_anything_runs(extra, message, tmp_path,
                                              capsys):
    root = tmp_path / "out"
    with pytest.MonkeyPatch.context() as patch:
        _count_training(patch, fail=True)
        assert cli.run(_flags(root, *extra)) == 1
    assert message in capsys.readouterr().err
    assert not root.exists()


def test_base_record_holds_the_training_settings_and_what_changed():
    config = training.RunConfig(**TINY)
    record = compare.base_record(config)
    assert record["train_size"] == 128 and record["teacher_epochs"] == 1
    assert "image_size" not in record  # a default: not recorded
    assert "verbose" not in record and "loss" not in record
    assert compare.base_record(config, teacher_epochs=5)["teacher_epochs"] == 5
    assert compare.base_record(dataclasses.replace(config, image_size=40))[
        "image_size"] == 40


@pytest.mark.slow
def test_compare_takes_a_keras_teacher_without_teacher(compared, tmp_path):
    """As `mixkd distill` does: a .keras file brings its architecture."""
    root, config, _ = compared
    weights = root / "teacher" / "checkpoints" / "last.keras"
    other = dataclasses.replace(config, teacher=None,
                                teacher_weights=str(weights),
                                output_dir=str(tmp_path))
    with pytest.MonkeyPatch.context() as patch:
        calls = _count_training(patch)
        compare.compare(other, ("kd",), seeds=1, log=lambda line: None)
    assert [c[0] for c in calls] == ["distill"]
    teacher = json.loads((tmp_path / "teacher.json").read_text())
    original = json.loads((root / "teacher.json").read_text())
    assert teacher["teacher"] == original["teacher"] == config.teacher
    assert teacher["test_accuracy"] == pytest.approx(
        original["test_accuracy"])
    with pytest.raises(ValueError, match="Missing `teacher`"):
        compare.compare(dataclasses.replace(other, teacher_weights=None),
                        ("kd",), seeds=1, log=lambda line: None)


@pytest.mark.slow
def test_compare_with_teacher_weights_trains_no_teacher(compared, tmp_path):
    root, config, _ = compared
    weights = root / "teacher" / "checkpoints" / "last.keras"
    other = dataclasses.replace(config, teacher_weights=str(weights),
                                output_dir=str(tmp_path))
    with pytest.MonkeyPatch.context() as patch:
        calls = _count_training(patch)
        summary = compare.compare(other, ("kd",), seeds=1,
                                  log=lambda line: None)
    assert [c[0] for c in calls] == ["distill"]
    teacher = json.loads((tmp_path / "teacher.json").read_text())
    assert teacher["weights"] == str(weights)
    original = json.loads((root / "teacher.json").read_text())
    assert teacher["test_accuracy"] == pytest.approx(
        original["test_accuracy"])  # the same teacher, evaluated again
    assert not (tmp_path / "teacher").exists()
    assert summary["methods"]["kd"]["n"] == 1
    report.write_report(tmp_path)
    line = next(line for line in (tmp_path / "summary.md").read_text()
                .splitlines() if line.startswith("Teacher "))
    accuracy = f"{100 * teacher['test_accuracy']:.2f}%"
    assert f"test accuracy {accuracy}, clean" in line  # no empty "best"


def test_a_folder_of_an_earlier_version_still_resumes(tmp_path):
    config = training.RunConfig(dataset="digits", teacher="resnet8",
                                student="resnet8", epochs=1)
    base = compare.base_record(config)
    # Earlier versions also recorded settings left at their defaults, and
    # named the Beta parameter beta_alpha.
    earlier = {**base, "ce_weight": 0.1, "kd_weight": 0.9,
               "deterministic": False, "beta_alpha": None}
    (tmp_path / "compare.json").write_text(json.dumps({"base": earlier}))
    compare.ComparisonFolder(tmp_path, base)  # no error
    changed = {**earlier, "kd_weight": 0.5}
    (tmp_path / "compare.json").write_text(json.dumps({"base": changed}))
    with pytest.raises(ValueError, match="kd_weight: 0.5 then 0.9"):
        compare.ComparisonFolder(tmp_path, base)


@pytest.mark.slow
def test_one_rule_says_a_run_is_finished(compared, tmp_path):
    """experiments.teacher.trained asks the engine's rule (RunFolder.
    finished), not the mere presence of summary.json."""
    import shutil

    from keras_mixkd.experiments.teacher import trained

    root, config, _ = compared
    path = tmp_path / "kd-seed-0"
    shutil.copytree(root / "runs" / "kd" / "seed-0", path)
    run = compare.run_config(config, compare.METHODS["kd"], 0, path)

    def boom(own):
        raise AssertionError("a finished run was trained again")

    model, summary = trained(run, "distill", boom)
    assert summary == json.loads((path / "summary.json").read_text())
    assert model.name == config.student
    # Another configuration's run: refused by name, not reused.
    with pytest.raises(ValueError, match="configuration"):
        trained(dataclasses.replace(run, kd_weight=0.5), "distill", boom)
    # summary.json alone does not make a run finished: without its last
    # checkpoint's epoch it runs (resumes) again.
    (path / "checkpoints" / "last.json").unlink()
    given = []
    assert trained(run, "distill", given.append) is None
    # The engine is given the command's own configuration.
    assert type(given[0]) is training.DistillConfig
    assert given[0] == run.for_command("distill")
