"""``mixkd compare``: student methods over seeds against one teacher, with
confidence intervals.

Trains one teacher (or loads ``--teacher_weights``), then each method of
``--methods`` with seeds ``--seed`` .. ``--seed + --seeds - 1``, and writes
``results.csv``, ``summary.json``, ``summary.md`` and ``comparison.png`` in
``--output_dir`` (see ``docs/compare.md``). Run it again to resume: finished
runs are reused, and added seeds or methods run alone.

    mixkd compare --dataset=fashion_mnist --teacher=resnet20 \\
        --student=resnet8 --train_size=10000 --epochs=15 --seeds=3
"""

from absl import flags as absl_flags

from keras_mixkd.experiments import compare
from keras_mixkd.experiments import report
from keras_mixkd.cli import flags

absl_flags.DEFINE_list(
    "methods", list(compare.DEFAULT_METHODS),
    "compare: the methods, among: " + "; ".join(
        f"{name} = {method.description}"
        for name, method in compare.METHODS.items()) + ".")
absl_flags.DEFINE_string("baseline", "kd",
                         "compare: the method the others are paired "
                         "against (one of --methods).")
absl_flags.DEFINE_integer("teacher_epochs", None,
                          "compare: the teacher's epochs (default: --epochs).")

FLAGS = flags.FLAGS

FLAGS_USED = flags.TRAINING + flags.TEACHER_SPEED + (
    "teacher", "teacher_weights", "student", "mixup_alpha", "ce_weight",
    "kd_weight", "seeds", "methods", "baseline",
    "teacher_epochs")
UNUSED_HINT = ("each method of --methods sets its loss, temperature and "
               "mixing itself")


def main():
    """Parses the flags, runs the comparison, prints the summary table."""
    if FLAGS.teacher_epochs is not None and FLAGS.teacher_epochs < 1:
        raise ValueError(f"--teacher_epochs must be >= 1, got "
                         f"{FLAGS.teacher_epochs}.")
    compare.check_request(FLAGS.methods, FLAGS.baseline, FLAGS.seeds)
    overrides = {}
    if not FLAGS.output_dir:
        overrides["output_dir"] = (f"runs/compare-{FLAGS.teacher}-"
                                   f"{FLAGS.student}-{FLAGS.dataset}")
    config = flags.run_config(**overrides)
    compare.compare(config, FLAGS.methods, FLAGS.seeds, FLAGS.baseline,
                    FLAGS.teacher_epochs)
    print(report.write_report(config.output_dir).read_text())
