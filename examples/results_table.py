"""Collect the `summary.json` of many runs into a table of mean ± std.

Every `mixkd` run folder holds `config.json` (the resolved flags) and, once
finished, `summary.json` (best and last test accuracy). This script finds
them all under a directory, groups the distillation runs by teacher,
student and method (seeds pooled) and prints a Markdown table of the mean
and sample standard deviation over seeds of the best and the last epoch's
accuracy (the paper reports the last), in percent; then the teachers.

    python examples/results_table.py runs/paper [--output results.md]

`examples/reproduce_paper.sh` runs it as its last step.
"""

import argparse
import json
import math
import pathlib
import statistics


def method_name(config):
    """A short name of a distillation run's method, from its config.json."""
    loss, mixing = config.get("loss"), config.get("mixing")
    if config.get("preset") == "paper":
        return "MixKD (paper)"
    if loss == "kd" and mixing == "none":
        return f"KD (T={config.get('temperature') or 4.0:g})"
    if loss == "mixstd" and mixing == "pmu":
        return "MixKD"
    return f"{loss} + {mixing}"


def collect(root):
    """Every finished run under ``root``.

    Args:
        root: a directory searched recursively for ``summary.json`` files
            with a ``config.json`` beside them.

    Returns:
        A list of dicts: ``command``, ``teacher``, ``student`` (the model
        for a teacher run), ``method``, ``seed``, ``best``, ``last``
        (accuracy in [0, 1]) and ``path``, sorted by path.
    """
    runs = []
    for summary_file in sorted(pathlib.Path(root).rglob("summary.json")):
        config_file = summary_file.with_name("config.json")
        if not config_file.is_file():
            continue
        config = json.loads(config_file.read_text())
        summary = json.loads(summary_file.read_text())
        if summary.get("last_accuracy") is None:
            continue
        teacher_run = config.get("command") == "train-teacher"
        runs.append({
            "command": config.get("command"),
            "teacher": config.get("model" if teacher_run else "teacher"),
            "student": None if teacher_run else config.get("student"),
            "method": "teacher" if teacher_run else method_name(config),
            "seed": config.get("seed"),
            "best": summary["best_accuracy"],
            "last": summary["last_accuracy"],
            "path": str(summary_file.parent),
        })
    return runs


def mean_std(values):
    """Mean and sample standard deviation (NaN for a single value)."""
    values = [float(v) for v in values]
    std = statistics.stdev(values) if len(values) > 1 else math.nan
    return statistics.fmean(values), std


def summarize(runs):
    """Groups runs by (teacher, student, method), in order of appearance.

    Returns:
        A list of dicts: ``teacher``, ``student``, ``method``, ``seeds``
        (sorted), ``best`` and ``last`` as ``(mean, std)`` in percent.
    """
    groups = {}
    for run in runs:
        key = (run["teacher"], run["student"], run["method"])
        groups.setdefault(key, []).append(run)
    rows = []
    for (teacher, student, method), members in groups.items():
        rows.append({
            "teacher": teacher, "student": student, "method": method,
            "seeds": sorted(m["seed"] for m in members),
            "best": mean_std([100 * m["best"] for m in members]),
            "last": mean_std([100 * m["last"] for m in members]),
        })
    return rows


def _cell(mean, std):
    return f"{mean:.2f}" if math.isnan(std) else f"{mean:.2f} ± {std:.2f}"


def format_table(rows):
    """Markdown tables: distillation runs, then teachers."""
    lines = ["| teacher -> student | method | seeds | last (%) | best (%) |",
             "|---|---|---|---|---|"]
    teachers = ["", "| teacher | seeds | last (%) | best (%) |",
                "|---|---|---|---|"]
    for row in rows:
        cells = (f"{len(row['seeds'])} | {_cell(*row['last'])} | "
                 f"{_cell(*row['best'])} |")
        if row["method"] == "teacher":
            teachers.append(f"| {row['teacher']} | {cells}")
        else:
            lines.append(f"| {row['teacher']} -> {row['student']} | "
                         f"{row['method']} | {cells}")
    return "\n".join(lines + (teachers if len(teachers) > 3 else [])) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="Directory holding the run folders.")
    parser.add_argument("--output", default=None,
                        help="Also write the table to this file.")
    args = parser.parse_args(argv)
    runs = collect(args.root)
    if not runs:
        parser.error(f"no finished run (summary.json) under {args.root}.")
    table = format_table(summarize(runs))
    print(table, end="")
    if args.output:
        pathlib.Path(args.output).write_text(table)
    return table


if __name__ == "__main__":
    main()
