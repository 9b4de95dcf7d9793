"""``mixkd compare``: student methods over seeds against one teacher, with
confidence intervals.

Trains one teacher (or loads ``--teacher_weights``), then each method of
``--methods`` with seeds ``--seed`` .. ``--seed + --seeds - 1``, and writes
``results.csv``, ``summary.json``, ``summary.md`` and ``comparison.png`` in
``--output_dir`` (see ``docs/compare.md``). Run it again to resume: finished
runs are reused, and added seeds or methods run alone. ``--method_spec``
defines a method of your own by its settings, under a name that
``--methods`` lists.

    mixkd compare --dataset=fashion_mnist --teacher=resnet20 \\
        --student=resnet8 --train_size=10000 --epochs=15 --seeds=3
    mixkd compare ... --methods=kd,kd_w9 \\
        --method_spec=kd_w9:loss=kd,kd_weight=9
"""

import pathlib

from absl import flags as absl_flags

from keras_mixkd.cli import flag_docs
from keras_mixkd.cli import flags
from keras_mixkd.experiments import compare
from keras_mixkd.experiments import report
from keras_mixkd.training.run_folder import default_folder

absl_flags.DEFINE_list(
    "methods", list(compare.DEFAULT_METHODS),
    flag_docs.help_of("methods") + " Each: " + "; ".join(
        f"{name} = {method.describe()}"
        for name, method in compare.METHODS.items()) + ".")
absl_flags.DEFINE_multi_string("method_spec", None,
                               flag_docs.help_of("method_spec"))
absl_flags.DEFINE_string("baseline", "kd", flag_docs.help_of("baseline"))
absl_flags.DEFINE_integer("teacher_epochs", None,
                          flag_docs.help_of("teacher_epochs"))

FLAGS = flags.FLAGS



def main():
    """Parses the flags, runs the comparison, prints the summary table."""
    if FLAGS.teacher_epochs is not None and FLAGS.teacher_epochs < 1:
        raise ValueError(f"--teacher_epochs must be >= 1, got "
                         f"{FLAGS.teacher_epochs}.")
    custom = {}
    for text in FLAGS.method_spec or ():
        name, settings = compare.parse_spec(text)
        if name in custom:
            raise ValueError(f"--method_spec defines {name} twice; give "
                             "each name once.")
        custom[name] = settings
    compare.check_request(FLAGS.methods, FLAGS.baseline, FLAGS.seeds, custom)
    overrides = {}
    if not FLAGS.output_dir:
        teacher = FLAGS.teacher or pathlib.Path(
            FLAGS.teacher_weights or "teacher").stem
        overrides["output_dir"] = default_folder(
            "compare", teacher, FLAGS.student, FLAGS.dataset)
    config = flags.run_config(**overrides)
    compare.compare(config, FLAGS.methods, FLAGS.seeds, FLAGS.baseline,
                    FLAGS.teacher_epochs, custom=custom)
    print(report.write_report(config.output_dir).read_text())
