"""scripts/patience_figure.py: differences to kd against optimizer steps."""

import json

import numpy as np
import pytest
from scipy import stats

from keras_mixkd.experiments.compare import results
from tests.helpers import load_script


def _script():
    return load_script("patience_figure")


def _rung(path, epochs, shifts, train_size=1000, batch_size=64):
    path.mkdir()
    (path / "compare.json").write_text(json.dumps({"base": {
        "train_size": train_size, "batch_size": batch_size,
        "epochs": epochs}}))
    rows = [{"method": method, "seed": seed,
             "test_accuracy": 0.8 + shift[seed]}
            for method, shift in shifts.items() for seed in range(len(shift))]
    results.write_results(path / "results.csv", rows)
    return path


def test_steps_and_paired_intervals_per_rung(tmp_path):
    short = _rung(tmp_path / "e60", 60, {
        "kd": [0.0, 0.0, 0.0], "funmatch": [-0.03, -0.04, -0.035]})
    long = _rung(tmp_path / "e960", 960, {
        "kd": [0.0, 0.01], "funmatch": [0.01, 0.03],
        "mixup": [0.0, 0.0]})
    script = _script()
    rungs = {f: script.rung(f) for f in (short, long)}
    # 1,000 images in batches of 64: 16 steps an epoch, the last kept.
    assert rungs[short][:2] == (60, 960)
    assert rungs[long][:2] == (960, 15360)
    lines = script.table(rungs, ["funmatch", "mixup"])
    first, second = lines[2].split(" | "), lines[3].split(" | ")
    half = stats.t.ppf(0.975, 2) * np.std([3, 4, 3.5], ddof=1) / np.sqrt(3)
    assert first[3] == f"-3.50 [{-3.5 - half:+.2f}, {-3.5 + half:+.2f}] *"
    assert first[4].startswith("not run")
    assert second[2] == "15,360"
    half = stats.t.ppf(0.975, 1) * np.std([1, 2], ddof=1) / np.sqrt(2)
    assert second[3].startswith(f"+1.50 [{1.5 - half:+.2f}, ")
    path = tmp_path / "ladder.png"
    script.plot(rungs, ["funmatch", "mixup"], path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_rung_without_a_training_subset_is_refused(tmp_path):
    folder = _rung(tmp_path / "all", 15, {"kd": [0.0]}, train_size=None)
    with pytest.raises(ValueError, match="needs --train_size"):
        _script().rung(folder)


def test_a_rung_with_one_seed_is_plotted_without_an_interval(tmp_path):
    short = _rung(tmp_path / "e60", 60, {
        "kd": [0.0, 0.0], "funmatch": [-0.03, -0.04]})
    partial = _rung(tmp_path / "e960", 960, {
        "kd": [0.0], "funmatch": [0.02]})
    script = _script()
    rungs = {f: script.rung(f) for f in (short, partial)}
    row = script.table(rungs, ["funmatch", "mixup"])[3].split(" | ")
    assert row[3] == "+2.00 (1 pair, no interval)"
    assert row[4].startswith("not run")
    path = tmp_path / "ladder.png"
    script.plot(rungs, ["funmatch", "mixup"], path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_results_md_ladder_table_recomputes_from_the_committed_folders():
    """RESULTS.md's ladder table is the script's output on the committed
    results.csv files, line for line."""
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[2]
    folders = [root / "results" / f"fashion_mnist-1k-e{epochs}-teacher60k"
               for epochs in (60, 240, 960)]
    script = _script()
    lines = script.table({f: script.rung(f) for f in folders},
                         ["funmatch", "kd_append_mixup", "kd_append_cutmix"])
    text = (root / "RESULTS.md").read_text()
    for line in lines:
        assert line in text, line
