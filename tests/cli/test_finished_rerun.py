"""A finished run is not trained again: the same command says where its
results are, changes nothing and exits within seconds; --overwrite trains it
again from scratch."""

import os
import pathlib
import subprocess
import sys
import time

import keras
import pytest

from keras_mixkd import training
from keras_mixkd.cli import main as cli
from keras_mixkd.training import engine

ROOT = pathlib.Path(__file__).resolve().parents[2]
#: Two training steps of resnet8 on the bundled digits.
TINY = ["--dataset=digits", "--train_size=256", "--batch_size=128",
        "--epochs=1", "--verbose=2"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}


def snapshot(folder):
    """Every file of a folder: its bytes and modification time."""
    return {p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def mixkd_process(*args, cwd):
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "keras_mixkd.cli.main", *args],
        capture_output=True, text=True, env=ENV, cwd=cwd, timeout=300)
    return result, time.perf_counter() - start


@pytest.fixture(scope="module")
def finished_teacher(tmp_path_factory):
    """A finished train-teacher run folder and its command."""
    out = tmp_path_factory.mktemp("teacher") / "run"
    args = ["train-teacher", "--model=resnet8", f"--output_dir={out}", *TINY]
    assert cli.run(["mixkd", *args]) == 0
    return out, args


@pytest.mark.slow
def test_rerun_changes_nothing_and_exits_in_seconds(finished_teacher,
                                                    tmp_path):
    out, args = finished_teacher
    before = snapshot(out)
    assert {"checkpoints/best.keras", "checkpoints/last.keras",
            "metrics.csv", "config.json", "summary.json"} <= {
        str(p) for p in before}
    result, rerun_s = mixkd_process(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert snapshot(out) == before  # bytes and mtimes untouched
    assert "val_accuracy:" not in result.stdout
    assert f"The run in {out} has finished (1 epoch)" in result.stdout
    assert f"best: {out}/checkpoints/best.keras (epoch 1, test " in (
        result.stdout)
    assert f"last: {out}/checkpoints/last.keras" in result.stdout
    # Start-up: the interpreter with TensorFlow and the package imported.
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import keras_mixkd.cli.main, "
                    "keras_mixkd.training"], env=ENV, timeout=300, check=True)
    startup_s = time.perf_counter() - start
    print(f"start-up {startup_s:.1f} s, finished re-run {rerun_s:.1f} s")
    assert rerun_s < startup_s + 10, (startup_s, rerun_s)


def test_rerun_reads_no_data_and_builds_nothing(finished_teacher, capsys,
                                                monkeypatch):
    out, args = finished_teacher

    def refused(*args, **kwargs):
        raise AssertionError("a finished run loaded data or built a model")

    for name in ("setup_runtime", "load_data", "dataset_info"):
        monkeypatch.setattr(engine, name, refused)
    monkeypatch.setattr(engine.models, "create", refused)
    config = training.RunConfig(model="resnet8", dataset="digits",
                                train_size=256, batch_size=128, epochs=1,
                                output_dir=str(out))
    model, summary = training.train_teacher(config)
    assert summary["epochs"] == 1
    assert model.name == "resnet8" and not model.compiled
    assert "has finished" in capsys.readouterr().out


@pytest.mark.slow
def test_distill_rerun_and_overwrite(finished_teacher, tmp_path, capsys,
                                     monkeypatch):
    """With --output_dir and with the default folder (named after the
    models, read from the teacher's file without building the student)."""
    teacher_file = finished_teacher[0] / "checkpoints" / "best.keras"
    args = ["distill", f"--teacher_weights={teacher_file}",
            "--student=resnet8", *TINY]
    monkeypatch.chdir(tmp_path)
    default = tmp_path / "runs" / "distill-resnet8-resnet8-digits"
    given = tmp_path / "run"
    for extra, out in (([f"--output_dir={given}"], given), ([], default)):
        assert cli.run(["mixkd", *args, *extra]) == 0
        assert "val_accuracy:" in capsys.readouterr().out
        before = snapshot(out)
        with monkeypatch.context() as patch:
            patch.setattr(engine, "load_data", None)  # not called
            assert cli.run(["mixkd", *args, *extra]) == 0
        printed = capsys.readouterr().out
        assert "val_accuracy:" not in printed and "has finished" in printed
        assert snapshot(out) == before
    (default / "notes.txt").write_text("mine")
    assert cli.run(["mixkd", *args, "--overwrite"]) == 0
    assert "val_accuracy:" in capsys.readouterr().out
    after = snapshot(default)
    assert after[pathlib.Path("checkpoints/last.keras")][1] > before[
        pathlib.Path("checkpoints/last.keras")][1]
    assert (default / "notes.txt").read_text() == "mine"
    assert len((default / "metrics.csv").read_text().splitlines()) == 2
    assert keras.saving.load_model(
        default / "checkpoints" / "last.keras").name == "resnet8"


def test_a_failed_start_leaves_no_folder(tmp_path, monkeypatch):
    """The model fails to build (as MobileNetV3Small at --image_size=16):
    nothing is written, and the corrected command is accepted."""
    out = tmp_path / "run"
    base = ["train-teacher", f"--output_dir={out}", *TINY]
    original = engine.models.create

    def too_small(name, **kwargs):
        raise ValueError("input too small (simulated)")

    monkeypatch.setattr(engine.models, "create", too_small)
    with pytest.raises(ValueError, match="too small"):
        training.train_teacher(training.RunConfig(
            model="resnet8", dataset="digits", image_size=16, epochs=1,
            output_dir=str(out)))
    assert not out.exists()
    monkeypatch.setattr(engine.models, "create", original)
    assert cli.run(["mixkd", *base, "--model=resnet8"]) == 0
    assert (out / "checkpoints" / "last.keras").exists()
