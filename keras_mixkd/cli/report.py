"""``mixkd report``: one Markdown report of a run, a study or a folder of runs.

    mixkd report runs/study-digits        # a study of 'mixkd study'
    mixkd report runs/quickstart/kd       # one run folder
    mixkd report runs/quickstart          # a folder of run folders
    mixkd report runs/compare-digits      # a comparison of 'mixkd compare'

Writes ``report.md`` in the folder, with its figures (PNG) beside it: for a
run, its configuration, summary, per-epoch metrics and training curves; for a
study, the results, the accuracy heatmaps, the teachers' smoothness, the
students' calibration and observations computed from the numbers
(`keras_mixkd.cli.study_report`); for a comparison, its results.csv,
summary.json, summary.md and comparison.png (`keras_mixkd.compare_report`).
"""

import csv
import json
import pathlib

import numpy as np

from keras_mixkd import compare_report
from keras_mixkd.analysis import plots
from keras_mixkd.markdown import number
from keras_mixkd.markdown import percent
from keras_mixkd.markdown import table
from keras_mixkd.training import atomic_write_text

#: ``main`` receives the positional arguments (see `keras_mixkd.cli.main`).
TAKES_ARGUMENTS = True
FLAGS_USED = ()

#: At most this many per-epoch rows in a run report (first, best, last kept).
MAX_EPOCH_ROWS = 40


def plot_curves(panels, path, title):
    """Line plots, one panel per ``(ylabel, {label: (x, y)})``.

    Returns:
        The `matplotlib.figure.Figure` (also written to ``path``).
    """
    fig, axes = plots._figure(1, len(panels),
                              figsize=(5.5 * len(panels), 4.0))
    for ax, (ylabel, series) in zip(axes[0], panels):
        for label, (x, y) in series.items():
            ax.plot(x, y, marker="o" if len(x) < 30 else None, label=label)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        plots._label(ax, ylabel, "Epoch", ylabel)
    return plots._save(fig, path, title)


def _read_metrics(path):
    if not (path / "metrics.csv").is_file():
        return []
    with open(path / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(f)]


def _read_json(path):
    return json.loads(path.read_text()) if path.is_file() else {}


def write_markdown(root, lines):
    """Writes ``lines`` as ``<root>/report.md``; returns its path."""
    path = root / "report.md"
    atomic_write_text(path, "\n".join(lines))
    return path


def _epochs(metrics):
    return [int(m.get("epoch", i)) + 1 for i, m in enumerate(metrics)]


def _kept_rows(metrics):
    """Indices of the per-epoch rows shown: evenly spaced, best, last."""
    if len(metrics) <= MAX_EPOCH_ROWS:
        return list(range(len(metrics)))
    kept = np.linspace(0, len(metrics) - 1, MAX_EPOCH_ROWS - 1).astype(int)
    accuracies = [m.get("val_accuracy", -1.0) for m in metrics]
    return sorted(set(kept.tolist()) | {int(np.argmax(accuracies))})


def run_report(root):
    """Writes ``<root>/report.md`` of one run folder; returns its path."""
    config = _read_json(root / "config.json")
    summary = _read_json(root / "summary.json")
    measured = _read_json(root / "analysis.json")
    metrics = _read_metrics(root)
    text = [f"# Run {root.name}", "",
            f"Command: `mixkd {config.get('command', '?')}`; "
            + ("finished." if summary else "unfinished (no summary.json)."),
            "", "## Configuration", "",
            table(["setting", "value"], sorted(config.items())), ""]
    if summary:
        text += ["## Summary", "", table(["measure", "value"], [
            [k, percent(v) + " %" if "accuracy" in k and v is not None else v]
            for k, v in summary.items()]), ""]
    if measured:
        text += ["## Test-set smoothness and calibration", "",
                 table(["measure", "value"],
                       [[k, number(v, 4)] for k, v in measured.items()]), ""]
    if metrics:
        epochs = _epochs(metrics)
        columns = list(metrics[0])
        losses = [c for c in columns if "loss" in c]
        accuracies = [c for c in columns if "accuracy" in c]
        plot_curves([(name, {c: (epochs, [m.get(c) for m in metrics])
                             for c in group})
                     for name, group in (("Accuracy", accuracies),
                                         ("Loss", losses)) if group],
                    root / "training_curves.png", f"Run {root.name}")
        columns = [c for c in columns if c != "epoch"]
        text += ["## Training curves", "",
                 "![training curves](training_curves.png)", "",
                 "## Per-epoch metrics", "",
                 table(["epoch", *columns],
                       [[epochs[i], *(number(metrics[i].get(c), 4)
                                      for c in columns)]
                        for i in _kept_rows(metrics)]), ""]
    return write_markdown(root, text)


def folder_report(root, runs):
    """Writes ``<root>/report.md`` of a folder of run folders."""
    rows, accuracy, loss = [], {}, {}
    for run in runs:
        config, summary = (_read_json(run / "config.json"),
                           _read_json(run / "summary.json"))
        model = config.get("model") or " -> ".join(
            str(config.get(k)) for k in ("teacher", "student"))
        rows.append([run.name, config.get("command"), model,
                     config.get("loss", ""), config.get("mixing", ""),
                     config.get("temperature", ""), summary.get("epochs"),
                     percent(summary.get("best_accuracy")),
                     percent(summary.get("last_accuracy"))])
        metrics = _read_metrics(run)
        if metrics:
            epochs = _epochs(metrics)
            accuracy[run.name] = (epochs, [m.get("val_accuracy")
                                           for m in metrics])
            loss[run.name] = (epochs, [m.get("val_loss") for m in metrics])
    text = [f"# Runs in {root.name}", "",
            table(["run", "command", "model", "loss", "mixing", "T", "epochs",
                   "best acc. %", "last acc. %"], rows), ""]
    if accuracy:
        plot_curves([("Test accuracy", accuracy), ("Test loss", loss)],
                    root / "runs_curves.png", f"Runs in {root.name}")
        text += ["![test curves](runs_curves.png)", ""]
    text += ["Details of one run: `mixkd report <folder>/<run>`.", ""]
    return write_markdown(root, text)


def write_report(path):
    """Writes ``report.md`` for a study, a run, or a folder of runs; for a
    comparison folder (``mixkd compare``) its ``summary.md`` and the files
    beside it (`keras_mixkd.compare_report.write`).

    Args:
        path: the folder.

    Returns:
        The path of ``report.md``.

    Raises:
        ValueError: when the folder holds none of these.

    Example:

    >>> write_report("runs/quickstart")
    """
    root = pathlib.Path(path)
    if (root / "compare.json").is_file():
        compare_report.write(root)
        return root / "summary.md"
    if (root / "study.json").is_file():
        from keras_mixkd.cli import study_report  # it builds on this module

        return study_report.write(root)
    if (root / "config.json").is_file():
        return run_report(root)
    runs = sorted((p for p in root.glob("*/config.json")),
                  key=lambda p: p.stat().st_mtime)
    if runs:
        return folder_report(root, [p.parent for p in runs])
    raise ValueError(
        f"{root} holds no run: expected a comparison folder (compare.json), "
        "a study folder (study.json), a run "
        "folder (config.json) or a folder of run folders, as written by "
        "'mixkd study', 'mixkd train-teacher' / 'mixkd distill' or "
        "'mixkd quickstart'.")


def main(args):
    if len(args) != 1:
        raise ValueError("Give one folder: mixkd report RUN_OR_STUDY_DIR.")
    if not pathlib.Path(args[0]).is_dir():
        raise ValueError(f"No folder at {args[0]}.")
    path = write_report(args[0])
    print(f"Wrote {path}")
