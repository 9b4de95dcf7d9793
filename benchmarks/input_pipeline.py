"""Input-pipeline throughput: `keras_mixkd.data.load`'s train pipeline.

Iterates the train pipeline (cache, shuffle, random crop and flip,
normalisation, batching, prefetch) of the bundled digits and of CIFAR-100
as tfds mocks it (`tfds.testing.mock_data`: random images of the real
shapes and dtypes through the real pipeline, no download), and reports images
per second once the cache is filled (the first epoch is reported apart).

Training must never wait for its data: pass the distillation step's rate
(``fit_img_per_s`` of distill_throughput.py) as ``--consumption`` and the
script reports how many times faster the pipeline produces than training
consumes (``headroom``; BENCHMARKS.md asks for >= 5). Run from the
repository root:

    python benchmarks/input_pipeline.py [--json] [--consumption=IMG_PER_S]
"""

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import harness  # noqa: E402

from keras_mixkd import data  # noqa: E402


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="digits,cifar100",
                        help="comma-separated: digits, cifar10, cifar100 "
                             "(CIFAR is mocked by tfds)")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=200,
                        help="batches per timed repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mock_examples", type=int, default=4096,
                        help="examples per split of the mocked CIFAR")
    parser.add_argument("--consumption", type=float, default=None,
                        help="training's images per second, for the headroom")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line")
    args = parser.parse_args(argv)
    for name in ("batch_size", "batches", "repeats", "mock_examples"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1.")
    return args


def _drain(iterator, batches):
    """Images in the next ``batches`` batches of ``iterator``."""
    images = 0
    for _ in range(batches):
        x, _ = next(iterator)
        images += int(x.shape[0])
    return images


def measure(train_ds, args):
    """Cold first-epoch and steady images per second of a train pipeline."""
    start = time.perf_counter()
    first = sum(int(x.shape[0]) for x, _ in train_ds)  # fills the cache
    cold = first / (time.perf_counter() - start)
    iterator = iter(train_ds.repeat())
    _drain(iterator, 2)
    rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        images = _drain(iterator, args.batches)
        rates.append(images / (time.perf_counter() - start))
    return {"first_epoch_img_per_s": round(cold, 1),
            "img_per_s": round(harness.summarise(rates)["median"], 1),
            "spread": harness.summarise(rates), "epoch_images": first}


def pipeline(name, args):
    """The train pipeline of ``name`` (CIFAR mocked by tfds)."""
    if name == "digits":
        return data.load("digits", batch_size=args.batch_size)[0]
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=args.mock_examples):
        return data.load(name, batch_size=args.batch_size)[0]


def run(args):
    """Measures every dataset; returns the result dict."""
    results = {}
    for name in args.datasets.split(","):
        results[name] = measure(pipeline(name.strip(), args), args)
        if args.consumption:
            results[name]["headroom"] = round(
                results[name]["img_per_s"] / args.consumption, 1)
    env = harness.environment()
    return {"benchmark": "input_pipeline", "datasets": results,
            "device": env["device"], "environment": env,
            "options": vars(args)}


def main(argv=None):
    args = parse_args(argv)
    result = run(args)
    lines = [f"train pipelines, batch {args.batch_size}, on "
             f"{result['device']}"]
    for name, r in result["datasets"].items():
        headroom = (f", {r['headroom']}x training's consumption"
                    if "headroom" in r else "")
        lines.append(f"  {name:9s} {r['img_per_s']:9.0f} img/s (first epoch "
                     f"{r['first_epoch_img_per_s']:.0f}){headroom}")
    harness.emit(result, args.json, lines)


if __name__ == "__main__":
    main()
