"""Print a Markdown table of paired differences from a comparison folder.

RESULTS.md reports each method of a ``mixkd compare`` folder against more
than one baseline (e.g. ``kd`` and ``mixstd``); this recomputes every such
table from the folder's ``results.csv`` alone, with
`keras_mixkd.experiments.statistics.summarize` (paired by seed, two-sided
95% Student-t interval; ``*`` marks an interval that excludes 0).

    python scripts/paired_table.py results/fashion_mnist-5k-e15-ablation \\
        --baselines kd,mixstd
"""

import argparse
import pathlib

from keras_mixkd.experiments.compare import results
from keras_mixkd.experiments.statistics import describe
from keras_mixkd.experiments.statistics import format_entry
from keras_mixkd.experiments.statistics import summarize


def table(rows, baselines):
    """The Markdown lines: one row per method, one column per baseline."""
    summaries = [summarize(rows, baseline=b) for b in baselines]
    header = ["method", "n", "test acc. %", "train acc. %", "gap, points",
              *(f"minus {b}, points [95% CI]" for b in baselines)]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for method, entry in summaries[0]["methods"].items():
        runs = [r for r in rows if r["method"] == method]
        train = describe([r["train_accuracy"] for r in runs])["mean"]
        gap = describe([r["gap"] for r in runs])
        gap_text = f"{100 * gap['mean']:.2f}" + (
            f" ± {100 * gap['std']:.2f}" if gap["std"] is not None else "")
        cells = [method, str(entry["n"]), format_entry(entry)[0],
                 f"{100 * train:.2f}", gap_text,
                 *(format_entry(s["methods"][method])[1] for s in summaries)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=pathlib.Path,
                        help="a comparison folder holding results.csv")
    parser.add_argument("--baselines", default="kd",
                        help="comma-separated methods to pair against")
    args = parser.parse_args()
    rows = results.read_results(args.folder / "results.csv")
    print("\n".join(table(rows, args.baselines.split(","))))


if __name__ == "__main__":
    main()
