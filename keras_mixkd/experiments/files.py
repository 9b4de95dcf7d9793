"""The files of an experiment folder: one JSON reader and writer, and the
paths of the run folders inside it.

Every JSON file of a comparison or a study (``compare.json``,
``teacher.json``, ``result.json``, ``analysis.json``, ``summary.json``,
``study.json``) is written by `write_json` and read by `read_json`, with one
policy: the files are strict JSON, so a float that is not finite (a NaN
accuracy of a diverged run, an undefined interval) is written as ``null``
and read back as None; a missing file reads as None. Where a run folder keeps
its checkpoints and summary is `keras_mixkd.training.run_folder`'s to say.

Example:

```python
write_json("runs/x/result.json", {"ece": float("nan")})
read_json("runs/x/result.json")  # {'ece': None}
```
"""

import json
import math
import pathlib

import keras

from keras_mixkd.training import run_folder
from keras_mixkd.training.atomic import atomic_write_text


def _finite(value):
    """``value`` with every non-finite float replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def read_json(path):
    """The JSON content of ``path``, or None when there is no such file.

    Args:
        path: the file.

    Returns:
        The decoded value (``null`` as None), or None for a missing file.
    """
    path = pathlib.Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def write_json(path, value):
    """Writes ``value`` as indented strict JSON, atomically.

    Args:
        path: the file (its folder is created if needed).
        value: a JSON-ready value; non-finite floats become ``null``.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(_finite(value), indent=2,
                                       allow_nan=False))


def describe_differences(previous, current):
    """The keys whose values differ between two flat dicts, as one line.

    Args:
        previous: the recorded settings.
        current: the requested settings.

    Returns:
        ``"key: old then new; ..."``, keys sorted.
    """
    return "; ".join(f"{k}: {previous.get(k)!r} then {current.get(k)!r}"
                     for k in sorted(set(previous) | set(current))
                     if previous.get(k) != current.get(k))


def run_summary(path):
    """The ``summary.json`` of a finished run folder, or None."""
    return read_json(pathlib.Path(path) / run_folder.SUMMARY_FILE)


def last_checkpoint(path):
    """The path of a run folder's last checkpoint."""
    return pathlib.Path(path) / run_folder.LAST_CHECKPOINT


def load_last(path):
    """The model of a run folder's last checkpoint (not compiled)."""
    return keras.saving.load_model(last_checkpoint(path), compile=False)
