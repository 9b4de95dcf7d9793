"""The benchmark scripts run and report their keys (smoke test, no timing)."""

import json
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]
                       / "benchmarks"))

import append_step  # noqa: E402
import distill_throughput  # noqa: E402
import input_pipeline  # noqa: E402
import precision_deviation  # noqa: E402
import run_all  # noqa: E402


def _json(main, argv, capsys):
    main([*argv, "--json"])
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_distill_throughput_reports_its_keys(capsys):
    # (--strategy=mirrored is left out: its collective ops would clash with
    # those of strategies other tests create in this process.)
    result = _json(distill_throughput.main, [
        "--teacher=resnet8", "--student=resnet8", "--num_classes=10",
        "--batch_size=4", "--steps=2", "--repeats=1"], capsys)
    for key in ("teacher_forward_img_per_s", "student_step_img_per_s",
                "fit_img_per_s", "bound_img_per_s", "fit_over_bound"):
        assert result[key] > 0
    assert result["traces"]["fit_retraces_after_warmup"] == 0
    assert result["traces"]["fit_train_step"] == 1
    assert result["options"]["strategy"] == "default"
    for key in ("device", "tensorflow", "keras", "cpu", "date"):
        assert result["environment"][key]


def test_input_pipeline_reports_its_keys(capsys):
    result = _json(input_pipeline.main, [
        "--datasets=digits,cifar10", "--batches=2", "--repeats=1",
        "--mock_examples=64", "--batch_size=16", "--consumption=10"], capsys)
    for name in ("digits", "cifar10"):
        numbers = result["datasets"][name]
        assert numbers["img_per_s"] > 0 and numbers["headroom"] > 0


def test_precision_deviation_reports_each_configuration(capsys):
    result = _json(precision_deviation.main, [
        "--teacher=resnet8", "--student=resnet8", "--num_classes=10",
        "--batch_size=4", "--steps=2"], capsys)
    for name, _, _ in precision_deviation.CONFIGS:
        assert len(result[name]) == 2 and all(v > 0 for v in result[name])
    deviation = result["max_relative_deviation"]
    # bfloat16 moves the loss, but little (~3 significant digits).
    assert all(0 < v < 0.05 for v in deviation.values())


def test_append_step_reports_both_modes(capsys):
    result = _json(append_step.main, [
        "--teacher=resnet8", "--student=resnet8", "--batch_size=4",
        "--steps=2", "--repeats=1", "--warmup=1",
        "--mixed_precision=none"], capsys)
    assert set(result["step_ms"]) == {"replace", "append"}
    assert all(v > 0 for v in result["step_ms"].values())
    assert result["append_over_replace"] == pytest.approx(
        result["step_ms"]["append"] / result["step_ms"]["replace"], rel=1e-2)
    # run_all.py prints it in one line.
    line = run_all.append_line(result)
    assert f"{result['append_over_replace']:.2f}x" in line
    assert f"{result['step_ms']['append']:.1f} vs" in line
