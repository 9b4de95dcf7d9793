"""Per-epoch overhead of the engine: time in training steps against wall time.

Runs `keras_mixkd.training.distill` in a run folder on a small training set
(by default the 1,000-image regime of results/fashion_mnist-1k-e60-study:
Fashion-MNIST, resnet20 -> resnet8, bfloat16, ``--validation_freq=10``) and
times each epoch with two callbacks around the run folder's own:

- **steps**: from the start of the epoch's first training step (its last
  ``on_train_batch_begin``) to the end of its last one (its first
  ``on_train_batch_end``): the compiled steps, and between them what runs
  at every step (Keras's loop, the per-batch callbacks reading the step's
  logs, as ``distill_throughput.py`` counts a step until Keras has read
  its logs); ``in_steps_s`` is the compiled steps alone;
- **validation**: from the first ``on_test_begin`` to the last
  ``on_test_end``;
- **epoch**: from one epoch's first ``on_epoch_begin`` to the next one's
  (the last epoch: to its last ``on_epoch_end``).

An epoch's overhead is its wall time less its steps: what runs once per
epoch, the validation and the rest (the end-of-epoch writes: backup,
checkpoints, ``metrics.csv``, TensorBoard; Keras's epoch loop, which makes
a new iterator of the data). The run folder's callbacks' ``on_epoch_end``
are also timed one by one. The first epoch (tracing and compilation) is
reported apart and left out of the per-epoch figures.

Without ``--teacher_weights``, a teacher is trained first
(``--teacher_epochs``) in ``--cache_dir``, once: a later run finds it
finished there. Run from the repository root:

    python benchmarks/epoch_overhead.py [--epochs=120] [--json]
        [--teacher_weights=FILE] [--backup_interval_s=SECONDS]
        [--validation_freq=N] [--eval_batch_size=N]
"""

import argparse
import collections
import contextlib
import dataclasses
import os
import pathlib
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import harness  # noqa: E402
import keras  # noqa: E402

from keras_mixkd import training  # noqa: E402
from keras_mixkd.training import run_folder  # noqa: E402

#: RunConfig fields given only when set (absent: the engine's default).
OPTIONAL_FIELDS = ("backup_interval_s", "eval_batch_size")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--train_size", type=int, default=1000)
    parser.add_argument("--teacher", default="resnet20")
    parser.add_argument("--student", default="resnet8")
    parser.add_argument("--teacher_weights", default=None,
                        help="the trained teacher (default: train one in "
                        "--cache_dir, once)")
    parser.add_argument("--teacher_epochs", type=int, default=10,
                        help="epochs of the teacher trained when "
                        "--teacher_weights is not given")
    parser.add_argument("--cache_dir", default="runs/bench-epoch-overhead",
                        help="where that teacher's run folder is kept")
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--validation_freq", type=int, default=10)
    parser.add_argument("--mixed_precision", default="bfloat16",
                        choices=sorted(harness.PRECISION_POLICIES))
    parser.add_argument("--backup_interval_s", type=float, default=None,
                        help="RunConfig.backup_interval_s (default: the "
                        "engine's)")
    parser.add_argument("--eval_batch_size", type=int, default=None,
                        help="RunConfig.eval_batch_size (default: the "
                        "engine's)")
    parser.add_argument("--output_dir", default=None,
                        help="the distillation's run folder (default: a "
                        "temporary one, removed afterwards)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line")
    args = parser.parse_args(argv)
    for name in ("train_size", "teacher_epochs", "epochs", "batch_size",
                 "validation_freq"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1.")
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first is left out).")
    return args


class EpochClock:
    """Wall-clock marks of a ``fit``'s epochs, steps and validations.

    `outer` goes first in the callback list and `inner` last, so that each
    step is timed as closely as callbacks can, and each epoch and
    validation as widely. `timed` wraps the ``on_epoch_end`` of callbacks
    to time them one by one.
    """

    def __init__(self):
        self.begins, self.ends = [], []
        self.first_step, self.last_step = {}, {}
        self.steps = collections.defaultdict(float)
        self.validation = collections.defaultdict(float)
        self.callbacks = collections.defaultdict(
            lambda: collections.defaultdict(float))
        #: The epochs (from 0) whose end committed a backup (None: every
        #: epoch's, a `Backup` without ``committed``).
        self.commits = []
        self.backup = None
        self._step = self._test = None

    def _epoch(self):
        return len(self.begins) - 1

    def outer(self):
        """The callback placed first."""
        clock, now = self, time.perf_counter

        class Outer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                clock.begins.append(now())

            def on_train_batch_end(self, batch, logs=None):
                clock.last_step[clock._epoch()] = now()
                clock.steps[clock._epoch()] += now() - clock._step

            def on_test_begin(self, logs=None):
                clock._test = now()

        return Outer()

    def inner(self):
        """The callback placed last."""
        clock, now = self, time.perf_counter

        class Inner(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                clock._step = now()
                clock.first_step.setdefault(clock._epoch(), clock._step)

            def on_test_end(self, logs=None):
                clock.validation[clock._epoch()] += now() - clock._test

            def on_epoch_end(self, epoch, logs=None):
                clock.ends.append(now())
                committed = getattr(clock.backup, "committed", None)
                if committed is None or committed == epoch + 1:
                    clock.commits.append(epoch)

        return Inner()

    def timed(self, callback):
        """``callback`` with its ``on_epoch_end`` timed."""
        original, name = callback.on_epoch_end, type(callback).__name__

        def on_epoch_end(epoch, logs=None):
            start = time.perf_counter()
            original(epoch, logs)
            self.callbacks[name][self._epoch()] += time.perf_counter() - start

        callback.on_epoch_end = on_epoch_end
        return callback

    def periods(self):
        """Each epoch's wall time (seconds)."""
        starts = self.begins[1:] + [self.ends[-1]]
        return [b - a for a, b in zip(self.begins, starts)]

    def spans(self):
        """Each epoch's time from its first step's start to its last's end."""
        return {e: self.last_step[e] - self.first_step[e]
                for e in self.first_step}

    @contextlib.contextmanager
    def around_run_folders(self):
        """Puts the clock around every `RunFolder`'s callbacks."""
        original = run_folder.RunFolder.callbacks

        def callbacks(folder, *args, **kwargs):
            inside = [self.timed(c) for c in original(folder, *args,
                                                      **kwargs)]
            self.backup = next(c for c in inside
                               if type(c).__name__ == "Backup")
            return [self.outer(), *inside, self.inner()]

        run_folder.RunFolder.callbacks = callbacks
        try:
            yield self
        finally:
            run_folder.RunFolder.callbacks = original


def teacher_file(args, base):
    """``--teacher_weights``, or a teacher trained once in ``--cache_dir``."""
    if args.teacher_weights:
        return args.teacher_weights
    config = dataclasses.replace(
        base, model=args.teacher, epochs=args.teacher_epochs,
        output_dir=str(pathlib.Path(args.cache_dir) / "teacher"))
    training.train_teacher(config)  # finds it finished on later runs
    return str(training.RunFiles(config.output_dir).last_checkpoint)


def per_epoch(values, epochs):
    """The mean of ``values`` (epoch -> seconds) over ``epochs``."""
    return sum(values.get(e, 0.0) for e in epochs) / len(epochs)


def figures(clock):
    """Seconds per epoch over the epochs after the first, and per epoch.

    Returns:
        A dict of figures, rounded: per epoch (means over the epochs after
        the first), the first epoch's, the whole fit's, and ``per_epoch``
        (each epoch's wall, step and validation seconds).
    """
    periods, spans = clock.periods(), clock.spans()
    rest = range(1, len(periods))
    epoch = sum(periods[1:]) / len(rest)
    steps = per_epoch(spans, rest)
    validation = per_epoch(clock.validation, rest)
    overhead = epoch - steps
    figures_ = {
        "timed_epochs": len(rest),
        "epoch_s": epoch,
        "step_time_s": steps,
        "in_steps_s": per_epoch(clock.steps, rest),
        "overhead_s": overhead,
        "overhead_pct": 100 * overhead / steps,
        "validation_s": validation,
        "validation_pct": 100 * validation / steps,
        "rest_s": overhead - validation,
        "rest_pct": 100 * (overhead - validation) / steps,
        "first_epoch_s": periods[0],
        "first_epoch_steps_s": spans[0],
        "fit_s": clock.ends[-1] - clock.begins[0],
    }
    rounded = {k: round(v, 4) for k, v in figures_.items()}
    rounded["on_epoch_end_s"] = {
        name: round(per_epoch(values, rest), 4)
        for name, values in clock.callbacks.items()}
    rounded["backups"] = len(clock.commits)
    rounded["per_epoch"] = {
        "wall_s": [round(p, 4) for p in periods],
        "steps_s": [round(spans[e], 4) for e in range(len(periods))],
        "in_steps_s": [round(clock.steps[e], 4)
                       for e in range(len(periods))],
        "validation_s": [round(clock.validation.get(e, 0.0), 4)
                         for e in range(len(periods))],
        "backed_up": clock.commits}
    return rounded


def run(args):
    """Trains (or finds) the teacher, then times the distillation.

    Returns:
        The result dict.
    """
    base = training.RunConfig(
        dataset=args.dataset, data_dir=args.data_dir,
        train_size=args.train_size, batch_size=args.batch_size,
        validation_freq=args.validation_freq,
        mixed_precision=args.mixed_precision, seed=args.seed, verbose="0")
    teacher = teacher_file(args, base)
    output = args.output_dir or tempfile.mkdtemp(prefix="epoch-overhead-")
    optional = {name: getattr(args, name) for name in OPTIONAL_FIELDS
                if getattr(args, name) is not None}
    config = dataclasses.replace(
        base, teacher=args.teacher, teacher_weights=teacher,
        student=args.student, epochs=args.epochs, output_dir=output,
        overwrite=True, **optional)
    try:
        with EpochClock().around_run_folders() as clock:
            start = time.perf_counter()
            training.distill(config)
            wall = time.perf_counter() - start
    finally:
        if not args.output_dir:
            shutil.rmtree(output, ignore_errors=True)
    steps_per_epoch = -(-args.train_size // args.batch_size)
    return {
        "benchmark": "epoch_overhead",
        **figures(clock),
        "steps_per_epoch": steps_per_epoch,
        "distill_s": round(wall, 2),
        "teacher_weights": teacher,
        "environment": harness.environment(),
        "options": vars(args),
    }


def main(argv=None):
    args = parse_args(argv)
    r = run(args)
    interval = ("the engine's default" if args.backup_interval_s is None
                else f"{args.backup_interval_s:g} s")
    eval_batch = ("the engine's default" if args.eval_batch_size is None
                  else args.eval_batch_size)
    lines = [
        f"{args.teacher} -> {args.student} on {args.dataset}, "
        f"{args.train_size} images ({r['steps_per_epoch']} steps of "
        f"{args.batch_size}), {args.epochs} epochs, {args.mixed_precision}, "
        f"validation every {args.validation_freq} (eval batch "
        f"{eval_batch}), backup interval {interval}, on "
        f"{r['environment']['device']}",
        f"  first epoch (traces)  {r['first_epoch_s']:7.2f} s "
        f"({r['first_epoch_steps_s']:.2f} s in steps)",
        f"  epochs 2-{args.epochs}, per epoch:",
        f"    step time           {r['step_time_s']:7.3f} s "
        f"({r['in_steps_s']:.3f} s in the compiled steps)",
        f"    overhead            {r['overhead_s']:7.3f} s "
        f"({r['overhead_pct']:.1f}% of the step time)",
        f"      validation        {r['validation_s']:7.3f} s "
        f"({r['validation_pct']:.1f}%)",
        f"      the rest          {r['rest_s']:7.3f} s "
        f"({r['rest_pct']:.1f}%; {r['backups']} backups in "
        f"{args.epochs} epochs), of which on_epoch_end:",
    ]
    lines += [f"        {name:22s}{seconds:7.3f} s"
              for name, seconds in r["on_epoch_end_s"].items()]
    lines.append(f"  fit {r['fit_s']:.1f} s, distill() {r['distill_s']:.1f} "
                 "s (data, models, summary included)")
    harness.emit(r, args.json, lines)


if __name__ == "__main__":
    main()
