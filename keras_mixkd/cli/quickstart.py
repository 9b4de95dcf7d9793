"""``mixkd quickstart``: the whole method in minutes, offline, on digits.

Trains a resnet14 teacher on scikit-learn's bundled digits, then a resnet8
student three ways (alone, classic KD at T=4, MixKD: partial mixup + MIXSTD)
and prints a table of clean test accuracy. Each run is a run folder under
``--output_dir`` (default ``runs/quickstart``), with ``results.md`` and
``results.json`` beside them.

    mixkd quickstart [--epochs=8] [--seed=0]
"""

import dataclasses
import json
import pathlib
import time

from keras_mixkd import training
from keras_mixkd.cli import flags

FLAGS_USED = tuple(n for n in flags.TRAINING if n not in (
    "dataset", "data_dir", "image_size"))
UNUSED_HINT = "the quick start fixes its own dataset, models and losses"

TEACHER = "resnet14"
STUDENT = "resnet8"
DEFAULT_EPOCHS = 8

#: The student runs: (run name, table label, distillation settings or None).
STUDENT_RUNS = (
    ("student", f"{STUDENT} alone", None),
    ("kd", f"{STUDENT} + KD (T=4)",
     {"loss": "kd", "temperature": 4.0, "mixing": "none"}),
    ("mixkd", f"{STUDENT} + MixKD (PMU + MIXSTD)",
     {"loss": "mixstd", "temperature": None, "mixing": "pmu"}),
)


def table(rows):
    """A Markdown table of (label, best, last) accuracies."""
    lines = ["| model | best test accuracy | last test accuracy |",
             "|---|---:|---:|"]
    for label, summary in rows:
        lines.append(f"| {label} | {100 * summary['best_accuracy']:.2f}% | "
                     f"{100 * summary['last_accuracy']:.2f}% |")
    return "\n".join(lines)


def run(config):
    """Trains the teacher and the three students of ``config``'s settings.

    Args:
        config: a `RunConfig` (its dataset, models and losses are set here;
            ``output_dir`` is the root folder of the runs).

    Returns:
        ``[(label, summary), ...]``, the teacher first.
    """
    root = pathlib.Path(config.output_dir)
    base = dataclasses.replace(config, dataset="digits", teacher=TEACHER,
                               student=STUDENT)
    teacher, summary = training.train_teacher(dataclasses.replace(
        base, model=TEACHER, output_dir=str(root / "teacher")))
    rows = [(f"teacher {TEACHER}", summary)]
    for run_name, label, settings in STUDENT_RUNS:
        run_config = dataclasses.replace(base, output_dir=str(root / run_name),
                                         **(settings or {}))
        if settings is None:
            _, summary = training.train_teacher(dataclasses.replace(
                run_config, model=STUDENT))
        else:
            _, summary = training.distill(run_config, teacher=teacher)
        rows.append((label, summary))
    return rows


def main():
    epochs = flags.FLAGS.epochs if flags.present("epochs") else DEFAULT_EPOCHS
    config = flags.run_config(
        dataset="digits", epochs=epochs,
        output_dir=flags.FLAGS.output_dir or "runs/quickstart")
    start = time.time()
    rows = run(config)
    root = pathlib.Path(config.output_dir)
    text = table(rows)
    wall = time.time() - start
    footer = (f"digits (bundled with scikit-learn), {config.epochs} epochs "
              f"per run, seed {config.seed}, {wall:.0f} s in all.")
    print(f"\n{text}\n\n{footer}")
    training.atomic_write_text(root / "results.md", f"{text}\n\n{footer}\n")
    training.atomic_write_text(root / "results.json", json.dumps(
        {"rows": [{"model": label, **summary} for label, summary in rows],
         "epochs": config.epochs, "seed": config.seed, "wall_time_s": wall},
        indent=2))
