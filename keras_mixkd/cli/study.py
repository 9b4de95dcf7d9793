"""``mixkd study``: the paper's grid as real distillation runs.

Crosses a teacher trained with or without mixup, a student distilled with or
without mixup (``--mixing``: fmu by default, or pmu) and the temperature (1,
4, or ``std``: the std-scaled MIXSTD loss), for one or more teacher and
student architectures. Each teacher is trained once per (architecture,
mixup) and shared by its cells. The study folder (`keras_mixkd.study`)
gathers ``results.csv``, ``teachers.csv``, heatmaps and ``report.md``; run
the same command again to resume an interrupted study: finished teachers and
cells are skipped, and a cell stopped mid-training resumes from its backup.

    mixkd study --dataset=cifar100 --teachers=resnet32x4 --students=resnet8x4
    mixkd study --quick    # digits, resnet14 -> resnet8: ~10 minutes on a CPU
"""

import os
import pathlib
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

from keras_mixkd import analysis
from keras_mixkd import study as study_lib
from keras_mixkd.cli import common
from keras_mixkd.cli import distill
from keras_mixkd.cli import study_report
from keras_mixkd.cli import train_teacher
from keras_mixkd.cli.flags import FLAGS
from keras_mixkd.cli.flags import present
from keras_mixkd.cli.flags import values

#: What ``--quick`` sets, unless given on the command line.
QUICK = {"dataset": "digits", "teachers": ["resnet14"],
         "students": ["resnet8"], "epochs": 8}

flags.DEFINE_list("teachers", ["resnet32x4"], "study: teacher architectures.")
flags.DEFINE_list("students", ["resnet8x4"], "study: student architectures.")
flags.DEFINE_list("teacher_mixup", ["no", "yes"],
                  "study: teachers trained without (no) and/or with (yes) "
                  "mixup.")
flags.DEFINE_list("student_mixup", ["no", "yes"],
                  "study: students distilled without (no) and/or with (yes) "
                  "mixup; --mixing picks fmu (default) or pmu.")
flags.DEFINE_list("temperatures", ["1", "4", "std"],
                  "study: KD temperatures; 'std' divides each network's "
                  "logits by their std (--loss=mixstd).")
flags.DEFINE_float("teacher_mixup_alpha", 1.0,
                   "study: Beta(a, a) of the mixup teachers' full mixup.")
flags.DEFINE_bool("quick", False,
                  "study: a small grid on digits (resnet14 -> resnet8, "
                  f"{QUICK['epochs']} epochs), about 10 minutes on a 2-core "
                  "CPU; flags given explicitly override it.")

#: Flags the study sets itself, for each run.
FIXED = ("model", "teacher", "student", "teacher_weights", "weights", "loss",
         "temperature", "preset", "mixup_alpha")

#: Settings recorded in ``study.json`` besides the axes.
SETTINGS = tuple(n for n in common.TRAINING_FLAGS if n != "dataset") + (
    "beta_alpha", "mix_fraction", "mix_sampling", "ce_weight", "kd_weight",
    "teacher_mixup_alpha")

_CHECKPOINT = pathlib.Path("checkpoints") / "last.keras"


def grid_from_flags():
    """The `keras_mixkd.study.StudyGrid` of the flags (failing at once on
    bad ones)."""
    for name in FIXED:
        if present(name):
            common.fail(
                f"mixkd study sets --{name} itself for each run; drop it and "
                "choose the grid with --teachers, --students, --teacher_mixup"
                ", --student_mixup and --temperatures.")
    if FLAGS.quick:
        if present("dataset") and FLAGS.dataset != "digits":
            common.fail("--quick runs on digits; drop --dataset or --quick.")
        for name, value in QUICK.items():
            if not present(name):
                FLAGS[name].value = value
    if not present("mixing"):
        FLAGS.mixing = "fmu"
    if FLAGS.mixing not in ("fmu", "pmu"):
        common.fail(f"--mixing={FLAGS.mixing}: a study mixes its "
                    "student-mixup cells with fmu or pmu; students without "
                    "mixup come from --student_mixup=no.")
    for flag in ("teachers", "students"):
        for name in FLAGS[flag].value or []:
            common.check_model_name(name, flag)
    if FLAGS.teacher_mixup_alpha <= 0:
        common.fail("--teacher_mixup_alpha must be > 0, got "
                    f"{FLAGS.teacher_mixup_alpha}.")
    FLAGS.loss, FLAGS.temperature = "mixstd", None
    distill.check_options()
    try:
        return study_lib.StudyGrid(
            FLAGS.dataset, FLAGS.teachers or (), FLAGS.students or (),
            FLAGS.teacher_mixup or (), FLAGS.student_mixup or (),
            FLAGS.temperatures or (), FLAGS.mixing, values(SETTINGS))
    except ValueError as e:
        common.fail(str(e))


class _Evaluator:
    """Test-set analysis of finished runs (the test data loaded once)."""

    def __init__(self):
        self._test_ds = None

    def __call__(self, model, path, save_logits=False):
        if self._test_ds is None:
            strategy = tf.distribute.get_strategy()
            _, self._test_ds, *_ = common.load_data(strategy)
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel("ERROR")  # predict_on_batch retracing warnings
        try:
            logits, labels = analysis.collect_logits(model, self._test_ds,
                                                     return_labels=True)
        finally:
            logger.setLevel(level)
        if save_logits:
            np.save(path / "test_logits.npy", logits.astype("float32"))
        measured = study_lib.evaluate_logits(logits, labels)
        study_lib.write_json(path / "analysis.json", measured)
        return measured


def _guarded(what, function, *args):
    """Runs a training function, naming the run in its usage errors."""
    try:
        return function(*args)
    except app.UsageError as e:
        raise app.UsageError(f"{what}: {e}") from e


def _load(path):
    return keras.saving.load_model(path / _CHECKPOINT, compile=False)


def ensure_teacher(study, spec, evaluate):
    """Trains (or resumes) a teacher unless done; evaluates it.

    Returns:
        Whether anything was trained or evaluated.
    """
    status, path = study.status(spec), study.path(spec)
    if status == "done":
        return False
    if status == "pending":
        print(f"\n== teacher {spec.name}")
        FLAGS.output_dir, FLAGS.model = str(path), spec.arch
        FLAGS.mixup_alpha = FLAGS.teacher_mixup_alpha if spec.mixup else 0.0
        model, _ = _guarded(f"teacher {spec.name}", train_teacher.train,
                            spec.arch, FLAGS.mixup_alpha)
    else:
        model = _load(path)
    evaluate(model, path, save_logits=True)
    return True


def ensure_cell(study, cell, evaluate):
    """Distils (or resumes) one cell unless done; evaluates its student.

    Returns:
        Whether anything was trained or evaluated.
    """
    status, path = study.status(cell), study.path(cell)
    if status == "done":
        return False
    if status == "pending":
        print(f"\n== cell {cell.name}")
        teacher_dir = study.path(cell.teacher)
        FLAGS.output_dir = str(path)
        FLAGS.teacher, FLAGS.student = cell.teacher.arch, cell.student
        # Relative to the cell folder, so a moved study still resumes.
        FLAGS.teacher_weights = os.path.relpath(teacher_dir / _CHECKPOINT,
                                                path)
        for name, value in cell.distill_flags().items():
            FLAGS[name].value = value
        model, _ = _guarded(f"cell {cell.name}", distill.distill,
                            lambda info: _load(teacher_dir), cell.student)
    else:
        model = _load(path)
    evaluate(model, path)
    return True


def run_study(study):
    """Trains and evaluates every unfinished run of a study, in grid order.

    Args:
        study: the `keras_mixkd.study.Study`.

    Returns:
        ``(runs_done_now, runs_skipped)``.
    """
    evaluate = _Evaluator()
    done = skipped = 0
    for spec in study.grid.teacher_specs():
        ran = [ensure_teacher(study, spec, evaluate)]
        ran += [ensure_cell(study, cell, evaluate)
                for cell in study.grid.cells(spec)]
        done, skipped = done + sum(ran), skipped + ran.count(False)
    return done, skipped


def main():
    """Runs the study of the flags, then writes its tables and report."""
    grid = grid_from_flags()
    root = FLAGS.output_dir or os.path.join("runs", f"study-{grid.dataset}")
    try:
        study = study_lib.Study(root, grid)
    except ValueError as e:
        common.fail(str(e))
    start = time.time()
    done, skipped = run_study(study)
    FLAGS.output_dir = root
    path = study_report.write(root)  # also results.csv, teachers.csv
    rows, teacher_rows = study.result_rows(), study.teacher_rows()
    print(f"\n{study_report.results_table(rows)}\n")
    for line in study_report.observations(rows, teacher_rows):
        print(f"- {line}")
    print(f"\n{done} runs trained or evaluated, {skipped} already finished; "
          f"{time.time() - start:.0f} s. Report: {path}")
