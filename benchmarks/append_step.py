"""The cost of ``Distiller(mix_mode="append")`` against ``"replace"``.

``"append"`` forwards the clean batch and its mixed copy (2B rows) through
the teacher and the student, so its step should cost about twice a
``"replace"`` step of the same B samples. Both Distillers (classic KD at
T=4, full mixup, the paper's optimizer) are timed in one process on the
same in-memory batch of random normalised images, their timed epochs
interleaved (``--repeats``) so that a change of machine load affects both
alike; each figure is the median step (ms, and clean images per second).
Run from the repository root:

    python benchmarks/append_step.py [--json] [--teacher=resnet20]
        [--student=resnet8] [--num_classes=10] [--mixed_precision=bfloat16]
        [--steps=15] [--repeats=3] [--mixing=fmu]
"""

import argparse
import os
import pathlib
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import distill_throughput  # noqa: E402
import harness  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_mixkd import models  # noqa: E402
from keras_mixkd.distiller import Distiller  # noqa: E402

MODES = ("replace", "append")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", default="resnet20")
    parser.add_argument("--student", default="resnet8")
    parser.add_argument("--num_classes", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--mixing", default="fmu",
                        help="the mixer of both Distillers")
    parser.add_argument("--mixed_precision", default="bfloat16",
                        help="none, float16 or bfloat16")
    parser.add_argument("--steps", type=int, default=15,
                        help="timed steps per repeat of each mode")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line")
    args = parser.parse_args(argv)
    for name in ("batch_size", "steps", "warmup", "repeats", "num_classes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1.")
    return args


def make_fit(args, teacher, mode, images, labels):
    """``fit_epoch()``: one epoch of a Distiller in ``mode``, its timed
    steps' seconds."""
    distiller = Distiller(
        student=models.create(args.student, num_classes=args.num_classes),
        teacher=teacher, mixer=args.mixing, distillation_loss="kd",
        mix_mode=mode, seed=args.seed)
    distiller.compile(optimizer=distill_throughput.make_optimizer(
        args, args.batch_size), metrics=["accuracy"])
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).repeat().batch(
        args.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    timer = distill_throughput.StepTimer()

    def fit_epoch(warmup=args.warmup, steps=args.steps):
        timer.seconds = []
        distiller.fit(ds, epochs=1, steps_per_epoch=warmup + steps + 1,
                      verbose=0, shuffle=False, callbacks=[timer])
        return timer.seconds[warmup:]

    return fit_epoch


def run(args):
    """Warms both modes up, then times them interleaved; the result dict."""
    harness.set_precision(args.mixed_precision)
    keras.utils.set_random_seed(args.seed)
    args.jit_compile, args.strategy = False, "default"  # make_optimizer's
    images, labels = distill_throughput.random_data(args, args.batch_size)
    teacher = models.create(args.teacher, num_classes=args.num_classes)
    fits = {mode: make_fit(args, teacher, mode, images, labels)
            for mode in MODES}
    for fit_epoch in fits.values():
        fit_epoch(warmup=0, steps=1)  # traces and compiles
    seconds = {mode: [] for mode in MODES}
    for _ in range(args.repeats):
        for mode in MODES:
            seconds[mode] += fits[mode]()
    step_ms = {mode: 1000 * statistics.median(values)
               for mode, values in seconds.items()}
    env = harness.environment()
    return {
        "benchmark": "append_step",
        "step_ms": {mode: round(v, 2) for mode, v in step_ms.items()},
        "clean_img_per_s": {mode: round(args.batch_size / v * 1000, 1)
                            for mode, v in step_ms.items()},
        "append_over_replace": round(step_ms["append"] / step_ms["replace"],
                                     3),
        "device": env["device"],
        "environment": env,
        "options": vars(args),
    }


def main(argv=None):
    args = parse_args(argv)
    result = run(args)
    harness.emit(result, args.json, [
        f"{args.teacher} -> {args.student}, KD + {args.mixing}, batch "
        f"{args.batch_size}, precision {args.mixed_precision} on "
        f"{result['device']}",
        *(f"  {mode:8s} {result['step_ms'][mode]:8.1f} ms/step "
          f"{result['clean_img_per_s'][mode]:8.1f} clean img/s"
          for mode in MODES),
        f"  append / replace: {result['append_over_replace']:.2f}x",
    ])


if __name__ == "__main__":
    main()
