"""The results of a comparison folder: ``results.csv`` and ``summary.json``.

`write` gathers the ``result.json`` of the (method, seed) runs the folder's
``compare.json`` asks for into ``results.csv`` (floats written in full, as
``repr``), reads that file back and computes ``summary.json`` from the values
as written (`keras_mixkd.experiments.statistics.summarize`), so that anyone can recompute
it from the CSV. `keras_mixkd.experiments.compare.compare` calls it after its runs;
`keras_mixkd.experiments.report.write_report` (``mixkd report DIR``) too, before writing
``summary.md`` and ``comparison.png``.

Example:

```python
summary = write("runs/compare-fashion_mnist")
summary["methods"]["mixkd"]["diff_ci95"]
```
"""

import pathlib

from keras_mixkd import data
from keras_mixkd.experiments import chance
from keras_mixkd.experiments import statistics
from keras_mixkd.experiments import tables
from keras_mixkd.training.json_file import read_json
from keras_mixkd.training.json_file import write_json

#: Columns of ``results.csv``, one row per student run.
RESULT_COLUMNS = ("method", "seed", "test_accuracy", "best_accuracy",
                  "train_accuracy", "gap", "epochs", "wall_s", "ece", "nll",
                  "ece_raw", "nll_raw")

#: Columns whose mean over seeds ``summary.json`` adds (``<column>_mean``).
MEAN_COLUMNS = ("best_accuracy", "train_accuracy", "gap", "ece", "nll",
                "ece_raw", "nll_raw", "wall_s")


def write_results(path, rows):
    """Writes result rows as ``results.csv``, floats in full (``repr``)."""
    tables.write_csv(path, rows, RESULT_COLUMNS)


def read_results(path):
    """Reads ``results.csv`` back: method as text, seed and epochs as
    integers, the rest as floats (None where empty)."""
    def integer(text):
        return int(float(text))

    return tables.read_csv(path, {"method": str, "seed": integer,
                                  "epochs": integer})


def summarize_rows(rows, baseline, methods, descriptions=None):
    """`keras_mixkd.experiments.statistics.summarize` of the test accuracy, in the order
    of ``methods``, each entry with the means of the other columns
    (``<column>_mean``, ``gap_std``), its ``seeds`` and its
    ``description``."""
    summary = statistics.summarize(rows, baseline, value="test_accuracy")
    summary["value"] = "test_accuracy"
    for name, entry in summary["methods"].items():
        own = [r for r in rows if r["method"] == name]
        for key in MEAN_COLUMNS:
            entry[f"{key}_mean"] = statistics.describe(
                r[key] for r in own if r.get(key) is not None)["mean"]
        entry["gap_std"] = statistics.describe(
            r["gap"] for r in own if r.get("gap") is not None)["std"]
        entry["seeds"] = sorted(r["seed"] for r in own)
        if descriptions and name in descriptions:
            entry["description"] = descriptions[name]
    summary["methods"] = {m: summary["methods"][m] for m in methods
                          if m in summary["methods"]}
    return summary


def request_of(root):
    """The ``compare.json`` of a comparison folder.

    Raises:
        ValueError: when ``root`` is not a comparison folder.
    """
    request = read_json(pathlib.Path(root) / "compare.json")
    if request is None:
        raise ValueError(f"{root} is not a comparison folder: it has no "
                         "compare.json (run 'mixkd compare' first).")
    return request


def write(root):
    """Writes ``results.csv`` and ``summary.json`` of a comparison folder.

    Args:
        root: the comparison folder (with its ``compare.json``).

    Returns:
        The summary (``summary.json``'s content).

    Raises:
        ValueError: when the folder is not a comparison or the baseline has
            no finished run yet.
    """
    root = pathlib.Path(root)
    request = request_of(root)
    rows = [read_json(root / "runs" / m / f"seed-{s}" / "result.json")
            for m in request["methods"] for s in request["seeds"]]
    write_results(root / "results.csv", [r for r in rows if r])
    summary = summarize_rows(read_results(root / "results.csv"),
                             request["baseline"], request["methods"],
                             request.get("descriptions"))
    flagged = chance_warnings(root, request, summary)
    if flagged:
        summary["warnings"] = flagged
    write_json(root / "summary.json", summary)
    return summary


def num_classes_of(root, request):
    """The comparison's number of classes: from ``teacher.json``, else from
    the dataset's name (None when neither tells)."""
    teacher = read_json(pathlib.Path(root) / "teacher.json") or {}
    if teacher.get("num_classes"):
        return int(teacher["num_classes"])
    base = request.get("base", {})
    try:
        return data.dataset_info(base.get("dataset"),
                                 data_dir=base.get("data_dir")).num_classes
    except Exception:  # an unknown or unreachable dataset: no warning
        return None


def chance_warnings(root, request, summary):
    """`keras_mixkd.experiments.chance.warnings` of a comparison: its
    teacher and each method's mean test accuracy."""
    teacher = read_json(pathlib.Path(root) / "teacher.json") or {}
    name = teacher.get("teacher", "")
    return chance.warnings(
        {name: teacher.get("test_accuracy")},
        {m: e.get("mean") for m, e in summary["methods"].items()},
        num_classes_of(root, request))
