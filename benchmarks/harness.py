"""What the benchmark scripts share: the machine, precision, timing, output.

Benchmarks are scripts, not tests: they print figures (one JSON line with
``--json``) and assert nothing about speed.
"""

import datetime
import json
import os
import platform
import statistics
import sys
import time

# Names of ``--mixed_precision`` -> Keras policies, shared with the engine.
from keras_mixkd.training import PRECISION_POLICIES


def cpu_model():
    """The CPU model name and the flags that matter for bfloat16."""
    name, flags = platform.processor() or "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    name = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    wanted = ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16")
    return name, [flag for flag in wanted if flag in flags]


def environment(with_tensorflow=True):
    """Where the figures come from: machine, devices, library versions.

    Args:
        with_tensorflow: whether to list TensorFlow's GPUs and the versions
            of TensorFlow and Keras (False: imports neither, e.g. for the
            PyTorch reference).

    Returns:
        A JSON-serialisable dict.
    """
    name, flags = cpu_model()
    gpus, versions = [], {}
    if with_tensorflow:
        import keras
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            details = tf.config.experimental.get_device_details(gpu)
            gpus.append(details.get("device_name", gpu.name))
        versions = {"tensorflow": tf.__version__, "keras": keras.__version__}
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = None
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": name,
        "cpu_flags": flags,
        "cpu_cores": os.cpu_count(),
        "load_average": load,
        "gpus": gpus,
        "device": (", ".join(gpus) if gpus
                   else f"CPU: {name} ({os.cpu_count()} cores)"),
        **versions,
        "python": platform.python_version(),
    }


def set_precision(name):
    """Sets the global Keras dtype policy from a ``--mixed_precision`` name."""
    import keras

    if name not in PRECISION_POLICIES:
        raise ValueError(f"--mixed_precision must be one of "
                         f"{', '.join(PRECISION_POLICIES)}, got {name!r}.")
    keras.mixed_precision.set_global_policy(PRECISION_POLICIES[name])


def summarise(rates):
    """Median and spread of repeated images-per-second measurements."""
    return {"median": statistics.median(rates), "min": min(rates),
            "max": max(rates), "repeats": [round(r, 2) for r in rates]}


def step_seconds(call, calls):
    """Wall time of each of ``calls`` back-to-back calls of ``call()``.

    ``call`` must return only once its work is done (e.g. it reads its
    result), so that the clock stops when the last image is processed.
    """
    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return seconds


def median_rate(seconds, images_per_step):
    """Images per second of the median step (as the PyTorch reference)."""
    return images_per_step / statistics.median(seconds)


def emit(result, as_json, lines):
    """Prints ``result`` as one JSON line, or ``lines`` as readable text."""
    if as_json:
        print(json.dumps(result, sort_keys=True))
    else:
        print("\n".join(lines))
    sys.stdout.flush()
