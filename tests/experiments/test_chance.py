"""Comparisons and studies warn when results are near chance (1/K)."""

import json
import shutil

import pytest

from keras_mixkd.experiments import chance
from keras_mixkd.experiments import report
from keras_mixkd.experiments.report import study_report
from tests.experiments.test_compare import _count_training
from tests.experiments.test_compare import _fabricate
from tests.experiments.test_compare import compared  # noqa: F401 (fixture)


@pytest.mark.parametrize("accuracy,flagged", [
    (0.10, True), (0.1499, True), (0.1501, False), (None, False)])
def test_near_chance_is_within_five_points_of_one_over_k(accuracy, flagged):
    assert chance.near_chance(accuracy, 10) is flagged
    assert chance.near_chance(accuracy, None) is False


def test_warnings_name_the_teacher_and_the_methods():
    lines = chance.warnings({"resnet8": 0.11}, {"kd": 0.1, "mixkd": 0.12,
                                                "fmu_kd": 0.8}, 10)
    assert lines[0].startswith(
        "Warning: teacher resnet8 (11.0%) is within 5 points of chance "
        "(1/10 = 10.0%): it has learned next to nothing")
    assert lines[1].startswith(
        "Warning: methods kd (10.0%), mixkd (12.0%) are within 5 points of "
        "chance")
    assert "+0.00 [+0.00, +0.00]" in lines[1] and "fmu_kd" not in lines[1]
    assert chance.warnings({"resnet8": 0.9}, {"kd": 0.8}, 10) == []


def _at_chance(tmp_path, teacher=None):
    results = {(m, s): 0.1 for m in ("kd", "mixkd") for s in (0, 1)}
    _fabricate(tmp_path, results, [0, 1], ["kd", "mixkd"])
    if teacher is not None:
        (tmp_path / "teacher.json").write_text(json.dumps(teacher))


def test_a_comparison_at_chance_says_so_in_its_summary(tmp_path):
    _at_chance(tmp_path, {"teacher": "resnet8", "test_accuracy": 0.1,
                          "num_classes": 10})
    report.write_report(tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["methods"]["mixkd"]["diff_ci95"] == [0.0, 0.0]
    assert len(summary["warnings"]) == 2
    text = (tmp_path / "summary.md").read_text()
    for line in summary["warnings"]:
        assert f"**{line}**" in text
    assert "teacher resnet8 (10.0%)" in text
    assert "methods kd (10.0%), mixkd (10.0%)" in text


def test_the_number_of_classes_comes_from_the_dataset_otherwise(tmp_path):
    _at_chance(tmp_path)  # no teacher.json: digits has 10 classes
    report.write_report(tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["warnings"][0].startswith(
        "Warning: methods kd (10.0%), mixkd (10.0%) are within 5 points of "
        "chance (1/10 = 10.0%)")


def test_a_healthy_comparison_has_no_warning(tmp_path):
    _fabricate(tmp_path, {("kd", 0): 0.9, ("mixkd", 0): 0.91}, [0],
               ["kd", "mixkd"])
    report.write_report(tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "warnings" not in summary
    assert "Warning" not in (tmp_path / "summary.md").read_text()


def test_compare_prints_the_warnings(compared, tmp_path):  # noqa: F811
    from keras_mixkd.experiments import compare
    import dataclasses
    root, config, _ = compared
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    teacher = json.loads((copy / "teacher.json").read_text())
    assert teacher["num_classes"] == 10  # recorded from the teacher's output
    for path in (copy / "runs").glob("*/seed-*/result.json"):
        result = json.loads(path.read_text())
        result["test_accuracy"] = 0.1
        path.write_text(json.dumps(result))
    lines = []
    with pytest.MonkeyPatch.context() as patch:
        _count_training(patch, fail=True)  # everything is finished
        compare.compare(dataclasses.replace(config, output_dir=str(copy)),
                        ("kd", "mixkd"), seeds=2, log=lines.append)
    assert any(line.startswith("Warning: methods kd (10.0%), mixkd (10.0%)")
               for line in lines)


def test_a_study_at_chance_warns_first():
    teachers = [{"teacher": "resnet8", "teacher_mixup": False,
                 "last_accuracy": 0.12}]
    lines = study_report.observations([], teachers, num_classes=10)
    assert lines[0].startswith(
        "Warning: teacher resnet8 (plain) (12.0%) is within 5 points of "
        "chance (1/10 = 10.0%)")
    assert study_report.observations([], teachers) == []  # K unknown
