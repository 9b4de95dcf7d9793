"""``mixkd quickstart``: the whole method in minutes, offline, on digits.

Trains a resnet14 teacher on scikit-learn's bundled digits, then a resnet8
student three ways (alone, classic KD at T=4, MixKD: partial mixup + MIXSTD)
and prints a table of clean test accuracy. Each run is a run folder under
``--output_dir`` (default ``runs/quickstart``), with ``results.md`` and
``results.json`` beside them.

    mixkd quickstart [--epochs=8] [--seed=0]
"""

import json
import pathlib
import time

from keras_mixkd.cli import common
from keras_mixkd.cli import distill
from keras_mixkd.cli import train_teacher
from keras_mixkd.cli.flags import FLAGS
from keras_mixkd.cli.flags import present
from keras_mixkd.cli.run_folder import atomic_write_text

TEACHER = "resnet14"
STUDENT = "resnet8"
DEFAULT_EPOCHS = 8

#: The student runs: (run name, table label, distillation flags or None).
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


def main():
    for name in ("dataset", "teacher", "student", "model", "teacher_weights"):
        if present(name):
            common.fail(f"quickstart fixes its own --{name}; drop it.")
    FLAGS.dataset = "digits"
    if not present("epochs"):
        FLAGS.epochs = DEFAULT_EPOCHS
    root = pathlib.Path(FLAGS.output_dir or "runs/quickstart")
    start = time.time()

    FLAGS.output_dir = str(root / "teacher")
    teacher, teacher_summary = train_teacher.train(TEACHER, 0.0)
    rows = [(f"teacher {TEACHER}", teacher_summary)]
    for run_name, label, flags in STUDENT_RUNS:
        FLAGS.output_dir = str(root / run_name)
        if flags is None:
            _, summary = train_teacher.train(STUDENT, 0.0)
        else:
            FLAGS.teacher, FLAGS.student = TEACHER, STUDENT
            for key, value in flags.items():
                FLAGS[key].value = value
            _, summary = distill.distill(lambda info: teacher, STUDENT)
        rows.append((label, summary))
    FLAGS.output_dir = str(root)

    text = table(rows)
    wall = time.time() - start
    footer = (f"digits (bundled with scikit-learn), {FLAGS.epochs} epochs per "
              f"run, seed {FLAGS.seed}, {wall:.0f} s in all.")
    print(f"\n{text}\n\n{footer}")
    atomic_write_text(root / "results.md", f"{text}\n\n{footer}\n")
    atomic_write_text(root / "results.json", json.dumps(
        {"rows": [{"model": label, **summary} for label, summary in rows],
         "epochs": FLAGS.epochs, "seed": FLAGS.seed, "wall_time_s": wall},
        indent=2))
