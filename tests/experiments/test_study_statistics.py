"""Paired differences over seeds and the sentences that report them."""

import numpy as np
import pytest

from keras_mixkd.experiments.report import study_report
from keras_mixkd.experiments.report import study_statistics
from tests.experiments.test_study import stats_interval


def _seed_rows(per_seed, seeds=(0, 1, 2)):
    """Rows of two plain teachers whose T=std cell beats T=4 by ``d - 0.5``
    and ``d + 0.5`` points on a seed: ``d`` on average over the seed."""
    rows = []
    for seed, d in zip(seeds, per_seed):
        for teacher, shift in (("resnet14", -0.5), ("resnet20", 0.5)):
            for temperature, gain in ((4.0, 0.0), ("std", d + shift)):
                rows.append({
                    "cell": f"{teacher}-plain--resnet8-plain--T{temperature}",
                    "seed": seed, "teacher": teacher, "teacher_mixup": False,
                    "student": "resnet8", "student_mixup": False,
                    "temperature": temperature, "ece": 0.1,
                    "last_accuracy": 0.80 + 0.01 * seed + gain / 100})
    return rows


@pytest.mark.parametrize("per_seed", [(1.0, 2.0, 3.0), (1.5, 2.0, 2.5),
                                      (-1.0, -2.0, -3.0)])
def test_paired_difference_has_an_interval_over_seeds(per_seed):
    result = study_statistics.paired_difference(_seed_rows(per_seed),
                                                "temperature", "std", 4.0)
    mean = float(np.mean(per_seed))
    expected = stats_interval(per_seed)
    assert result.mean == pytest.approx(mean) and result.seeds == 3
    assert (result.pairs, result.wins, result.losses) == (
        (6, 6, 0) if mean > 0 else (6, 0, 6))
    assert result.ci95 == pytest.approx(expected)
    # Per-seed differences 1, 2, 3: mean 2, t(0.975, 2) = 4.303, half-width
    # 4.303 / sqrt(3) = 2.48 points; 1.5, 2, 2.5: half-width 1.24.
    assert result.significant == (per_seed == (1.5, 2.0, 2.5))
    # The interval is that of the per-seed means, not of the 6 cells.
    cells = stats_interval([d + s for d in per_seed for s in (-0.5, 0.5)])
    assert result.ci95 != pytest.approx(cells)


def test_paired_difference_without_seeds_has_no_interval():
    rows = _seed_rows((1.0, 2.0))
    assert study_statistics.paired_difference(
        rows[:4], "temperature", "std", 4.0).ci95 is None  # one seed
    for row in rows:
        del row["seed"]  # a study of an older version: one seed
    result = study_statistics.paired_difference(rows, "temperature", "std",
                                                4.0)
    assert (result.seeds, result.ci95, result.significant) == (1, None,
                                                               False)


@pytest.mark.parametrize("per_seed,leader,verdict", [
    ((1.0, 2.0, 3.0), "T=std (MIXSTD) beats T=4", "not significant"),
    ((1.5, 2.0, 2.5), "T=std (MIXSTD) beats T=4", "significant"),
    ((-1.0, -2.0, -3.0), "T=4 beats T=std (MIXSTD)", "not significant"),
])
def test_observations_give_the_interval_over_seeds(per_seed, leader,
                                                   verdict):
    lines = study_report.observations(_seed_rows(per_seed), [])
    # The interval of the leader minus the other.
    low, high = sorted(np.sign(np.mean(per_seed)) * bound
                       for bound in stats_interval(per_seed))
    assert (f"With plain teachers, {leader} by 2.00 points on average "
            "(ahead in 6 of 6 paired cells; 95% CI over 3 seeds "
            f"[{low:+.2f}, {high:+.2f}], {verdict}).") in lines
    if per_seed == (1.0, 2.0, 3.0):
        assert "[-0.48, +4.48], not significant" in lines[0]
    if per_seed == (1.5, 2.0, 2.5):
        assert "[+0.76, +3.24], significant" in lines[0]
