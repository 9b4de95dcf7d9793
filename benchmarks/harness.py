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


def environment():
    """Where the figures come from: machine, devices, library versions.

    Returns:
        A JSON-serialisable dict.
    """
    import keras
    import tensorflow as tf

    name, flags = cpu_model()
    gpus = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        gpus.append(details.get("device_name", gpu.name))
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
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
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


def rate(call, images_per_call, calls):
    """Images per second of ``calls`` back-to-back calls of ``call()``.

    ``call`` must return only once its work is done (e.g. it reads its
    result), so that the clock stops when the last image is processed.
    """
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return images_per_call * calls / (time.perf_counter() - start)


def emit(result, as_json, lines):
    """Prints ``result`` as one JSON line, or ``lines`` as readable text."""
    if as_json:
        print(json.dumps(result, sort_keys=True))
    else:
        print("\n".join(lines))
    sys.stdout.flush()
