"""The study grid and its bookkeeping, on fabricated run folders."""

import json

import numpy as np
import pytest

from keras_mixkd import analysis
from keras_mixkd.experiments import study as study_lib
from keras_mixkd.experiments import report
from keras_mixkd.experiments.report import study_report
from keras_mixkd.experiments.study import Cell
from keras_mixkd.experiments.study import Study
from keras_mixkd.experiments.study import StudyGrid
from keras_mixkd.experiments.study import TeacherSpec


def _grid(**kwargs):
    config = dict(dataset="digits", teachers=["resnet14", "resnet20"],
                  students=["resnet8"], training={"epochs": 2, "seed": 0})
    return StudyGrid(**{**config, **kwargs})


def _fabricate(study, run, accuracy, logit_std=1.0, analysed=True):
    """Writes the summary (and analysis) a finished run would have."""
    path = study.path(run)
    path.mkdir(parents=True, exist_ok=True)
    (path / "summary.json").write_text(json.dumps(
        {"epochs": 2, "best_accuracy": accuracy + 0.01, "best_epoch": 1,
         "last_accuracy": accuracy, "wall_time_s": 3.0}))
    if analysed:
        (path / "analysis.json").write_text(json.dumps(
            {"accuracy": accuracy, "logit_std_mean": logit_std,
             "entropy_mean": 1.0 / logit_std, "confidence_mean": 0.5,
             "ece": 0.1 * accuracy, "nll": 0.3, "brier": 0.2}))


def test_cells_enumerate_the_axes_in_training_order():
    grid = _grid()
    specs = grid.teacher_specs()
    assert [s.name for s in specs] == ["resnet14-plain", "resnet14-mixup",
                                       "resnet20-plain", "resnet20-mixup"]
    cells = grid.cells()
    assert len(cells) == 4 * 2 * 3
    assert len({c.name for c in cells}) == len(cells)
    assert cells[:6] == grid.cells(specs[0])
    assert [c.name for c in grid.cells(specs[1])][-1] == (
        "resnet14-mixup--resnet8-fmu--Tstd")
    small = _grid(teachers=["resnet8"], teacher_mixup=["yes"],
                  student_mixup=["no"], temperatures=["4"])
    assert [c.name for c in small.cells()] == [
        "resnet8-mixup--resnet8-plain--T4"]


def test_cell_flags_follow_the_temperature_and_mixing():
    spec = TeacherSpec("resnet14", True)
    assert Cell(spec, "resnet8", True, 4.0, "pmu").distill_flags() == {
        "loss": "kd", "temperature": 4.0, "mixing": "pmu"}
    assert Cell(spec, "resnet8", False, 1.0).distill_flags() == {
        "loss": "kd", "temperature": 1.0, "mixing": "none"}
    assert Cell(spec, "resnet8", True, "std").distill_flags() == {
        "loss": "mixstd", "temperature": None, "mixing": "fmu"}
    assert Cell(spec, "resnet8", False, 2.5).name == (
        "resnet14-mixup--resnet8-plain--T2.5")


@pytest.mark.parametrize("kwargs,message", [
    ({"temperatures": ["4", "4.0"]}, "repeats a value"),
    ({"temperatures": ["hot"]}, "number > 0 or 'std'"),
    ({"temperatures": ["0"]}, "number > 0 or 'std'"),
    ({"teachers": []}, "`teachers` is empty"),
    ({"student_mixup": ["maybe"]}, "Expected yes or no"),
    ({"mixing": "cutmix"}, "'fmu' or 'pmu'"),
])
def test_bad_grids_fail_with_the_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _grid(**kwargs)


def test_grid_round_trips_through_study_json(tmp_path):
    grid = _grid(temperatures=["1", "std"], mixing="pmu")
    Study(tmp_path, grid)
    assert Study.load(tmp_path).grid == grid
    with pytest.raises(ValueError, match="no study.json"):
        Study.load(tmp_path / "elsewhere")


def test_a_changed_grid_is_refused(tmp_path):
    Study(tmp_path, _grid())
    Study(tmp_path, _grid())  # the same grid resumes
    with pytest.raises(ValueError) as error:
        Study(tmp_path, _grid(temperatures=["4", "std"],
                              training={"epochs": 3, "seed": 0}))
    message = str(error.value)
    assert "holds another grid" in message and "`output_dir`" in message
    assert "temperatures" in message and "training.epochs: 2 then 3" in message


def test_a_study_of_an_earlier_version_resumes(tmp_path):
    """Its study.json names the students' Beta parameter beta_alpha."""
    grid = _grid(training={"epochs": 2, "mixup_alpha": 1.0})
    old = grid.to_dict()
    old["training"] = {"epochs": 2, "beta_alpha": 1.0}
    (tmp_path / "study.json").write_text(json.dumps(old))
    Study(tmp_path, grid)  # the same grid under today's names
    assert Study.load(tmp_path).grid == grid
    assert json.loads((tmp_path / "study.json").read_text())["training"] == {
        "epochs": 2, "mixup_alpha": 1.0}


def test_status_tells_what_remains(tmp_path):
    study = Study(tmp_path, _grid())
    spec, cell = study.grid.teacher_specs()[0], study.grid.cells()[0]
    assert study.status(spec) == study.status(cell) == "pending"
    _fabricate(study, cell, 0.9, analysed=False)
    assert study.status(cell) == "trained"
    _fabricate(study, cell, 0.9)
    assert study.status(cell) == "done"
    assert study.path(spec) == tmp_path / "teachers" / "resnet14-plain"
    assert study.path(cell).parent == tmp_path / "cells"


def _fabricated_study(tmp_path):
    """A finished one-teacher study: T=1 beats T=4 for the mixup teacher."""
    grid = _grid(teachers=["resnet14"])
    study = Study(tmp_path, grid)
    for spec in grid.teacher_specs():
        _fabricate(study, spec, 0.95, logit_std=2.0 if spec.mixup else 5.0)
        for cell in grid.cells(spec):
            accuracy = {1.0: 0.90, 4.0: 0.86, "std": 0.91}[cell.temperature]
            if not spec.mixup:
                accuracy = {1.0: 0.88, 4.0: 0.89,
                            "std": 0.90}[cell.temperature]
            _fabricate(study, cell, accuracy - 0.02 * cell.student_mixup)
    return study


def test_tables_aggregate_finished_runs(tmp_path):
    study = _fabricated_study(tmp_path)
    missing = study.grid.cells()[0]
    (study.path(missing) / "analysis.json").unlink()
    rows, teachers = study.write_tables()
    assert len(rows) == 11 and len(teachers) == 2
    read = study_lib.read_csv(tmp_path / "results.csv")
    assert [r["cell"] for r in read] == [r["cell"] for r in rows]
    assert missing.name not in [r["cell"] for r in read]
    header = (tmp_path / "results.csv").read_text().splitlines()[0]
    assert header.split(",") == list(study_lib.RESULT_COLUMNS)
    row = read[-1]  # mixup teacher, student with FMU, MIXSTD
    assert (row["teacher_mixup"], row["student_mixup"], row["temperature"],
            row["student_mixing"]) == (True, True, "std", "fmu")
    assert row["last_accuracy"] == pytest.approx(0.89)
    assert row["best_accuracy"] == pytest.approx(0.90)
    assert row["teacher_accuracy"] == pytest.approx(0.95)
    assert row["teacher_logit_std_mean"] == pytest.approx(2.0)
    assert row["ece"] == pytest.approx(0.089)
    teacher_read = study_lib.read_csv(tmp_path / "teachers.csv")
    assert [(t["teacher"], t["teacher_mixup"]) for t in teacher_read] == [
        ("resnet14", False), ("resnet14", True)]


def test_evaluate_logits_matches_the_analysis_functions():
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(50, 4)) * 3, rng.integers(0, 4, 50)
    measured = study_lib.evaluate_logits(logits, labels)
    probs = analysis.softmax(logits)
    assert set(measured) == set(study_lib.ANALYSIS_KEYS) | {"ece_raw",
                                                            "nll_raw"}
    assert measured["ece_raw"] == measured["ece"]  # cross-entropy: the same
    assert measured["accuracy"] == np.mean(logits.argmax(1) == labels)
    assert measured["ece"] == analysis.expected_calibration_error(labels,
                                                                  probs)
    assert measured["logit_std_mean"] == pytest.approx(
        analysis.logit_std(logits).mean())


def test_observations_are_computed_from_the_numbers(tmp_path):
    study = _fabricated_study(tmp_path)
    rows, teachers = study.write_tables()
    lines = study_report.observations(rows, teachers)
    text = "\n".join(lines)
    assert ("Mixup-trained resnet14 teachers are smoother than plain ones: "
            "mean logit std 2.000 vs 5.000") in text
    assert ("With mixup-trained teachers, T=1 beats T=4 by 4.00 points on "
            "average (ahead in 2 of 2 paired cells)") in text
    assert ("With plain teachers, T=4 beats T=1 by 1.00 points") in text
    assert ("distilling without mixup beats distilling with mixup by 2.00 "
            "points") in text
    assert "T=1 minus T=4 is larger with mixup-trained teachers (+4.00 vs " \
        "-1.00 points" in text
    # One seed: no interval, and the sentences have no interval clause.
    assert study_report.paired_difference(rows, "temperature", "std", 4.0) == (
        pytest.approx(3.0), 4, 4, 0, 1, None)
    assert "95% CI" not in text
    assert study_report.paired_difference(rows, "teacher", "a", "b") is None


def test_study_report_from_fabricated_results(tmp_path):
    study = _fabricated_study(tmp_path)
    path = report.write_report(tmp_path)
    text = path.read_text()
    grid = study_report.accuracy_grid(
        study.result_rows(), "resnet8", False, study.grid.teacher_specs(),
        study.grid.temperatures)
    np.testing.assert_allclose(grid, [[88, 89, 90], [90, 86, 91]])
    for name in ("accuracy-resnet8-plain.png", "accuracy-resnet8-fmu.png"):
        assert f"(figures/{name})" in text
        assert (tmp_path / "figures" / name).stat().st_size > 0
    assert "12 of 12 cells finished" in text and "## Observations" in text
    assert "resnet14-mixup--resnet8-fmu--Tstd | 89.00" in text


def test_seeds_repeat_each_cell_and_can_grow(tmp_path):
    grid = _grid(teachers=["resnet14"], teacher_mixup=["no"],
                 training={"epochs": 2, "seed": 5})
    study = Study(tmp_path, grid)
    assert [c.folder for c in grid.cells()] == [c.name for c in grid.cells()]
    grown = _grid(teachers=["resnet14"], teacher_mixup=["no"],
                  training={"epochs": 2, "seed": 5}, seeds=3)
    Study(tmp_path, grown)  # more seeds: the same study
    assert Study.load(tmp_path).grid.seeds == 3
    assert grown.seed_values() == [5, 6, 7]
    cells = grown.cells()
    assert len(cells) == 3 * len(grid.cells())
    assert cells[:len(grid.cells())] == grid.cells()  # seed 5: old folders
    repeat = cells[len(grid.cells())]
    assert (repeat.seed, repeat.name) == (6, grid.cells()[0].name)
    assert study.path(repeat).name == f"{repeat.name}--seed6"
    assert len({study.path(c) for c in cells}) == len(cells)
    assert "seeds" not in grid.to_dict()  # older study.json files resume
    with pytest.raises(ValueError, match="`seeds` must be"):
        _grid(seeds=0)


def test_seed_statistics_against_the_kd_cell(tmp_path):
    grid = _grid(teachers=["resnet14"], teacher_mixup=["no"], seeds=3,
                 temperatures=["4", "std"])
    study = Study(tmp_path, grid)
    _fabricate(study, grid.teacher_specs()[0], 0.95)
    accuracy = {}
    for cell in grid.cells():
        seed = cell.seed or 0
        value = 0.80 + 0.01 * seed + (0.03 + 0.002 * seed) * (
            cell.temperature == "std") - 0.001 * seed * cell.student_mixup
        accuracy[cell.name, seed] = value
        _fabricate(study, cell, value)
    study.write_tables()
    rows = study_lib.read_csv(tmp_path / "results.csv")
    assert sorted({r["seed"] for r in rows}) == [0, 1, 2]
    out = study_lib.seed_summaries(rows)
    kd = "resnet14-plain--resnet8-plain--T4"
    std = "resnet14-plain--resnet8-plain--Tstd"
    assert out[kd]["diff_ci95"] == [0.0, 0.0] and out[kd]["baseline"] == kd
    diffs = [accuracy[std, s] - accuracy[kd, s] for s in range(3)]
    expected = stats_interval(diffs)
    assert out[std]["diff_ci95"] == pytest.approx(expected)
    assert out[std]["excludes_zero"] and out[std]["n"] == 3
    fmu = "resnet14-plain--resnet8-fmu--T4"
    # d = (0, -0.001, -0.002): mean -0.001, half-width 0.0025: not marked.
    assert out[fmu]["diff_mean"] == pytest.approx(-0.001)
    assert out[fmu]["diff_ci95"][0] < 0.0 < out[fmu]["diff_ci95"][1]
    assert not out[fmu]["excludes_zero"]


def stats_interval(d):
    from scipy import stats

    d = np.asarray(d)
    return list(stats.t.interval(0.95, len(d) - 1, loc=d.mean(),
                                 scale=stats.sem(d)))


def test_study_report_marks_cells_beyond_their_interval(tmp_path):
    test_seed_statistics_against_the_kd_cell(tmp_path)
    study = Study.load(tmp_path)
    rows = study_lib.read_csv(tmp_path / "results.csv")
    sentence = study_report.seed_observation(rows)
    assert sentence.startswith("Cells that differ from their classic-KD")
    assert "resnet14-plain--resnet8-plain--Tstd (+3.20 points)" in sentence
    assert "fmu--T4" not in sentence
    # The heatmap shows the mean over seeds.
    grid = study_report.accuracy_grid(rows, "resnet8", False,
                                      study.grid.teacher_specs(), [4.0])
    assert grid[0, 0] == pytest.approx(100 * np.mean([0.80, 0.81, 0.82]))
    text = study_report.write(tmp_path).read_text()
    assert "## Over seeds" in text and "over 3 seeds per cell" in text
    assert "| resnet14-plain--resnet8-plain--Tstd | 3 |" in text
    assert "+3.20 [" in text and "] *" in text
    assert "under it, the cell minus the classic-KD cell" in text


def _kd_cell_notes(interval, mean):
    """The heatmap note of a difference (fractions) and its interval."""
    low, high = interval
    star = " *" if low > 0 or high < 0 else ""
    return f"{100 * mean:+.2f} [{100 * low:+.2f}, {100 * high:+.2f}]{star}"


def test_heatmap_notes_give_the_difference_to_the_kd_cell(tmp_path,
                                                          monkeypatch):
    test_seed_statistics_against_the_kd_cell(tmp_path)
    study = Study.load(tmp_path)
    rows = study_lib.read_csv(tmp_path / "results.csv")
    specs, temperatures = study.grid.teacher_specs(), study.grid.temperatures
    assert temperatures == (4.0, "std")
    plain = study_report.difference_notes(rows, "resnet8", False, specs,
                                          temperatures)
    # T=std minus T=4 per seed s (points): 3 + 0.2 s.
    std = [0.03 + 0.002 * s for s in range(3)]
    assert plain.tolist() == [
        ["KD cell", _kd_cell_notes(stats_interval(std), 0.032)]]
    assert plain[0, 1] == "+3.20 [+2.70, +3.70] *"
    fmu = study_report.difference_notes(rows, "resnet8", True, specs,
                                        temperatures)
    # FMU at T=4: -0.1 s; FMU at T=std: 3 + 0.1 s (against the plain KD).
    assert fmu.tolist() == [
        [_kd_cell_notes(stats_interval([0.0, -0.001, -0.002]), -0.001),
         _kd_cell_notes(stats_interval([0.03, 0.031, 0.032]), 0.031)]]
    assert not fmu[0, 0].endswith("*") and fmu[0, 1].endswith("] *")
    one_seed = [r for r in rows if r["seed"] == 0]
    assert study_report.difference_notes(one_seed, "resnet8", False, specs,
                                         temperatures) is None
    drawn = {}
    original = analysis.plot_heatmap

    def spy(values, rows_, cols, path, title, *args, **kwargs):
        drawn[path.name] = (title, kwargs)
        return original(values, rows_, cols, path, title, *args, **kwargs)

    monkeypatch.setattr(analysis, "plot_heatmap", spy)
    paths = study_report.write_figures(study, rows)
    assert {p.name for p in paths} >= set(drawn) == {
        "accuracy-resnet8-plain.png", "accuracy-resnet8-fmu.png"}
    title, kwargs = drawn["accuracy-resnet8-plain.png"]
    assert title == ("Student resnet8, no mixup, mean of 3 seeds\n"
                     f"{study_report.NOTES_TITLE}")
    assert "minus the KD cell" in title and "95% CI" in title
    assert kwargs["notes"].tolist() == plain.tolist()
    study_report.write_figures(study, one_seed)
    title, kwargs = drawn["accuracy-resnet8-plain.png"]
    assert (title, kwargs["notes"]) == ("Student resnet8, no mixup", None)


def test_evaluate_logits_of_a_mixstd_student_uses_its_trained_outputs():
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(60, 5)) * 0.05, rng.integers(0, 5, 60)
    measured = study_lib.evaluate_logits(logits, labels, "mixstd")
    z = (logits - logits.mean(1, keepdims=True)) / logits.std(
        1, ddof=1, keepdims=True)
    trained = analysis.softmax(z)
    assert measured["ece"] == pytest.approx(
        analysis.expected_calibration_error(labels, trained))
    assert measured["ece_raw"] == pytest.approx(
        analysis.expected_calibration_error(labels, analysis.softmax(logits)))
    assert measured["confidence_mean"] == pytest.approx(
        trained.max(1).mean())
