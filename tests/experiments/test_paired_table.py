"""scripts/paired_table.py: RESULTS.md's tables recomputed from results.csv."""


import numpy as np
from scipy import stats

from keras_mixkd.experiments.compare import results
from tests.helpers import load_script

def _script():
    return load_script("paired_table")


def test_each_baseline_column_is_a_paired_t_interval(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for method, shift in (("kd", 0.0), ("mixstd", -0.02), ("t029", 0.01)):
        for seed in range(3):
            test = 0.85 + shift + 0.004 * rng.normal()
            rows.append({"method": method, "seed": seed,
                         "test_accuracy": test, "train_accuracy": test + 0.01,
                         "gap": 0.01})
    results.write_results(tmp_path / "results.csv", rows)
    lines = _script().table(results.read_results(tmp_path / "results.csv"),
                            ["kd", "mixstd"])
    assert len(lines) == 2 + 3
    t029 = lines[4].split(" | ")
    for column, baseline in ((5, "kd"), (6, "mixstd")):
        d = np.array([rows[6 + s]["test_accuracy"] - next(
            r["test_accuracy"] for r in rows
            if r["method"] == baseline and r["seed"] == s) for s in range(3)])
        half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3)
        expected = (f"{100 * d.mean():+.2f} [{100 * (d.mean() - half):+.2f}, "
                    f"{100 * (d.mean() + half):+.2f}]")
        assert t029[column].rstrip(" |*").strip().startswith(expected), (
            t029[column], expected)
