"""Statistics over seeds, against scipy and hand-computed numbers."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from keras_mixkd.experiments import statistics

# Fixed accuracies of three methods over seeds 0..4 (kd is the baseline).
KD = [0.9012, 0.8987, 0.9040, 0.8995, 0.9021]
MIXKD = [0.9055, 0.9001, 0.9102, 0.9030, 0.9049]
ALONE = [0.8850, 0.8902, 0.8871, 0.8899, 0.8840]


def _rows(**methods):
    return [{"method": name, "seed": seed, "test_accuracy": value}
            for name, values in methods.items()
            for seed, value in enumerate(values)]


def test_describe_is_the_sample_mean_and_std():
    out = statistics.describe(KD)
    assert out["n"] == 5
    assert out["mean"] == pytest.approx(np.mean(KD), abs=1e-15)
    assert out["std"] == pytest.approx(stats.tstd(KD), rel=1e-12)
    assert statistics.describe([0.5]) == {"n": 1, "mean": 0.5, "std": None}
    assert statistics.describe([]) == {"n": 0, "mean": None, "std": None}


def test_interval_matches_scipy_paired_t_test():
    summary = statistics.summarize(_rows(kd=KD, mixkd=MIXKD, alone=ALONE),
                                   baseline="kd")
    for name, values in (("mixkd", MIXKD), ("alone", ALONE)):
        entry = summary["methods"][name]
        d = np.subtract(values, KD)
        expected = stats.ttest_rel(values, KD).confidence_interval(0.95)
        assert entry["diff_ci95"] == pytest.approx(
            [expected.low, expected.high], rel=1e-10)
        assert entry["diff_mean"] == pytest.approx(d.mean(), abs=1e-15)
        low, high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(),
                                     scale=stats.sem(d))
        assert entry["diff_ci95"] == pytest.approx([low, high], rel=1e-10)
        assert entry["n_pairs"] == 5
    # mixkd is above kd on every seed: its interval lies above 0; alone
    # below it.
    assert summary["methods"]["mixkd"]["diff_ci95"][0] > 0
    assert summary["methods"]["alone"]["diff_ci95"][1] < 0
    assert summary["methods"]["mixkd"]["excludes_zero"]


def test_hand_computed_two_pair_interval():
    # d = (0.01, 0.03): mean 0.02, sd sqrt(2)/100, t(0.975, 1) = 12.7062...
    summary = statistics.summarize(
        _rows(kd=[0.5, 0.6], new=[0.51, 0.63]), baseline="kd")
    half = 12.706204736174707 * (math.sqrt(2) / 100) / math.sqrt(2)
    entry = summary["methods"]["new"]
    assert entry["diff_mean"] == pytest.approx(0.02, abs=1e-15)
    assert entry["diff_ci95"] == pytest.approx([0.02 - half, 0.02 + half],
                                               rel=1e-9)
    assert not entry["excludes_zero"]


def test_baseline_entry_and_json_keys():
    summary = statistics.summarize(_rows(kd=KD, mixkd=MIXKD), baseline="kd")
    assert summary["baseline"] == "kd"
    assert list(summary["methods"]) == ["kd", "mixkd"]
    base = summary["methods"]["kd"]
    assert base["diff_mean"] == 0 and base["diff_ci95"] == [0, 0]
    assert base["std"] == pytest.approx(np.std(KD, ddof=1))
    for entry in summary["methods"].values():
        assert {"n", "mean", "std", "diff_mean", "diff_ci95"} <= set(entry)
    json.dumps(summary, allow_nan=False)


def test_single_seed_has_no_std_and_no_interval():
    summary = statistics.summarize(_rows(kd=[0.9], mixkd=[0.92]),
                                   baseline="kd")
    entry = summary["methods"]["mixkd"]
    assert entry["n"] == 1 and entry["std"] is None
    assert entry["diff_mean"] == pytest.approx(0.02)
    assert entry["diff_ci95"] is None and not entry["excludes_zero"]
    assert json.loads(json.dumps(summary, allow_nan=False))[
        "methods"]["mixkd"]["diff_ci95"] is None


def test_missing_seeds_pair_only_the_shared_ones():
    rows = _rows(kd=KD, mixkd=MIXKD)
    rows = [r for r in rows if (r["method"], r["seed"]) not in
            (("mixkd", 1), ("kd", 3))]
    entry = statistics.summarize(rows, baseline="kd")["methods"]["mixkd"]
    shared = [0, 2, 4]
    d = [MIXKD[s] - KD[s] for s in shared]
    assert entry["n"] == 4 and entry["n_pairs"] == 3
    assert entry["mean"] == pytest.approx(np.mean(
        [v for s, v in enumerate(MIXKD) if s != 1]))
    expected = stats.ttest_rel([MIXKD[s] for s in shared],
                               [KD[s] for s in shared]).confidence_interval()
    assert entry["diff_mean"] == pytest.approx(np.mean(d))
    assert entry["diff_ci95"] == pytest.approx([expected.low, expected.high])


def test_method_without_shared_seeds_has_no_difference():
    rows = _rows(kd=[0.9, 0.91]) + [
        {"method": "new", "seed": 7, "test_accuracy": 0.95}]
    entry = statistics.summarize(rows, baseline="kd")["methods"]["new"]
    assert entry["n_pairs"] == 0 and entry["diff_mean"] is None
    assert entry["diff_ci95"] is None


def test_bad_rows_are_refused():
    with pytest.raises(ValueError, match="baseline 'kd' has no"):
        statistics.summarize(_rows(mixkd=MIXKD), baseline="kd")
    with pytest.raises(ValueError, match="seed=0"):
        statistics.summarize(_rows(kd=KD) + _rows(kd=[0.5]), baseline="kd")
    with pytest.raises(ValueError, match="confidence"):
        statistics.t_interval([0.1, 0.2], confidence=95)


def test_format_entry():
    summary = statistics.summarize(
        _rows(kd=[0.5, 0.6], new=[0.51, 0.63], big=[0.7, 0.8], one=[0.9]),
        baseline="kd")
    methods = summary["methods"]
    assert statistics.format_entry(methods["kd"]) == (
        "55.00 ± 7.07", "+0.00 [+0.00, +0.00]")
    # d = (0.01, 0.03): 2 ± 12.7 points, not excluding 0.
    assert statistics.format_entry(methods["new"]) == (
        "57.00 ± 8.49", "+2.00 [-10.71, +14.71]")
    # d = (0.2, 0.2): zero spread, an interval of one point, excluding 0.
    assert statistics.format_entry(methods["big"])[1] == (
        "+20.00 [+20.00, +20.00] *")
    assert statistics.format_entry(methods["one"]) == (
        "90.00", "+40.00 (1 pair, no interval)")
