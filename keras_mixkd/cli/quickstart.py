"""``mixkd quickstart``: the whole method in minutes, offline, on digits.

Trains a resnet14 teacher on scikit-learn's bundled digits, then a resnet8
student three ways (alone, classic KD at T=4, MixKD: partial mixup + MIXSTD)
and prints a table of clean test accuracy. Each run is a run folder under
``--output_dir`` (default ``runs/quickstart``), with ``results.md`` and
``results.json`` beside them.

    mixkd quickstart [--epochs=8] [--seed=0]
"""

import dataclasses
import pathlib
import time

from keras_mixkd import data
from keras_mixkd.experiments import compare
from keras_mixkd import training
from keras_mixkd.cli import flag_docs
from keras_mixkd.cli import flags
from keras_mixkd.data import fashion_mnist
from keras_mixkd.settings import KD_TEMPERATURE
from keras_mixkd.training.run_folder import default_folder


TEACHER = "resnet14"
STUDENT = "resnet8"
DEFAULT_EPOCHS = 8

#: Teacher accuracy from which digits counts as saturated.
SATURATED = 0.97

#: The measurement the quick start points to (RESULTS.md has its figures).
COMPARE_COMMAND = ("mixkd compare --dataset=fashion_mnist --teacher=resnet20 "
                   "--student=resnet8 --train_size=5000 --epochs=15 --seeds=3")

#: What the measurements in RESULTS.md ("When does MixKD help?") lead the
#: package to recommend; the quick start ends with it.
RECOMMENDATION = (
    "What the package recommends from those measurements: classic KD "
    "(`mixkd distill --loss=kd --mixing=none`, T=4) for short schedules or "
    "a teacher that knows no more than the student's data; no setting of "
    "the paper's method (partial or full mixup, MIXSTD at any base "
    "temperature or KD weight) beat it with an interval that excludes 0 on "
    "Fashion-MNIST. For a long schedule with a teacher trained on more "
    "data than the student's, `mixkd distill --preset=patient` (classic "
    "KD with mixed images appended as extra teacher queries, 240 epochs) "
    "beat classic KD by +0.99 points [+0.29, +1.68] at 240 epochs and not "
    "at 60. The paper's recipe stays the default of `mixkd distill` "
    "because it is the paper's (RESULTS.md, \"When does MixKD help?\").")

#: The student runs: (run name, table label, distillation settings or None
#: for the student alone); the settings are the compare methods' own.
STUDENT_RUNS = (
    ("student", f"{STUDENT} alone", None),
    ("kd", f"{STUDENT} + KD (T={KD_TEMPERATURE:g})",
     compare.METHODS["kd"].settings),
    ("mixkd", f"{STUDENT} + MixKD (PMU + MIXSTD)",
     compare.METHODS["mixkd"].settings),
)


def table(rows):
    """A Markdown table of (label, best, last) accuracies."""
    lines = ["| model | best test accuracy | last test accuracy |",
             "|---|---:|---:|"]
    for label, summary in rows:
        lines.append(f"| {label} | {100 * summary['best_accuracy']:.2f}% | "
                     f"{100 * summary['last_accuracy']:.2f}% |")
    return "\n".join(lines)


def _late_gain(run_dir, epochs=2):
    """Test-accuracy gain over a run's last ``epochs`` epochs, or None
    (also when ``--validation_freq`` skipped the earlier epoch)."""
    accuracy = {int(row["epoch"]): row["val_accuracy"]
                for row in training.RunFiles(run_dir).metrics()
                if "val_accuracy" in row}
    last = max(accuracy, default=None)
    if last is None or last - epochs not in accuracy:
        return None
    return accuracy[last] - accuracy[last - epochs]


def reading(rows, run_dirs, num_test, epochs, fashion_folder):
    """What the quick start's table can and cannot show, from its numbers.

    Args:
        rows: `run`'s ``[(label, summary), ...]``, the teacher first.
        run_dirs: the students' run folders, in the order of ``rows[1:]``.
        num_test: the number of test images.
        epochs: epochs per run.
        fashion_folder: the local Fashion-MNIST folder, or None.

    Returns:
        A list of Markdown paragraphs.
    """
    teacher = rows[0][1]["last_accuracy"]
    last = [summary["last_accuracy"] for _, summary in rows[1:]]
    spread = max(last) - min(last)
    lines = [
        f"What this table can show: one seed, {num_test} test images, so one "
        f"image is {100 / num_test:.2f} points. The students' last "
        f"accuracies span {100 * spread:.2f} points "
        f"({round(spread * num_test)} test images), and the teacher makes "
        f"{round((1 - teacher) * num_test)} errors"
        + (": digits is nearly saturated" if teacher >= SATURATED else
           ", short of digits' ceiling: the runs are far from converged")
        + ". One seed on so few images cannot rank methods."]
    gains = [g for g in (_late_gain(d) for d in run_dirs) if g is not None]
    if gains:
        lines.append(
            f"After {epochs} epochs the students still gained "
            f"{100 * sum(gains) / len(gains):+.2f} points on average over "
            "their last two epochs: at this length the ranking reflects how "
            "fast each run converges (mixup slows early training), not what "
            "it converges to.")
    else:
        lines.append(f"With {epochs} epochs the ranking reflects how fast "
                     "each run converges (mixup slows early training), not "
                     "what it converges to.")
    lines.append(
        "For the method's effect, measured over seeds with confidence "
        "intervals on harder data, see RESULTS.md, or run "
        f"`{COMPARE_COMMAND}`.")
    if fashion_folder:
        lines.append(f"Fashion-MNIST's files are on this machine "
                     f"({fashion_folder}): that command runs offline.")
    else:
        lines.append("Fashion-MNIST is not on this machine: "
                     "`apt-get install dataset-fashion-mnist` (or "
                     "--data_dir=FOLDER with its four IDX files) first.")
    lines.append(RECOMMENDATION)
    return lines


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
        output_dir=flags.FLAGS.output_dir or default_folder("quickstart"))
    start = time.time()
    rows = run(config)
    root = pathlib.Path(config.output_dir)
    text = table(rows)
    wall = time.time() - start
    footer = (f"digits (bundled with scikit-learn), {config.epochs} epochs "
              f"per run, seed {config.seed}, {wall:.0f} s in all.")
    notes = "\n\n".join(reading(
        rows, [root / name for name, _, _ in STUDENT_RUNS],
        data.dataset_info(config.dataset).num_test, config.epochs,
        fashion_mnist.local_folder()))
    print(f"\n{text}\n\n{footer}\n\n{notes}")
    training.atomic_write_text(root / "results.md",
                               f"{text}\n\n{footer}\n\n{notes}\n")
    training.write_json(root / "results.json", {
        "rows": [{"model": label, **summary} for label, summary in rows],
        "epochs": config.epochs, "seed": config.seed, "wall_time_s": wall})
