"""scripts/when_table.py: the regime x method table from comparison folders."""

import json

import numpy as np
from scipy import stats

from keras_mixkd.experiments.compare import results
from tests.helpers import load_script

def _script():
    return load_script("when_table")


def _folder(path, train_size, shifts, gap):
    path.mkdir()
    (path / "compare.json").write_text(json.dumps({"base": {
        "train_size": train_size, "epochs": 60, "student": "resnet8"}}))
    rows = [{"method": method, "seed": seed,
             "test_accuracy": 0.8 + shift[seed], "train_accuracy": 0.9,
             "gap": gap} for method, shift in shifts.items()
            for seed in range(3)]
    results.write_results(path / "results.csv", rows)


def test_columns_are_regimes_and_cells_paired_intervals(tmp_path):
    _folder(tmp_path / "small", 1000, {
        "kd": [0.0, 0.0, 0.0], "mixkd": [0.015, 0.02, 0.025]}, 0.07)
    _folder(tmp_path / "large", None, {
        "kd": [0.0, 0.01, 0.0], "mixstd": [-0.01, -0.01, -0.02]}, 0.01)
    lines = _script().table([tmp_path / "small", tmp_path / "large"],
                            ["mixkd", "mixstd"])
    assert "1,000 images, 60 ep., resnet8 (kd gap 7.0)" in lines[0]
    assert "all images, 60 ep., resnet8 (kd gap 1.0)" in lines[0]
    mixkd = lines[3].split(" | ")
    half = stats.t.ppf(0.975, 2) * np.std([1.5, 2, 2.5], ddof=1) / np.sqrt(3)
    assert mixkd[1] == f"+2.00 [{2 - half:+.2f}, {2 + half:+.2f}] *"
    assert mixkd[2].startswith("not run")
    mixstd = lines[4].split(" | ")
    assert mixstd[1] == "not run"
    assert mixstd[2].startswith("-1.67 [")
