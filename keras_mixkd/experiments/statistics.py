"""Statistics over seeds: mean, sample std and paired differences with a
Student-t interval.

A comparison of training methods repeats each method with several seeds.
`summarize` reduces the per-run values (one row per method and seed) to what
a reviewer reads: per method the number of runs ``n``, the ``mean`` and the
sample standard deviation ``std`` (ddof 1), and the difference to a baseline
method *paired by seed* (seed ``s`` of a method minus seed ``s`` of the
baseline; seeds the two do not share are left out) with a two-sided
Student-t confidence interval on the mean difference:

```
d_s  = value(method, s) - value(baseline, s)      for the k shared seeds
mean = sum(d_s) / k,   sd = std(d, ddof=1)
ci   = mean -/+ t(0.975, k - 1) * sd / sqrt(k)
```

Pairing by seed removes what both runs of a seed share (the same data order,
initialisation and teacher), so it is more sensitive than comparing two
means. With one run (or one pair) the std and the interval are undefined and
are ``None`` (``null`` in JSON), never a made-up zero.

Example:

```python
rows = [{"method": "kd", "seed": 0, "test_accuracy": 0.90},
        {"method": "kd", "seed": 1, "test_accuracy": 0.91},
        {"method": "mixkd", "seed": 0, "test_accuracy": 0.92},
        {"method": "mixkd", "seed": 1, "test_accuracy": 0.92}]
summary = summarize(rows, baseline="kd")
summary["methods"]["mixkd"]["diff_mean"]  # 0.015
```
"""

import math

import numpy as np

#: Confidence level of the intervals.
CONFIDENCE = 0.95


def describe(values):
    """Count, mean and sample standard deviation of some values.

    Args:
        values: numbers (one per run).

    Returns:
        A dict ``{"n", "mean", "std"}``: ``std`` uses ddof 1 and is None
        for fewer than two values; ``mean`` is None for none.

    Example:

    >>> describe([0.90, 0.92])  # {'n': 2, 'mean': 0.91, 'std': 0.0141...}
    """
    values = np.asarray(list(values), dtype="float64")
    n = int(values.size)
    return {"n": n, "mean": float(values.mean()) if n else None,
            "std": float(values.std(ddof=1)) if n > 1 else None}


def t_interval(differences, confidence=CONFIDENCE):
    """Two-sided Student-t interval of the mean of some differences.

    Args:
        differences: paired differences (at least two for an interval).
        confidence: the interval's confidence level.

    Returns:
        ``[low, high]``, or None for fewer than two differences.

    Example:

    >>> t_interval([0.01, 0.02, 0.015])  # about [0.0026, 0.0274]
    """
    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must be in (0, 1), got {confidence}.")
    from scipy import stats

    d = np.asarray(list(differences), dtype="float64")
    if d.size < 2:
        return None
    half = (stats.t.ppf(0.5 + confidence / 2, d.size - 1)
            * d.std(ddof=1) / math.sqrt(d.size))
    return [float(d.mean() - half), float(d.mean() + half)]


def excludes_zero(interval):
    """Whether an interval lies entirely above or below 0 (False for None
    or a degenerate ``[0, 0]``)."""
    return interval is not None and (interval[0] > 0 or interval[1] < 0)


def paired_differences(values, baseline):
    """Differences ``values[k] - baseline[k]`` over the shared keys.

    Args:
        values: ``{seed: value}`` of one method.
        baseline: ``{seed: value}`` of the baseline.

    Returns:
        ``{seed: difference}`` for the seeds both hold, in sorted order.
    """
    return {k: float(values[k]) - float(baseline[k])
            for k in sorted(set(values) & set(baseline))}


def _by_group(rows, group, pair, value):
    """``{group: {pair: value}}``, refusing a repeated (group, pair)."""
    table = {}
    for row in rows:
        if row.get(value) is None:
            continue
        runs = table.setdefault(row[group], {})
        if row[pair] in runs:
            raise ValueError(
                f"Two rows share {group}={row[group]!r} and "
                f"{pair}={row[pair]!r}; each {pair} may appear once per "
                f"{group}.")
        runs[row[pair]] = float(row[value])
    return table


def summarize(rows, baseline, value="test_accuracy", group="method",
              pair="seed", confidence=CONFIDENCE):
    """Per-group statistics and paired differences to a baseline group.

    Args:
        rows: dicts, one per run, holding ``group``, ``pair`` and ``value``
            (rows whose value is missing are ignored).
        baseline: the baseline's ``group`` value; it must have rows.
        value: the key of the measured number.
        group: the key naming the method (or cell).
        pair: the key the differences are paired by.
        confidence: the intervals' confidence level.

    Returns:
        ``{"baseline": baseline, "methods": {name: entry}}``, the groups in
        the order of their first row. Each entry holds ``n``, ``mean``,
        ``std`` (`describe`), ``diff_mean`` and ``diff_ci95`` (the paired
        mean difference and its `t_interval`; the baseline's are 0 and
        ``[0, 0]``; None where undefined), ``n_pairs`` (shared seeds),
        ``diff_std`` and ``excludes_zero`` (the interval lies off 0).

    Example:

    >>> summarize(read_rows("results.csv"), baseline="kd")
    """
    table = _by_group(rows, group, pair, value)
    if baseline not in table:
        raise ValueError(
            f"The baseline {baseline!r} has no {value} in the rows (groups: "
            f"{', '.join(map(str, table)) or 'none'}).")
    methods = {}
    for name, runs in table.items():
        entry = describe(runs.values())
        if name == baseline:
            entry.update(n_pairs=entry["n"], diff_mean=0.0,
                         diff_ci95=[0.0, 0.0],
                         diff_std=0.0 if entry["n"] > 1 else None,
                         excludes_zero=False)
        else:
            diffs = list(paired_differences(runs, table[baseline]).values())
            spread = describe(diffs)
            interval = t_interval(diffs, confidence)
            entry.update(n_pairs=spread["n"], diff_mean=spread["mean"],
                         diff_ci95=interval, diff_std=spread["std"],
                         excludes_zero=excludes_zero(interval))
        methods[name] = entry
    return {"baseline": baseline, "confidence": confidence,
            "methods": methods}


def format_entry(entry, scale=100.0, digits=2):
    """An entry of `summarize` as Markdown cells: mean ± std, difference.

    Args:
        entry: one ``summary["methods"][name]``.
        scale: multiplies the values (100: fractions in percent, points).
        digits: decimals.

    Returns:
        ``(mean_text, difference_text)``: ``"90.12 ± 0.21"`` (no ``±`` part
        for one run) and ``"+0.52 [+0.10, +0.94] *"`` (the interval, marked
        ``*`` when it excludes 0; ``"+0.52 (1 pair, no interval)"`` or
        ``"no shared seeds"`` where it is undefined).

    Example:

    >>> format_entry(summary["methods"]["mixkd"])  # ('91.02 ± 0.30', ...)
    """
    def signed(value):
        return f"{scale * value:+.{digits}f}"

    mean = ("" if entry["mean"] is None
            else f"{scale * entry['mean']:.{digits}f}")
    if entry["std"] is not None:
        mean += f" ± {scale * entry['std']:.{digits}f}"
    if entry["diff_mean"] is None:
        return mean, "no shared seeds"
    interval = entry["diff_ci95"]
    if interval is None:
        pairs = entry.get("n_pairs", 1)
        return mean, (f"{signed(entry['diff_mean'])} ({pairs} pair"
                      f"{'s' if pairs != 1 else ''}, no interval)")
    text = (f"{signed(entry['diff_mean'])} [{signed(interval[0])}, "
            f"{signed(interval[1])}]")
    return mean, text + (" *" if excludes_zero(interval) else "")
