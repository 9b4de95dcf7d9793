"""The package's one JSON reader and writer.

Every JSON file keras_mixkd writes (a run folder's ``config.json``,
``summary.json``, ``last.json`` and ``best.json``; an experiment's
``compare.json``, ``teacher.json``, ``result.json``, ``analysis.json``,
``study.json``) goes through `write_json` and comes back through
`read_json`, with one policy:

- the files are strict JSON: a float that is not finite (the NaN accuracy
  of a diverged run, an undefined interval) is written as ``null`` and read
  back as None;
- each file is written whole or not at all (a temporary name, then a
  rename), so a kill never leaves half a file;
- a missing file reads as None; a file that is there but not JSON (edited
  by hand, cut short by a full disk) is an error that names it: a damaged
  record is never taken for an absent one.

Example:

```python
write_json("runs/x/result.json", {"ece": float("nan")})
read_json("runs/x/result.json")  # {'ece': None}
```
"""

import json
import math
import pathlib

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

    Raises:
        ValueError: the file exists but is not JSON (the message names it
            and says what to do).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        return None
    text = path.read_text()
    try:
        return json.loads(text)
    except ValueError as error:
        raise ValueError(
            f"{path} is not valid JSON ({error}). keras_mixkd writes its "
            "files whole, so it was changed by something else: restore it, "
            "or remove it (a run folder: give `overwrite=True` to start the run "
            "again).") from None


def write_json(path, value, sort_keys=False):
    """Writes ``value`` as indented strict JSON, atomically.

    Args:
        path: the file (its folder is created if needed).
        value: a JSON-ready value; non-finite floats become ``null``.
        sort_keys: write the keys of every object sorted.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(_finite(value), indent=2,
                                       allow_nan=False, sort_keys=sort_keys))
