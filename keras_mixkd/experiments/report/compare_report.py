"""The report of a comparison folder: ``summary.md`` and ``comparison.png``.

`write` refreshes ``results.csv`` and ``summary.json``
(`keras_mixkd.experiments.compare.results.write`), then writes ``summary.md`` (per method
n, test accuracy mean ± std, the paired difference to the baseline with its
95% interval, marked ``*`` when it excludes 0, train accuracy, the train/test
gap and calibration; the teacher; notes) and ``comparison.png``
(`keras_mixkd.analysis.plot_method_comparison`). ``mixkd compare`` and
``mixkd report DIR`` call it.

Example:

```python
write("runs/compare-fashion_mnist")  # runs/compare-fashion_mnist/summary.md
```
"""

import pathlib

from keras_mixkd.experiments.compare import results as compare_results
from keras_mixkd.training.json_file import read_json
from keras_mixkd.experiments import statistics
from keras_mixkd.analysis import plots
from keras_mixkd.experiments.report.markdown import number
from keras_mixkd.experiments.report.markdown import percent
from keras_mixkd.experiments.report.markdown import table
from keras_mixkd.training.atomic import atomic_write_text


def _teacher_line(teacher, base):
    if not teacher:
        return f"Teacher {base.get('teacher')}: not evaluated yet."
    source = (f"weights {teacher['weights']}" if teacher.get("weights")
              else f"epochs {base.get('teacher_epochs')}")
    best = (f" (best {percent(teacher['best_accuracy'])}%)"
            if teacher.get("best_accuracy") is not None else "")
    return (f"Teacher {teacher['teacher']} ({source}): test accuracy "
            f"{percent(teacher.get('test_accuracy'))}%{best}, clean training "
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
                     percent(entry["ece_raw_mean"]),
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
        "ECE (15 bins) and NLL are computed on the test set with the "
        "probabilities each student was trained to produce "
        "(keras_mixkd.analysis.trained_probabilities): softmax(logits / "
        "std(logits)) for the MIXSTD loss (mixkd, mixkd_exact, mixstd and "
        "user-defined methods with loss=mixstd; softmax(logits / (tau * "
        "std(logits))) at a base temperature tau), "
        "softmax(logits) otherwise; raw ECE uses softmax(logits) for all. "
        "Means over seeds."]
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
    teacher = read_json(root / "teacher.json")
    seeds = request["seeds"]
    text = [
        f"# Student methods compared on {base.get('dataset')}", "",
        f"Student {base.get('student')}, epochs {base.get('epochs')}, batch "
        f"{base.get('batch_size')}, seeds {seeds[0]}..{seeds[-1]}"
        + (f", training subset {base['train_size']} images"
           if base.get("train_size") else "") + ".",
        _teacher_line(teacher, base), "",
        *[f"**{line}**\n" for line in summary.get("warnings", ())],
        table(["method", "n", "test acc. %", f"minus {baseline}, points "
               "[95% CI]", "train acc. %", "gap, points", "ECE %", "NLL",
               "raw ECE %", "best acc. %"], _table_rows(summary)), ""]
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
        The path of ``summary.md``.

    Raises:
        ValueError: when the folder is not a comparison or the baseline has
            no finished run yet.
    """
    root = pathlib.Path(root)
    summary = compare_results.write(root)
    request = compare_results.request_of(root)
    base = request["base"]
    plots.plot_method_comparison(
        summary, root / "comparison.png",
        f"{base.get('teacher')} -> {base.get('student')} on "
        f"{base.get('dataset')}, epochs {base.get('epochs')}")
    return write_markdown(root, summary, request)
