"""Statistics over seeds for the report of a study.

`paired_difference` compares two values of one axis of the grid (two
temperatures, with or without student mixup, ...) over the cells that differ
only in that axis, with a 95% interval over seeds; `seed_section` and
`seed_observation` compare every cell with its classic-KD cell
(`keras_mixkd.experiments.study.seed_summaries`).

The interval of `paired_difference` treats the seed as the unit of
replication: the paired differences of one seed (one per pair of cells) are
averaged, and the Student-t interval is taken over these per-seed means
(`keras_mixkd.experiments.statistics.t_interval`), so cells of one seed,
which share its data order and initialisation, are not counted as
independent runs.

Example:

```python
result = paired_difference(rows, "temperature", "std", 4.0)
result.mean, result.ci95, result.significant  # 0.52, [-0.31, 1.35], False
```
"""

import typing

import numpy as np

from keras_mixkd.experiments import statistics
from keras_mixkd.experiments import study as study_lib
from keras_mixkd.experiments.report.markdown import table

_IDENTITY = ("teacher", "teacher_mixup", "student", "student_mixup",
             "temperature", "seed")


class PairedDifference(typing.NamedTuple):
    """How much one value of an axis beats another, in accuracy points.

    Attributes:
        mean: the mean paired difference over all pairs of cells.
        pairs: the number of pairs.
        wins: pairs won by the first value.
        losses: pairs won by the second value.
        seeds: the number of seeds the pairs come from.
        ci95: the 95% interval of the mean of the per-seed mean
            differences, or None for fewer than two seeds.
    """

    mean: float
    pairs: int
    wins: int
    losses: int
    seeds: int
    ci95: typing.Optional[list]

    @property
    def significant(self):
        """Whether the interval excludes 0 (False without an interval)."""
        return statistics.excludes_zero(self.ci95)


def seed_count(rows):
    """The number of seeds of some result rows (rows of older studies have
    no ``seed``: one seed)."""
    return len({row.get("seed") for row in rows})


def paired_difference(rows, axis, first, second, where=None):
    """How much ``axis = first`` beats ``axis = second``, other axes equal.

    Args:
        rows: result rows.
        axis: one of ``teacher``, ``teacher_mixup``, ``student``,
            ``student_mixup``, ``temperature``.
        first: value of the axis in the first run of each pair.
        second: value in the second run.
        where: optional ``row -> bool`` filter.

    Returns:
        A `PairedDifference` (``first`` minus ``second``, in points, with
        its 95% interval over seeds), or None when the rows hold no pair.

    Example:

    >>> paired_difference(rows, "student_mixup", True, False).mean
    """
    def value(row, key):
        if key == "temperature":
            return study_lib.temperature_key(row[key])
        return row.get(key)  # no seed in the rows of older studies

    groups = {}
    for row in rows:
        if row.get("last_accuracy") is not None and (not where or where(row)):
            key = tuple(value(row, k) for k in _IDENTITY if k != axis)
            groups.setdefault(key, {})[value(row, axis)] = (
                100 * float(row["last_accuracy"]))
    first, second = value({axis: first}, axis), value({axis: second}, axis)
    by_seed = {}
    for key, group in groups.items():
        if first in group and second in group:  # key[-1]: the seed
            by_seed.setdefault(key[-1], []).append(group[first]
                                                   - group[second])
    if not by_seed:
        return None
    diffs = np.concatenate(list(by_seed.values()))
    return PairedDifference(
        float(np.mean(diffs)), len(diffs), int(np.sum(diffs > 0)),
        int(np.sum(diffs < 0)), len(by_seed),
        statistics.t_interval([np.mean(d) for d in by_seed.values()]))


def interval_clause(result, sign=1):
    """The interval of a `PairedDifference` as a clause of a sentence.

    Args:
        result: a `PairedDifference`.
        sign: -1 to state the interval of ``second`` minus ``first`` (when
            the sentence names the second value as the leader).

    Returns:
        ``"; 95% CI over 3 seeds [-0.31, +1.35], not significant"`` (or
        ``significant`` when it excludes 0), or ``""`` without an interval.
    """
    if result.ci95 is None:
        return ""
    low, high = sorted(sign * bound for bound in result.ci95)
    return (f"; 95% CI over {result.seeds} seeds [{low:+.2f}, {high:+.2f}], "
            f"{'' if result.significant else 'not '}significant")


def seed_section(rows):
    """The statistics over seeds: per cell, last-epoch accuracy mean ± std
    and the difference to the classic-KD cell of the same teacher and
    student (no student mixup, T=4), paired by seed, with its 95% interval;
    ``*`` marks the cells whose interval excludes 0.

    Args:
        rows: result rows.

    Returns:
        Markdown lines (a sentence when no cell has a baseline).
    """
    entries = study_lib.seed_summaries(rows)
    if not entries:
        return ["No cell without student mixup at T=4 finished, so no cell "
                "is compared over seeds."]
    lines = [
        table(["cell", "n", "last acc. %", "minus KD cell, points [95% CI]"],
              [[cell, e["n"], *statistics.format_entry(e)]
               for cell, e in entries.items()]), "",
        "Each cell minus the classic-KD cell (no student mixup, T=4) of the "
        "same teacher and student, on the same seed, with a two-sided 95% "
        "Student-t interval; * marks an interval that excludes 0."]
    if max(e["n"] for e in entries.values()) < 2:
        lines.append("One seed: no std and no interval (rerun with "
                     "`seeds=3` to add seeds).")
    return lines


def seed_observation(rows):
    """A sentence naming the cells that differ from their KD cell beyond
    their interval, or None.

    Args:
        rows: result rows.

    Returns:
        The sentence, or None when no cell has an interval.
    """
    entries = study_lib.seed_summaries(rows)
    marked = [f"{cell} ({100 * e['diff_mean']:+.2f} points)"
              for cell, e in entries.items() if e["excludes_zero"]]
    if not any(e["diff_ci95"] for c, e in entries.items()
               if c != e["baseline"]):
        return None
    if not marked:
        return ("No cell differs from its classic-KD cell beyond its 95% "
                "interval over seeds.")
    return ("Cells that differ from their classic-KD cell beyond their 95% "
            f"interval over seeds: {', '.join(marked)}.")
