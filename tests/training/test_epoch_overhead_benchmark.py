"""benchmarks/epoch_overhead.py runs and reports its keys (no timing).

(Beside tests/test_benchmarks.py, which covers the other scripts.)
"""

import json
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]
                       / "benchmarks"))

import epoch_overhead  # noqa: E402
import run_all  # noqa: E402


@pytest.mark.slow
def test_epoch_overhead_reports_its_keys(tmp_path, capsys):
    argv = ["--dataset=digits", "--train_size=128", "--teacher=resnet8",
            "--student=resnet8", "--teacher_epochs=1", "--epochs=3",
            "--validation_freq=2", "--backup_interval_s=0",
            "--eval_batch_size=100",
            f"--cache_dir={tmp_path / 'cache'}",
            f"--output_dir={tmp_path / 'run'}", "--json"]
    epoch_overhead.main(argv)
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["timed_epochs"] == 2
    assert result["step_time_s"] > 0 and result["epoch_s"] > 0
    assert result["overhead_s"] == pytest.approx(
        result["validation_s"] + result["rest_s"], abs=1e-3)
    assert {"Backup", "Checkpoints", "MetricsLog",
            "RunTensorBoard"} <= set(result["on_epoch_end_s"])
    assert result["backups"] == 3  # every epoch, at interval 0
    assert result["options"]["eval_batch_size"] == 100
    # run_all.py prints it in one line.
    assert (f"({result['overhead_pct']:.1f}% of the step time"
            in run_all.overhead_line(result))
    assert len(result["per_epoch"]["wall_s"]) == 3
    # The teacher was trained once in --cache_dir: a second run finds it.
    assert (tmp_path / "cache" / "teacher" / "summary.json").exists()
