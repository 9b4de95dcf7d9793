"""``mixkd study``: the paper's grid as real distillation runs.

Crosses a teacher trained with or without mixup, a student distilled with or
without mixup (``--mixing``: fmu by default, or pmu) and the temperature (1,
4, or ``std``: the std-scaled MIXSTD loss), for one or more teacher and
student architectures. Each teacher is trained once per (architecture,
mixup) and shared by its cells. The study folder (`keras_mixkd.experiments.study`)
gathers ``results.csv``, ``teachers.csv``, heatmaps and ``report.md``; run
the same command again to resume an interrupted study: finished teachers and
cells are skipped, and a cell stopped mid-training resumes from its backup.

    mixkd study --dataset=cifar100 --teachers=resnet32x4 --students=resnet8x4
    mixkd study --quick    # digits, resnet14 -> resnet8: ~10 minutes on a CPU
"""

import time

from absl import flags as absl_flags

from keras_mixkd.experiments import study as study_lib
from keras_mixkd import training
from keras_mixkd.cli import flag_docs
from keras_mixkd.cli import flag_terms
from keras_mixkd.cli import flags
from keras_mixkd.experiments.report import study_report
from keras_mixkd.training.engine import check_model_name
from keras_mixkd.training.run_folder import default_folder

FLAGS = flags.FLAGS

#: What ``--quick`` sets, unless given on the command line.
QUICK = {"dataset": "digits", "teachers": ["resnet14"],
         "students": ["resnet8"], "epochs": 8}

_help = flag_docs.help_of
absl_flags.DEFINE_list("teachers", ["resnet32x4"], _help("teachers"))
absl_flags.DEFINE_list("students", ["resnet8x4"], _help("students"))
absl_flags.DEFINE_list("teacher_mixup", ["no", "yes"], _help("teacher_mixup"))
absl_flags.DEFINE_list("student_mixup", ["no", "yes"], _help("student_mixup"))
absl_flags.DEFINE_list("temperatures", ["1", "4", "std"],
                       _help("temperatures"))
absl_flags.DEFINE_float("teacher_mixup_alpha", 1.0,
                        _help("teacher_mixup_alpha"))
absl_flags.DEFINE_bool("quick", False, _help("quick"))

#: The grid's own flags.
GRID_FLAGS = flag_docs.GRID


#: Settings recorded in ``study.json`` besides the axes.
SETTINGS = tuple(n for n in training.config.TRAINING_KEYS
                 if n != "dataset") + (
    "mixup_alpha", "mix_fraction", "mix_sampling", "ce_weight", "kd_weight")

def config_from_flags():
    """The `RunConfig` shared by the study's runs, and its `StudyGrid`.

    Raises:
        ValueError: on a bad flag, before anything runs.
    """
    overrides, grid_values = {}, {n: FLAGS[n].value for n in GRID_FLAGS}
    if FLAGS.quick:
        if flags.present("dataset") and FLAGS.dataset != "digits":
            raise ValueError("--quick runs on digits; drop --dataset or "
                             "--quick.")
        for name, value in QUICK.items():
            if not flags.present(name):
                target = grid_values if name in grid_values else overrides
                target[name] = value
    if not flags.present("mixing"):
        overrides["mixing"] = "fmu"
    config = flags.run_config(**overrides)
    if config.mixing not in ("fmu", "pmu"):
        raise ValueError(f"--mixing={config.mixing}: a study mixes its "
                         "student-mixup cells with fmu or pmu; students "
                         "without mixup come from --student_mixup=no.")
    for flag in ("teachers", "students"):
        for name in grid_values[flag] or []:
            check_model_name(name, flag)
    if not FLAGS.teacher_mixup_alpha > 0:
        raise ValueError("--teacher_mixup_alpha must be > 0, got "
                         f"{FLAGS.teacher_mixup_alpha}.")
    config.check_distill()
    settings = {name: getattr(config, name) for name in SETTINGS}
    settings["mixup_alpha"] = config.resolved_mixup_alpha("distill")
    settings["teacher_mixup_alpha"] = FLAGS.teacher_mixup_alpha
    if config.train_size is not None:  # recorded only when set
        settings["train_size"] = config.train_size
    grid = study_lib.StudyGrid(
        config.dataset, grid_values["teachers"] or (),
        grid_values["students"] or (), grid_values["teacher_mixup"] or (),
        grid_values["student_mixup"] or (), grid_values["temperatures"] or (),
        config.mixing, settings, grid_values["seeds"])
    return config, grid


def main():
    """Runs the study of the flags, then writes its tables and report."""
    config, grid = config_from_flags()
    root = config.output_dir or default_folder("study", grid.dataset)
    study = study_lib.Study(root, grid)
    start = time.time()
    done, skipped = study_lib.run_study(study, config)
    path = study_report.write(root)  # also results.csv, teachers.csv
    rows, teacher_rows = study.result_rows(), study.teacher_rows()
    print(f"\n{study_report.results_table(rows)}\n")
    for line in study_report.observations(rows, teacher_rows,
                                          study_report.num_classes(study)):
        print(f"- {flag_terms.in_flag_terms(line)}")
    print(f"\n{done} runs trained or evaluated, {skipped} already finished; "
          f"{time.time() - start:.0f} s. Report: {path}")
