"""Print RESULTS.md's "When does MixKD help?" table from comparison folders.

One column per ``mixkd compare`` folder (a regime: training-set size,
epochs, student, and the baseline's train/test gap), one row per method:
the method's test accuracy minus the baseline's, paired by seed, with a
two-sided 95% Student-t interval (`keras_mixkd.experiments.statistics.
summarize`; ``*`` marks an interval that excludes 0). Everything comes from
each folder's ``results.csv`` and ``compare.json``.

    python scripts/when_table.py results/fashion_mnist-5k-e15 \\
        results/fashion_mnist-1k-e60-regime --methods mixkd,mixstd
"""

import argparse
import json
import pathlib

from keras_mixkd.experiments.compare import results
from keras_mixkd.experiments.statistics import describe
from keras_mixkd.experiments.statistics import format_entry
from keras_mixkd.experiments.statistics import summarize

#: Shown where a folder did not run a method.
MISSING = "not run"


def regime(folder, rows, baseline):
    """A folder's column heading: its setting and the baseline's gap."""
    base = json.loads((folder / "compare.json").read_text())["base"]
    size = base.get("train_size")
    images = f"{size:,} images" if size else "all images"
    runs = [r for r in rows if r["method"] == baseline]
    gap = describe([r["gap"] for r in runs])["mean"]
    return (f"{images}, {base['epochs']} ep., {base['student']} "
            f"({baseline} gap {100 * gap:.1f})")


def table(folders, methods, baseline="kd"):
    """The Markdown lines of the table.

    Args:
        folders: comparison folders (each with ``results.csv`` and
            ``compare.json``).
        methods: the rows, in order.
        baseline: the method every other one is paired against.

    Returns:
        A list of Markdown lines.
    """
    headings, columns = [], []
    for folder in map(pathlib.Path, folders):
        rows = results.read_results(folder / "results.csv")
        headings.append(regime(folder, rows, baseline))
        columns.append(summarize(rows, baseline=baseline)["methods"])
    lines = ["| minus " + baseline + ", points [95% CI] | "
             + " | ".join(headings) + " |",
             "|" + "---|" * (1 + len(headings))]
    base_cells = [format_entry(c[baseline])[0] + " %" for c in columns]
    lines.append(f"| {baseline} (test acc.) | " + " | ".join(base_cells)
                 + " |")
    for method in methods:
        cells = [format_entry(c[method])[1] if method in c else MISSING
                 for c in columns]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=pathlib.Path, nargs="+",
                        help="comparison folders holding results.csv")
    parser.add_argument("--methods", required=True,
                        help="comma-separated methods (the rows)")
    parser.add_argument("--baseline", default="kd")
    args = parser.parse_args()
    print("\n".join(table(args.folders, args.methods.split(","),
                          args.baseline)))


if __name__ == "__main__":
    main()
