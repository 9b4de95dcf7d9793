"""How far the distillation loss moves with precision (bfloat16 vs float32).

Trains the same student from the same weights on the same batches (random
normalised images, the paper's recipe: PMU + MIXSTD, the paper's optimizer)
under float32, under mixed_bfloat16, and under float32 with the teacher in
bfloat16 (``Distiller(teacher_dtype="bfloat16")``), and reports each step's
loss and its relative deviation from float32. Run from the repository root:

    python benchmarks/precision_deviation.py [--steps=5] [--json]
"""

import argparse
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import harness  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_mixkd import models  # noqa: E402
from keras_mixkd import recipe  # noqa: E402
from keras_mixkd.distiller import Distiller  # noqa: E402

#: (name, global policy, Distiller teacher_dtype).
CONFIGS = (("float32", "float32", None),
           ("mixed_bfloat16", "mixed_bfloat16", None),
           ("float32, teacher bfloat16", "float32", "bfloat16"))


def losses(args, policy, teacher_dtype):
    """Per-step training losses of one configuration."""
    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(args.seed)
        teacher = models.create(args.teacher, num_classes=args.num_classes)
        student = models.create(args.student, num_classes=args.num_classes)
        distiller = Distiller(student=student, teacher=teacher,
                              seed=args.seed, teacher_dtype=teacher_dtype)
        distiller.compile(optimizer=recipe.paper_optimizer(
            args.student, args.steps, epochs=240,
            global_batch_size=args.batch_size))
        rng = np.random.default_rng(args.seed)
        n = args.batch_size * args.steps
        x = rng.standard_normal((n, 32, 32, 3), dtype=np.float32)
        y = rng.integers(0, args.num_classes, n)
        seen = []
        record = keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: seen.append(logs["loss"]))
        # Running means in the logs: recover each step's own loss.
        distiller.fit(x, y, batch_size=args.batch_size, epochs=1,
                      shuffle=False, verbose=0, callbacks=[record])
        means = np.asarray(seen, "float64")
        steps = np.arange(1, len(means) + 1)
        return means * steps - np.concatenate([[0.0], means[:-1] * steps[:-1]])
    finally:
        keras.mixed_precision.set_global_policy("float32")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="resnet32x4")
    parser.add_argument("--student", default="resnet8x4")
    parser.add_argument("--num_classes", type=int, default=100)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = {"benchmark": "precision_deviation", "options": vars(args)}
    for name, policy, teacher_dtype in CONFIGS:
        result[name] = [round(float(v), 6) for v in losses(args, policy,
                                                    teacher_dtype)]
    base = np.asarray(result["float32"])
    deviation = {name: float(np.max(np.abs(np.asarray(result[name]) - base)
                                    / np.abs(base)))
                 for name, _, _ in CONFIGS[1:]}
    result["max_relative_deviation"] = deviation
    result["environment"] = harness.environment()
    harness.emit(result, args.json, [
        f"{name}: losses {result[name]}" for name, _, _ in CONFIGS] + [
        f"max relative deviation from float32, {name}: {value:.2e}"
        for name, value in deviation.items()])


if __name__ == "__main__":
    main()
