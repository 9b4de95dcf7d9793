"""The tables, statistics and report of a comparison folder.

`write` gathers the ``result.json`` of the (method, seed) runs the folder's
``compare.json`` asks for into ``results.csv`` (floats written in full, as
``repr``), reads that file back and computes ``summary.json`` from the values
as written (`keras_mixkd.statistics.summarize`), then writes ``summary.md``
and ``comparison.png``. ``mixkd compare`` calls it after its runs, and
``mixkd report DIR`` on a comparison folder.

Example:

```python
summary = write("runs/compare-fashion_mnist")
summary["methods"]["mixkd"]["diff_ci95"]
```
"""

import json
import pathlib

from keras_mixkd import statistics
from keras_mixkd import tables
from keras_mixkd.analysis import plots
from keras_mixkd.markdown import number
from keras_mixkd.markdown import percent
from keras_mixkd.markdown import table
from keras_mixkd.training.atomic import atomic_write_text

#: Columns of ``results.csv``, one row per student run.
RESULT_COLUMNS = ("method", "seed", "test_accuracy", "best_accuracy",
                  "train_accuracy", "gap", "epochs", "wall_s", "ece", "nll")


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


def _read_json(path):
    path = pathlib.Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def _mean_of(rows, key):
    return statistics.describe(r[key] for r in rows
                               if r.get(key) is not None)


def summarize_rows(rows, baseline, methods):
    """`keras_mixkd.statistics.summarize` of test accuracy, with each
    method's description and the means of the other columns added
    (``<column>_mean``, ``gap_std``)."""
    from keras_mixkd.compare import METHODS

    summary = statistics.summarize(rows, baseline, value="test_accuracy")
    summary["value"] = "test_accuracy"
    for name, entry in summary["methods"].items():
        own = [r for r in rows if r["method"] == name]
        for key in ("best_accuracy", "train_accuracy", "gap", "ece", "nll",
                    "wall_s"):
            entry[f"{key}_mean"] = _mean_of(own, key)["mean"]
        entry["gap_std"] = _mean_of(own, "gap")["std"]
        entry["seeds"] = sorted(r["seed"] for r in own)
        if name in METHODS:
            entry["description"] = METHODS[name].description
    summary["methods"] = {m: summary["methods"][m] for m in methods
                          if m in summary["methods"]}
    return summary


def _teacher_line(teacher, base):
    if not teacher:
        return f"Teacher {base.get('teacher')}: not evaluated yet."
    source = (f"weights {teacher['weights']}" if teacher.get("weights")
              else f"epochs {base.get('teacher_epochs')}")
    return (f"Teacher {teacher['teacher']} ({source}): test accuracy "
            f"{percent(teacher.get('test_accuracy'))}% (best "
            f"{percent(teacher.get('best_accuracy'))}%), clean training "
            f"accuracy {percent(teacher.get('train_accuracy'))}%, ECE "
            f"{percent(teacher.get('ece'))}% (written to teacher.json).")


def _table_rows(summary):
    rows = []
    for name, entry in summary["methods"].items():
        mean, diff = statistics.format_entry(entry)
        gap = statistics.format_entry(
            {"mean": entry["gap_mean"], "std": entry["gap_std"],
             "diff_mean": None})[0]
        rows.append([name, entry["n"], mean, diff,
                     percent(entry["train_accuracy_mean"]), gap,
                     percent(entry["ece_mean"]), number(entry["nll_mean"]),
                     percent(entry["best_accuracy_mean"])])
    return rows


def _notes(summary, baseline):
    entries = summary["methods"]
    single = [m for m, e in entries.items() if e["n"] == 1]
    fewer = [f"{m} ({e['n_pairs']} pairs of {e['n']} runs)"
             for m, e in entries.items() if m != baseline
             and e["n_pairs"] < e["n"]]
    notes = [
        "Test accuracy is the clean test-set accuracy of the last epoch, "
        "mean ± sample std (ddof 1) over seeds. The difference is each "
        f"method minus {baseline} on the same seed (same teacher, data order "
        "and initialisation), in points, with a two-sided 95% Student-t "
        "interval over the paired seeds; * marks an interval that excludes "
        "0. The values are those of results.csv, as written.",
        "Train accuracy is the final student's accuracy on the clean "
        "(un-augmented, unmixed) training set; the gap is train minus test, "
        "in points.",
        "ECE and NLL are computed on the probabilities each student was "
        "trained to produce: softmax(logits / std(logits)) for the MIXSTD "
        "loss (mixkd, mixkd_exact, mixstd), softmax(logits) otherwise."]
    if single:
        notes.append(f"{', '.join(single)}: one run, so the std and the "
                     "interval are undefined (null in summary.json).")
    if fewer:
        notes.append("Paired on the seeds shared with the baseline only: "
                     f"{'; '.join(fewer)}.")
    return notes


def write_markdown(root, summary, request):
    """Writes ``summary.md`` of a comparison; returns its path."""
    base, baseline = request["base"], request["baseline"]
    teacher = _read_json(root / "teacher.json")
    seeds = request["seeds"]
    text = [
        f"# Student methods compared on {base.get('dataset')}", "",
        f"Student {base.get('student')}, epochs {base.get('epochs')}, batch "
        f"{base.get('batch_size')}, seeds {seeds[0]}..{seeds[-1]}"
        + (f", training subset {base['train_size']} images"
           if base.get("train_size") else "") + ".",
        _teacher_line(teacher, base), "",
        table(["method", "n", "test acc. %", f"minus {baseline}, points "
               "[95% CI]", "train acc. %", "gap, points", "ECE %", "NLL",
               "best acc. %"], _table_rows(summary)), ""]
    text += [f"- {note}" for note in _notes(summary, baseline)]
    text += ["", "![comparison](comparison.png)", "", "## Methods", ""]
    text += [f"- `{m}`: {e.get('description', '')}"
             for m, e in summary["methods"].items()]
    missing = [f"{m} seed {s}" for m in request["methods"] for s in seeds
               if s not in summary["methods"].get(m, {}).get("seeds", ())]
    if missing:
        text += ["", f"Unfinished runs: {', '.join(missing)}."]
    path = root / "summary.md"
    atomic_write_text(path, "\n".join(text) + "\n")
    return path


def write(root):
    """Writes results.csv, summary.json, summary.md and comparison.png.

    Args:
        root: the comparison folder (with its ``compare.json``).

    Returns:
        The summary (``summary.json``'s content).

    Raises:
        ValueError: when the folder is not a comparison or the baseline has
            no finished run yet.
    """
    root = pathlib.Path(root)
    request = _read_json(root / "compare.json")
    if request is None:
        raise ValueError(f"{root} is not a comparison folder: it has no "
                         "compare.json (run 'mixkd compare' first).")
    rows = [_read_json(root / "runs" / m / f"seed-{s}" / "result.json")
            for m in request["methods"] for s in request["seeds"]]
    write_results(root / "results.csv", [r for r in rows if r])
    rows = read_results(root / "results.csv")
    summary = summarize_rows(rows, request["baseline"], request["methods"])
    atomic_write_text(root / "summary.json",
                      json.dumps(summary, indent=2, allow_nan=False))
    write_markdown(root, summary, request)
    base = request["base"]
    plots.plot_method_comparison(
        summary, root / "comparison.png",
        f"{base.get('teacher')} -> {base.get('student')} on "
        f"{base.get('dataset')}, epochs {base.get('epochs')}")
    return summary
