"""Distillation throughput: teacher forward, student step, `Distiller.fit`.

Measures, in one process and after warm-up, in images per second:

(a) the teacher's forward pass (inference, one compiled `tf.function`);
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
a few distinct batches cycled in memory. Run from the repository root:

    python benchmarks/distill_throughput.py [--json] [--mixed_precision=bfloat16]
        [--jit_compile] [--strategy=mirrored] [--steps=8] [--repeats=3]

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

from keras_mixkd import models  # noqa: E402
from keras_mixkd import recipe  # noqa: E402
from keras_mixkd.distiller import Distiller  # noqa: E402

#: Distinct in-memory batches, cycled (enough to defeat caching effects).
DISTINCT_BATCHES = 4
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
    parser.add_argument("--steps", type=int, default=8,
                        help="steps per timed repeat (and warm-up epoch)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed repeats; the median is reported")
    parser.add_argument("--jit_compile", action="store_true",
                        help="compile every step with XLA")
    parser.add_argument("--mixed_precision", default="none",
                        choices=sorted(harness.PRECISION_POLICIES))
    parser.add_argument("--strategy", default="default",
                        choices=["default", "mirrored"])
    parser.add_argument("--steps_per_execution", type=int, default=1,
                        help="fit: steps per compiled call")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line")
    args = parser.parse_args(argv)
    for name in ("batch_size", "steps", "repeats", "steps_per_execution",
                 "num_classes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1.")
    return args


class CountingDistiller(Distiller):
    """The Distiller, counting how often its ``train_step`` is traced."""

    def train_step(self, data):
        TRACES["fit_train_step"] += 1
        return super().train_step(data)


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch.

    It overrides no batch hook, so Keras keeps dispatching asynchronously.
    """

    def __init__(self):
        super().__init__()
        self.seconds = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


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
    forward = compiled(strategy, lambda x, y: teacher(x, training=False),
                       args.jit_compile, "teacher_forward")
    with strategy.scope():
        student = models.create(args.student, num_classes=args.num_classes)
        optimizer = make_optimizer(args, global_batch)
        optimizer.build(student.trainable_variables)
    step = compiled(strategy, student_step(student, optimizer, global_batch),
                    args.jit_compile, "student_step")
    return cycle(strategy, forward, batches), cycle(strategy, step, batches)


def make_fit(args, strategy, teacher, global_batch, images, labels):
    """A call timing one `Distiller.fit` epoch of ``--steps`` steps.

    Returns:
        ``(fit_epoch, steps)``: ``fit_epoch()`` returns the epoch's images
        per second (from the epoch's first to its last callback, so the
        per-``fit`` set-up is not counted).
    """
    with strategy.scope():
        student = models.create(args.student, num_classes=args.num_classes)
        distiller = CountingDistiller(student=student, teacher=teacher,
                                      seed=args.seed)
        distiller.compile(optimizer=make_optimizer(args, global_batch),
                          metrics=["accuracy"], jit_compile=args.jit_compile,
                          steps_per_execution=args.steps_per_execution)
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).repeat().batch(
        global_batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    spe = args.steps_per_execution
    steps = max(spe, args.steps - args.steps % spe)
    timer = EpochTimer()

    def fit_epoch():
        distiller.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0,
                      callbacks=[timer])
        return global_batch * steps / timer.seconds[-1]

    return fit_epoch, steps


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
    fit_epoch, fit_steps = make_fit(args, strategy, teacher, global_batch,
                                    images, labels)
    for call in (forward, step, forward, step):
        call()
    fit_epoch()  # the warm-up epoch: traces and compiles
    traced = TRACES["fit_train_step"]
    rates = collections.defaultdict(list)
    for _ in range(args.repeats):
        rates["teacher_forward"].append(
            harness.rate(forward, global_batch, args.steps))
        rates["student_step"].append(harness.rate(step, global_batch,
                                                  args.steps))
        rates["fit"].append(fit_epoch())
    spread = {name: harness.summarise(values)
              for name, values in rates.items()}
    teacher_v, student_v, fit_v = (spread[name]["median"] for name in (
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
        "fit_steps_per_epoch": fit_steps,
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
