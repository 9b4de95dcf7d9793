"""``mixkd distill``: distil a teacher into a student, MixKD or classic KD.

    mixkd distill --teacher=resnet32x4 --teacher_weights=resnet32x4.pth \\
        --student=resnet8x4 --dataset=cifar100 --preset=paper

``--teacher_weights`` takes a ``.keras`` file (e.g. from ``mixkd
train-teacher``) or an official RepDistiller/MIX-KD ``.pth`` checkpoint.
"""


from keras_mixkd import data
from keras_mixkd import mixing
from keras_mixkd import models
from keras_mixkd.cli import common
from keras_mixkd.cli.flags import FLAGS
from keras_mixkd.cli.flags import PAPER_PRESET
from keras_mixkd.cli.flags import present
from keras_mixkd.cli.flags import values
from keras_mixkd.distiller import Distiller

DISTILL_FLAGS = ("teacher", "teacher_weights", "student", "loss", "mixing",
                 "mix_fraction", "mix_sampling", "beta_alpha", "temperature",
                 "ce_weight", "kd_weight", "preset")


def apply_preset():
    """Applies ``--preset=paper``; fails on a flag that contradicts it."""
    if FLAGS.preset != "paper":
        return
    for name, value in PAPER_PRESET.items():
        if present(name) and FLAGS[name].value != value:
            common.fail(
                f"--preset=paper fixes --{name}={value}, but --{name}="
                f"{FLAGS[name].value} was given. Drop one of them.")
        FLAGS[name].value = value
    if present("temperature"):
        common.fail("--preset=paper uses the std-scaled temperature; "
                    "--temperature contradicts it.")
    if present("learning_rate"):
        common.fail("--preset=paper sets the official learning rate; "
                    "--learning_rate contradicts it.")


def check_options():
    """Fails at once on contradictory or out-of-range distillation flags."""
    if FLAGS.loss == "mixstd" and FLAGS.temperature is not None:
        common.fail("--temperature does not apply to --loss=mixstd (its "
                    "temperature is each sample's logit std). Use --loss=kd "
                    "or --loss=ls, or drop --temperature.")
    if FLAGS.temperature is not None and FLAGS.temperature <= 0:
        common.fail(f"--temperature must be > 0, got {FLAGS.temperature}.")
    if FLAGS.mixing != "pmu":
        for name in ("mix_fraction", "mix_sampling"):
            if present(name):
                common.fail(f"--{name} applies to --mixing=pmu only, not "
                            f"--mixing={FLAGS.mixing}.")
    if FLAGS.mixing == "none" and present("beta_alpha"):
        common.fail("--beta_alpha has no effect with --mixing=none.")
    if not 0.0 <= FLAGS.mix_fraction <= 1.0:
        common.fail(f"--mix_fraction must be in [0, 1], got "
                    f"{FLAGS.mix_fraction}.")
    if FLAGS.jit_compile and FLAGS.mixing in ("mixup", "cutmix"):
        common.fail(f"--mixing={FLAGS.mixing} (Keras's layer) cannot be "
                    "compiled by XLA; use --mixing=fmu or pmu with "
                    "--jit_compile, or drop --jit_compile.")
    if FLAGS.beta_alpha <= 0:
        common.fail(f"--beta_alpha must be > 0, got {FLAGS.beta_alpha}.")
    if FLAGS.ce_weight < 0 or FLAGS.kd_weight < 0:
        common.fail("--ce_weight and --kd_weight must be >= 0.")


def make_mixer(seed):
    """The mixing layer the flags ask for (None for no mixing)."""
    return mixing.get(FLAGS.mixing, seed=seed, alpha=FLAGS.beta_alpha,
                      mix_fraction=FLAGS.mix_fraction,
                      sampling=FLAGS.mix_sampling)


def config():
    """The resolved configuration of a distillation run."""
    return {"command": "distill", **values(DISTILL_FLAGS),
            **values(common.TRAINING_FLAGS)}


def distill(make_teacher, student_name, run_name=None):
    """Distils a teacher into a new ``student_name`` under the flags.

    Args:
        make_teacher: function ``(info) -> keras.Model`` returning the trained
            teacher; called under the strategy's scope before any data is
            loaded, so bad weights fail at once.
        student_name: student architecture.
        run_name: default run-folder name.

    Returns:
        ``(student, summary)``.
    """
    strategy = common.setup_runtime()
    info = data.dataset_info(FLAGS.dataset, FLAGS.data_dir)
    with strategy.scope():
        teacher = make_teacher(info)
    train_ds, test_ds, info, batch, steps = common.load_data(strategy)
    run = common.open_run(run_name or f"distill-{teacher.name}-"
                          f"{student_name}-{FLAGS.dataset}", config(),
                          strategy)
    with strategy.scope():
        student = models.create(student_name, num_classes=info.num_classes,
                                input_shape=info.image_shape)
        distiller = Distiller(
            student=student, teacher=teacher, mixer=make_mixer(FLAGS.seed),
            distillation_loss=FLAGS.loss, temperature=FLAGS.temperature,
            ce_weight=FLAGS.ce_weight, kd_weight=FLAGS.kd_weight)
        distiller.compile(
            optimizer=common.optimizer_for(student_name, steps, batch),
            metrics=["accuracy"], jit_compile=FLAGS.jit_compile)
    summary = common.fit(run, distiller, student, train_ds, test_ds)
    print(f"{teacher.name} -> {student_name} on {FLAGS.dataset}: best "
          f"{summary['best_accuracy']}, last {summary['last_accuracy']} "
          f"(run folder: {run.path})")
    return student, summary


def main():
    common.require("teacher", "teacher_weights", "student")
    common.check_model_name(FLAGS.teacher, "teacher")
    common.check_model_name(FLAGS.student, "student")
    apply_preset()
    check_options()

    def make_teacher(info):
        model = models.create(FLAGS.teacher, num_classes=info.num_classes,
                              input_shape=info.image_shape)
        return common.load_weights(model, FLAGS.teacher_weights,
                                   "teacher_weights")

    distill(make_teacher, FLAGS.student)
