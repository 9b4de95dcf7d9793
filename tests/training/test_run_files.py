"""The run folder's files: one place names them, one reader reads each."""

import ast
import math
import pathlib

import pytest

from keras_mixkd import training
from keras_mixkd.cli import quickstart
from keras_mixkd.experiments.report.run_report import run_report
from keras_mixkd.training import RunFiles
from keras_mixkd.training import RunFolder
from keras_mixkd.training import read_json
from keras_mixkd.training import write_json
from keras_mixkd.training.run_files import read_rows

PACKAGE = pathlib.Path(training.__file__).resolve().parents[1]

#: A kill during the append of epoch 2's row leaves it cut short.
CUT_SHORT = "epoch,loss,val_accuracy\n0,1.5,0.5\n1,1.2,0.625\n2,1.1"


def test_a_row_cut_short_by_a_kill_is_dropped_by_every_reader(tmp_path):
    (tmp_path / "metrics.csv").write_text(CUT_SHORT)
    header, rows = read_rows(tmp_path / "metrics.csv")
    assert header == ["epoch", "loss", "val_accuracy"]
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert RunFiles(tmp_path).metrics() == [
        {"epoch": 0.0, "loss": 1.5, "val_accuracy": 0.5},
        {"epoch": 1.0, "loss": 1.2, "val_accuracy": 0.625}]
    # The quick start's late gain and the run report read the same rows.
    assert quickstart._late_gain(tmp_path, epochs=1) == 0.625 - 0.5
    (tmp_path / "config.json").write_text('{"command": "distill"}')
    run_report(tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "| 2 | 1.2 | 0.625 |" in report
    assert "| 3 |" not in report
    # The summary counts the complete epochs only.
    summary = RunFolder(tmp_path, {"command": "distill"}).write_summary()
    assert (summary["epochs"], summary["best_accuracy"],
            summary["best_epoch"]) == (2, 0.625, 2)


def test_an_empty_cell_is_left_out_of_its_row(tmp_path):
    (tmp_path / "metrics.csv").write_text(
        "epoch,loss,val_accuracy\n0,1.5,\n1,1.2,0.75\n")
    assert RunFiles(tmp_path).metrics() == [
        {"epoch": 0.0, "loss": 1.5},
        {"epoch": 1.0, "loss": 1.2, "val_accuracy": 0.75}]


def test_names_are_the_documented_layout(tmp_path):
    run = RunFiles(tmp_path / "run")
    assert run.config_file == tmp_path / "run" / "config.json"
    assert run.metrics_file == tmp_path / "run" / "metrics.csv"
    assert run.summary_file == tmp_path / "run" / "summary.json"
    assert run.last_checkpoint == (
        tmp_path / "run" / "checkpoints" / "last.keras")
    assert run.best_checkpoint == (
        tmp_path / "run" / "checkpoints" / "best.keras")
    assert run.backup_dir == tmp_path / "run" / "backup"
    assert run.tensorboard_dir == tmp_path / "run" / "tensorboard"
    assert (run.record(), run.summary(), run.best(), run.last_epoch(),
            run.metrics(), run.epochs_done()) == (None, None, None, 0, [], 0)


def test_the_folder_of_a_checkpoint(tmp_path):
    inside = RunFiles.of_checkpoint(
        tmp_path / "run" / "checkpoints" / "best.keras")
    assert inside.path == tmp_path / "run"
    assert RunFiles.of_checkpoint(tmp_path / "model.keras").path == tmp_path
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    write_json(inside.config_file, {"temperature": 2.0, "seed": 3})
    assert training.RunFiles(tmp_path / "run").record()["seed"] == 3
    assert RunFiles.is_run_folder(tmp_path / "run")
    assert not RunFiles.is_run_folder(tmp_path)


def test_checkpoint_records(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    write_json(checkpoints / "last.json", {"epoch": 4})
    write_json(checkpoints / "best.json",
               {"epoch": 3, "monitor": "val_accuracy", "value": 0.5})
    run = RunFiles(tmp_path)
    assert run.last_epoch() == 4 and run.best()["epoch"] == 3
    assert run.epochs_done() == 4


def test_json_is_strict_and_written_whole(tmp_path):
    path = tmp_path / "deep" / "x.json"
    write_json(path, {"b": float("nan"), "a": [1.0, float("inf")]},
               sort_keys=True)
    assert path.read_text().index('"a"') < path.read_text().index('"b"')
    assert "NaN" not in path.read_text()
    assert read_json(path) == {"a": [1.0, None], "b": None}
    assert read_json(tmp_path / "missing.json") is None
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]
    # A file of an earlier version with a NaN literal still reads.
    path.write_text('{"best_accuracy": NaN}')
    assert math.isnan(read_json(path)["best_accuracy"])


def test_a_damaged_json_file_is_named_not_taken_for_missing(tmp_path):
    write_json(tmp_path / "config.json", {"epochs": 2})
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.json").write_text('{"epoch": ')
    with pytest.raises(ValueError, match=r"last\.json is not valid JSON.*"
                       r"`overwrite=True`"):
        RunFolder(tmp_path, {"epochs": 2})
    (tmp_path / "config.json").write_text("{edited")
    with pytest.raises(ValueError, match=r"config\.json is not valid JSON"):
        RunFiles(tmp_path).record()
    # --overwrite replaces the run without reading what it held.
    run = RunFolder(tmp_path, {"epochs": 2}, overwrite=True)
    assert not run.finished
    run._begin()
    assert read_json(tmp_path / "config.json") == {"epochs": 2}
    assert not (tmp_path / "checkpoints").exists()


def _string_constants(path):
    """The string constants of a module, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef,
                                       ast.FunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


#: Files of other formats that share a run file's name.
OTHER_FILES = {
    ("models/applications.py", "config.json"),  # inside a .keras zip
    ("experiments/compare/results.py", "summary.json"),  # a comparison's
}


def test_only_run_files_names_the_run_folders_files():
    names = {RunFiles.CONFIG, RunFiles.METRICS, RunFiles.SUMMARY,
             RunFiles.ANALYSIS, RunFiles.CHECKPOINTS, RunFiles.BACKUP,
             RunFiles.TENSORBOARD, RunFiles.LAST_MODEL, RunFiles.BEST_MODEL,
             RunFiles.LAST_RECORD, RunFiles.BEST_RECORD}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        if module == "training/run_files.py":
            continue
        found += [(module, value) for value in _string_constants(path)
                  if value in names and (module, value) not in OTHER_FILES]
    assert found == []
