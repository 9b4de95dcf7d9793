"""Plot each method's difference to ``kd`` against optimizer steps.

RESULTS.md's schedule ladder: one ``mixkd compare`` folder per rung (the
same students, data and teacher, a longer schedule each), each method's
test accuracy minus ``kd``'s, paired by seed, with its two-sided 95%
Student-t interval (`keras_mixkd.experiments.statistics.summarize`),
against the rung's optimizer steps on a log scale. Everything comes from
each folder's ``results.csv`` and ``compare.json``; the script also prints
the figures as a Markdown table.

    python scripts/patience_figure.py results/fashion_mnist-1k-e60-teacher60k \\
        results/fashion_mnist-1k-e240-teacher60k --methods \\
        funmatch,kd_append_mixup,kd_append_cutmix --output results/patience.png
"""

import argparse
import json
import math
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from keras_mixkd.experiments.compare import results  # noqa: E402
from keras_mixkd.experiments.statistics import format_entry  # noqa: E402
from keras_mixkd.experiments.statistics import summarize  # noqa: E402


def rung(folder, baseline="kd"):
    """A folder's epochs, optimizer steps and paired summary.

    Steps are epochs times the batches of an epoch, ``ceil(train_size /
    batch_size)`` (one replica, the last batch kept, as the engine runs).
    """
    base = json.loads((folder / "compare.json").read_text())["base"]
    if not base.get("train_size"):
        raise ValueError(f"{folder}: the ladder needs --train_size (the "
                         "steps of an epoch are computed from it).")
    epochs = int(base["epochs"])
    steps = epochs * math.ceil(base["train_size"] / base["batch_size"])
    rows = results.read_results(folder / "results.csv")
    return epochs, steps, summarize(rows, baseline=baseline)


def table(rungs, methods, baseline="kd"):
    """The Markdown lines: one row per rung, one column per method."""
    header = ["rung", "epochs", "steps",
              *(f"{m} minus {baseline}, points [95% CI]" for m in methods)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for folder, (epochs, steps, summary) in rungs.items():
        cells = [folder.name, str(epochs), f"{steps:,}"]
        for method in methods:
            entry = summary["methods"].get(method)
            cells.append("not run" if entry is None
                         else format_entry(entry)[1])
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def plot(rungs, methods, path, baseline="kd"):
    """Writes the figure to ``path``: differences with their intervals."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.axhline(0.0, color="0.3", linewidth=1, label=baseline)
    ordered = sorted(rungs.values(), key=lambda r: r[1])
    for i, method in enumerate(methods):
        points = [(steps, summary["methods"][method]) for _, steps, summary
                  in ordered if summary["methods"].get(method, {}).get(
                      "diff_mean") is not None]
        # Side by side at each rung, so the intervals do not overlap.
        shift = 1.0 + 0.04 * (i - (len(methods) - 1) / 2)
        with_ci = [(steps * shift, e) for steps, e in points
                   if e["diff_ci95"]]
        line = ax.errorbar(
            [x for x, _ in with_ci],
            [100 * e["diff_mean"] for _, e in with_ci],
            yerr=[[100 * (e["diff_mean"] - e["diff_ci95"][0])
                   for _, e in with_ci],
                  [100 * (e["diff_ci95"][1] - e["diff_mean"])
                   for _, e in with_ci]],
            marker="o", capsize=3, label=method)
        # A rung with one shared seed has no interval: a hollow marker.
        alone = [(steps * shift, e) for steps, e in points
                 if not e["diff_ci95"]]
        if alone:
            ax.plot([x for x, _ in alone],
                    [100 * e["diff_mean"] for _, e in alone], "o",
                    markerfacecolor="none", color=line[0].get_color(),
                    label=f"{method} (1 seed, no interval)")
    ax.set_xscale("log")
    ax.set_xticks([steps for _, steps, _ in ordered])
    ax.set_xticklabels([f"{steps:,}\n({epochs} ep.)"
                        for epochs, steps, _ in ordered])
    ax.minorticks_off()
    ax.set_xlabel("optimizer steps (log scale)")
    ax.set_ylabel(f"test accuracy minus {baseline}, points (95% CI)")
    ax.set_title("Does mixup in distillation need a longer schedule?")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=pathlib.Path, nargs="+",
                        help="comparison folders, one per rung")
    parser.add_argument("--methods", required=True,
                        help="comma-separated methods to plot against kd")
    parser.add_argument("--baseline", default="kd")
    parser.add_argument("--output", type=pathlib.Path,
                        help="the PNG to write (none: the table only)")
    args = parser.parse_args()
    methods = args.methods.split(",")
    rungs = {f: rung(f, args.baseline) for f in args.folders}
    print("\n".join(table(rungs, methods, args.baseline)))
    if args.output:
        plot(rungs, methods, args.output, args.baseline)
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
