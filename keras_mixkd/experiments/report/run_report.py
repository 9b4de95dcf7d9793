"""The report of a run folder, or of a folder of run folders."""

import numpy as np

from keras_mixkd.analysis import plots
from keras_mixkd.experiments.report.markdown import number
from keras_mixkd.experiments.report.markdown import percent
from keras_mixkd.experiments.report.markdown import table
from keras_mixkd.experiments.report.markdown import write_markdown
from keras_mixkd.training.run_files import RunFiles

#: At most this many per-epoch rows in a run report (first, best, last kept).
MAX_EPOCH_ROWS = 40


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
    run = RunFiles(root)
    config = run.record() or {}
    summary = run.summary() or {}
    measured = run.analysis() or {}
    metrics = run.metrics()
    text = [f"# Run {root.name}", "",
            f"Command: `mixkd {config.get('command', '?')}`; "
            + ("finished." if summary
               else f"unfinished (no {RunFiles.SUMMARY})."),
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
        plots.plot_training_curves([(name, {c: (epochs, [m.get(c) for m in metrics])
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
        files = RunFiles(run)
        config = files.record() or {}
        summary = files.summary() or {}
        model = config.get("model") or " -> ".join(
            str(config.get(k)) for k in ("teacher", "student"))
        rows.append([run.name, config.get("command"), model,
                     config.get("loss", ""), config.get("mixing", ""),
                     config.get("temperature", ""), summary.get("epochs"),
                     percent(summary.get("best_accuracy")),
                     percent(summary.get("last_accuracy"))])
        metrics = files.metrics()
        if metrics:
            epochs = _epochs(metrics)
            accuracy[run.name] = (epochs, [m.get("val_accuracy")
                                           for m in metrics])
            loss[run.name] = (epochs, [m.get("val_loss") for m in metrics])
    text = [f"# Runs in {root.name}", "",
            table(["run", "command", "model", "loss", "mixing", "T", "epochs",
                   "best acc. %", "last acc. %"], rows), ""]
    if accuracy:
        plots.plot_training_curves([("Test accuracy", accuracy), ("Test loss", loss)],
                    root / "runs_curves.png", f"Runs in {root.name}")
        text += ["![test curves](runs_curves.png)", ""]
    text += ["Details of one run: `mixkd report <folder>/<run>`.", ""]
    return write_markdown(root, text)
