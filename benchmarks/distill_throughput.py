"""Distillation throughput: teacher forward, student step, `Distiller.fit`.

Measures, in one process and after warm-up, in images per second:

(a) the teacher's forward pass (inference, one compiled `tf.function`;
    through the Distiller's inference copy of the teacher when it makes
    one: ``--teacher_dtype``, ``--fold_teacher``);
(b) the student's training step alone (cross-entropy, backward pass and the
    paper's SGD update, compiled);
(c) `keras_mixkd.Distiller.fit` with the paper's recipe (PMU + MIXSTD, the
    paper's optimizer, accuracy metric), fed by an in-memory `tf.data`
    pipeline.

A distillation step runs (a) and (b) on the same batch, so when they run one
after the other fit is bounded by ``1 / (1 / teacher + 1 / student)``;
``fit_over_bound`` says how close it comes (the rest is mixing, the MIXSTD
losses, metrics and the input pipeline; TensorFlow may also overlap the
teacher's and the student's independent ops, which can put small models above
the bound). The fit's ``train_step`` counts its own traces (Python runs only
while TensorFlow traces; once per replica): it is traced during the warm-up
epoch and never again (``fit_retraces_after_warmup`` 0), so the timed epochs
run no per-step Python but Keras's loop.

Data are random normalised images and labels of ``--num_classes`` classes,
one fixed batch in memory. Each figure is the median step (the median of
``--steps`` steps after ``--warmup`` untimed ones, as the PyTorch reference
``torch_reference.py`` is timed); a fit step ends when Keras has read its
logs, as the official loop reads ``loss.item()``. Run from the repository
root:

    python benchmarks/distill_throughput.py [--json] [--mixed_precision=bfloat16]
        [--jit_compile] [--strategy=mirrored] [--steps=15] [--repeats=1]

``python benchmarks/run_all.py`` runs the whole set of BENCHMARKS.md.
"""

import argparse
import collections
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import harness  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_mixkd.models import folding  # noqa: E402
from keras_mixkd import models  # noqa: E402
from keras_mixkd import recipe  # noqa: E402
from keras_mixkd.distiller import Distiller  # noqa: E402

#: Distinct in-memory batches, cycled: one fixed batch, as the PyTorch
#: reference (benchmarks/torch_reference.py) times its step.
DISTINCT_BATCHES = 1
#: Python-side trace counts of the compiled functions (Python runs only
#: while TensorFlow traces).
TRACES = collections.Counter()


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", default="resnet32x4")
    parser.add_argument("--student", default="resnet8x4")
    parser.add_argument("--num_classes", type=int, default=100)
    parser.add_argument("--batch_size", type=int, default=64,
                        help="batch per replica (the paper: 64)")
    parser.add_argument("--steps", type=int, default=15,
                        help="timed steps per repeat of each part")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed steps before each timed fit epoch")
    parser.add_argument("--repeats", type=int, default=1,
                        help="timed repeats, interleaved; the median step "
                        "of all repeats is reported")
    parser.add_argument("--jit_compile", action="store_true",
                        help="compile every step with XLA")
    parser.add_argument("--mixed_precision", default="none",
                        choices=sorted(harness.PRECISION_POLICIES))
    parser.add_argument("--strategy", default="default",
                        choices=["default", "mirrored"])
    parser.add_argument("--steps_per_execution", type=int, default=1,
                        help="fit: steps per compiled call")
    parser.add_argument("--teacher_dtype", default=None,
                        choices=["float32", "bfloat16", "float16"],
                        help="Distiller(teacher_dtype=...): the teacher's "
                        "precision (default: the policy's)")
    parser.add_argument("--fold_teacher", default="auto",
                        choices=["auto", "on", "off"],
                        help="Distiller(fold_teacher=None/True/False)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line")
    args = parser.parse_args(argv)
    for name in ("batch_size", "steps", "warmup", "repeats",
                 "steps_per_execution", "num_classes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1.")
    return args


class CountingDistiller(Distiller):
    """The Distiller, counting how often its ``train_step`` is traced."""

    def train_step(self, data):
        TRACES["fit_train_step"] += 1
        return super().train_step(data)


class StepTimer(keras.callbacks.Callback):
    """Wall time between the ends of consecutive training steps.

    Overriding ``on_train_batch_end`` makes Keras read each step's logs
    before the next step starts, as the official loop's ``loss.item()``
    does, so each interval is one whole step.
    """

    def __init__(self):
        super().__init__()
        self.seconds = []
        self._last = None

    def on_epoch_begin(self, epoch, logs=None):
        self._last = None

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._last is not None:
            self.seconds.append(now - self._last)
        self._last = now


def random_data(args, global_batch):
    """Random normalised images and integer labels, in memory."""
    rng = np.random.default_rng(args.seed)
    n = global_batch * DISTINCT_BATCHES
    images = rng.standard_normal((n, 32, 32, 3), dtype=np.float32)
    labels = rng.integers(0, args.num_classes, n).astype("int64")
    return images, labels


def distributed_batches(strategy, images, labels, global_batch, classes):
    """The batches, split per replica and already on their devices."""
    ds = tf.data.Dataset.from_tensor_slices(
        (images, tf.one_hot(labels, classes))).batch(global_batch,
                                                     drop_remainder=True)
    return list(strategy.experimental_distribute_dataset(ds))


def compiled(strategy, replica_fn, jit_compile, name):
    """``replica_fn(x, y)`` on every replica, in one `tf.function`.

    XLA compiles the per-replica function (as Keras does), not the
    cross-replica wrapper.
    """

    def counted(x, y):
        TRACES[name] += 1
        return replica_fn(x, y)

    inner = tf.function(counted, jit_compile=True) if jit_compile else counted

    @tf.function
    def run(x, y):
        return strategy.run(inner, args=(x, y))

    return run


def cycle(strategy, fn, batches):
    """A call running ``fn`` on the next batch and waiting for its result."""
    state = {"i": 0}

    def call():
        x, y = batches[state["i"] % len(batches)]
        state["i"] += 1
        for value in strategy.experimental_local_results(fn(x, y)):
            np.asarray(value)  # wait for the result (a scalar or logits)

    return call


def student_step(student, optimizer, global_batch):
    """Cross-entropy, backward pass and update of the student, per replica."""

    def step(x, y):
        with tf.GradientTape() as tape:
            logits = tf.cast(student(x, training=True), "float32")
            ce = keras.losses.categorical_crossentropy(y, logits,
                                                       from_logits=True)
            loss = tf.reduce_sum(ce) / global_batch
            scaled = optimizer.scale_loss(loss)
        weights = student.trainable_weights
        optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))
        return loss

    return step


def fold_option(args):
    """``--fold_teacher`` as the Distiller's ``fold_teacher``."""
    return {"auto": None, "on": True, "off": False}[args.fold_teacher]


def make_optimizer(args, global_batch):
    """The paper's optimizer, loss-scaled under mixed_float16 (as Keras)."""
    optimizer = recipe.paper_optimizer(args.student, args.steps, epochs=240,
                                       global_batch_size=global_batch)
    if args.mixed_precision == "float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def make_parts(args, strategy, teacher, global_batch, images, labels):
    """Calls running one batch through (a) the teacher, (b) the student step."""
    batches = distributed_batches(strategy, images, labels, global_batch,
                                  args.num_classes)
    frozen = folding.frozen_teacher(teacher, args.teacher_dtype,
                                      fold_option(args), None, strategy)
    forward = compiled(strategy, lambda x, y: frozen(x) if frozen else teacher(
        x, training=False), args.jit_compile, "teacher_forward")
    with strategy.scope():
        student = models.create(args.student, num_classes=args.num_classes)
        optimizer = make_optimizer(args, global_batch)
        optimizer.build(student.trainable_variables)
    step = compiled(strategy, student_step(student, optimizer, global_batch),
                    args.jit_compile, "student_step")
    return cycle(strategy, forward, batches), cycle(strategy, step, batches)


def make_fit(args, strategy, teacher, global_batch, images, labels):
    """A call timing one `Distiller.fit` epoch, step by step.

    Returns:
        ``fit_epoch()``, which runs ``--warmup`` untimed and ``--steps``
        timed steps and returns the timed steps' seconds each.
    """
    with strategy.scope():
        student = models.create(args.student, num_classes=args.num_classes)
        distiller = CountingDistiller(
            student=student, teacher=teacher, seed=args.seed,
            teacher_dtype=args.teacher_dtype, fold_teacher=fold_option(args))
        distiller.compile(optimizer=make_optimizer(args, global_batch),
                          metrics=["accuracy"], jit_compile=args.jit_compile,
                          steps_per_execution=args.steps_per_execution)
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).repeat().batch(
        global_batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    spe = args.steps_per_execution
    timer = StepTimer()

    def fit_epoch(warmup=args.warmup, steps=args.steps):
        timer.seconds = []
        distiller.fit(ds, epochs=1, steps_per_epoch=spe * (warmup + steps + 1),
                      verbose=0, shuffle=False, callbacks=[timer])
        return [s / spe for s in timer.seconds[warmup:]]

    return fit_epoch


def run(args):
    """Warms up, then times (a), (b) and (c) in turn, ``--repeats`` times.

    Interleaving the three keeps their ratios meaningful on a machine whose
    load changes during the run.

    Returns:
        The result dict.
    """
    harness.set_precision(args.mixed_precision)
    keras.utils.set_random_seed(args.seed)
    strategy = (tf.distribute.MirroredStrategy() if args.strategy == "mirrored"
                else tf.distribute.get_strategy())
    global_batch = args.batch_size * strategy.num_replicas_in_sync
    images, labels = random_data(args, global_batch)
    with strategy.scope():
        teacher = models.create(args.teacher, num_classes=args.num_classes)
        teacher.trainable = False
    forward, step = make_parts(args, strategy, teacher, global_batch, images,
                               labels)
    fit_epoch = make_fit(args, strategy, teacher, global_batch, images,
                         labels)
    for call in (forward, step, forward, step):
        call()
    fit_epoch(warmup=0, steps=1)  # the warm-up epoch: traces, compiles
    traced = TRACES["fit_train_step"]
    seconds = collections.defaultdict(list)
    for _ in range(args.repeats):
        seconds["teacher_forward"] += harness.step_seconds(forward, args.steps)
        seconds["student_step"] += harness.step_seconds(step, args.steps)
        seconds["fit"] += fit_epoch()
    spread = {name: harness.summarise([global_batch / s for s in values])
              for name, values in seconds.items()}
    teacher_v, student_v, fit_v = (
        harness.median_rate(seconds[name], global_batch) for name in (
            "teacher_forward", "student_step", "fit"))
    bound = 1.0 / (1.0 / teacher_v + 1.0 / student_v)
    env = harness.environment()
    return {
        "benchmark": "distill_throughput",
        "teacher_forward_img_per_s": round(teacher_v, 2),
        "student_step_img_per_s": round(student_v, 2),
        "fit_img_per_s": round(fit_v, 2),
        "bound_img_per_s": round(bound, 2),
        "fit_over_bound": round(fit_v / bound, 4),
        "spread": spread,
        "traces": {"fit_train_step": TRACES["fit_train_step"],
                   "fit_retraces_after_warmup": (TRACES["fit_train_step"]
                                                 - traced),
                   "teacher_forward": TRACES["teacher_forward"],
                   "student_step": TRACES["student_step"]},
        "replicas": strategy.num_replicas_in_sync,
        "global_batch": global_batch,
        "device": env["device"],
        "environment": env,
        "options": vars(args),
    }


def main(argv=None):
    args = parse_args(argv)
    result = run(args)
    opts = (f"{args.teacher} -> {args.student}, batch {result['global_batch']}"
            f", precision {args.mixed_precision}, XLA {args.jit_compile}, "
            f"strategy {args.strategy} ({result['replicas']} replicas)")
    harness.emit(result, args.json, [
        f"{opts} on {result['device']}",
        f"  teacher forward   {result['teacher_forward_img_per_s']:9.1f} img/s",
        f"  student step      {result['student_step_img_per_s']:9.1f} img/s",
        f"  bound             {result['bound_img_per_s']:9.1f} img/s",
        f"  Distiller.fit     {result['fit_img_per_s']:9.1f} img/s "
        f"({100 * result['fit_over_bound']:.1f}% of the bound)",
        f"  traces            {result['traces']}",
    ])


if __name__ == "__main__":
    main()
