"""A comparison folder: the base configuration it is bound to, and where
each (method, seed) run lives.

```
<dir>/compare.json               base configuration (another one is refused),
                                 the methods, seeds and baseline last asked,
                                 the settings of every user-defined method
                                 it ran (another definition is refused)
<dir>/teacher/                   the teacher's run folder (unless weights)
<dir>/teacher.json               the teacher's figures
<dir>/runs/<method>/seed-<s>/    one student run folder, with result.json
<dir>/results.csv, summary.json  one row per (method, seed); statistics
```

Example:

```python
folder = ComparisonFolder("runs/compare", base_record(config))
folder.result("kd", 0)  # the run's result.json, or None
```
"""

import dataclasses
import pathlib

from keras_mixkd import training
from keras_mixkd.experiments.compare.methods import PER_RUN_KEYS
from keras_mixkd.experiments.compare.methods import as_method
from keras_mixkd.experiments.files import describe_differences
from keras_mixkd.training.json_file import read_json
from keras_mixkd.training.json_file import write_json


def base_record(config, teacher_epochs=None):
    """The settings a comparison folder is bound to (JSON-ready): the
    training settings, the models and every other field that differs from
    its default (so a field a later version adds keeps folders resuming)."""
    always = training.config.TRAINING_KEYS + ("teacher", "student",
                                              "teacher_weights")
    record = {f.name: config.recorded(f.name)
              for f in dataclasses.fields(config)
              if f.name not in PER_RUN_KEYS and (
                  f.name in always or getattr(config, f.name) != f.default)}
    record["teacher_epochs"] = teacher_epochs or config.epochs
    record["seed"] = config.seed  # the teacher's and the first student's
    return record


def _with_defaults(record):
    """``record`` with every `RunConfig` field it omits at its default: an
    earlier version may have recorded a default that today's leaves out."""
    defaults = {f.name: f.default for f in dataclasses.fields(
        training.RunConfig) if f.name not in PER_RUN_KEYS}
    return {**defaults, **record}


class ComparisonFolder:
    """A comparison folder: its base configuration and its runs.

    Args:
        root: the folder; created if needed.
        base: `base_record` of the configuration. When the folder's
            ``compare.json`` holds another one, a `ValueError` names the
            differences.
    """

    def __init__(self, root, base):
        self.root = pathlib.Path(root)
        request = read_json(self.root / "compare.json") or {}
        #: The settings of the user-defined methods run here, by name.
        self.custom = request.get("custom", {})
        previous = request.get("base")
        if previous is not None:
            previous = _with_defaults(
                training.config.upgrade_record(previous))
        if previous is not None and previous != _with_defaults(base):
            current = _with_defaults(base)
            changed = describe_differences(previous, current)
            raise ValueError(
                f"The comparison folder {self.root} was started with another "
                f"base configuration (differs in: {changed}). Rerun with the "
                "same flags (adding `methods` or `seeds` is fine), or choose "
                "another `output_dir`.")
        self.base = base

    def check_custom(self, custom):
        """Raises `ValueError` when a user-defined method's settings differ
        from those the folder ran under the same name (naming the
        differences).

        Args:
            custom: ``{name: settings}``, each method's resolved settings
                (JSON-ready).
        """
        for name, settings in custom.items():
            previous = self.custom.get(name)
            if previous is not None and previous != settings:
                raise ValueError(
                    f"The comparison folder {self.root} ran method {name} "
                    "with other settings (differs in: "
                    f"{describe_differences(previous, settings)}). Give the "
                    "new definition another name, or choose another "
                    "`output_dir`.")

    def record_request(self, methods, seeds, baseline, custom=None):
        """Writes ``compare.json``: the base and what was last asked.

        Args:
            methods: the names, or ``{name: Method}``.
            seeds: the seeds.
            baseline: the baseline's name.
            custom: ``{name: settings}`` of the user-defined methods asked
                (added to those recorded before; see `check_custom`).
        """
        if not isinstance(methods, dict):
            methods = {name: as_method(name) for name in methods}
        self.check_custom(custom or {})
        self.custom = {**self.custom, **(custom or {})}
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(self.root / "compare.json", {
            "base": self.base, "methods": list(methods),
            "seeds": list(seeds), "baseline": baseline,
            "descriptions": {m: method.describe(self.base)
                             for m, method in methods.items()},
            **({"custom": self.custom} if self.custom else {})})

    def run_path(self, method, seed):
        """The run folder of one (method, seed)."""
        return self.root / "runs" / method / f"seed-{seed}"

    def result(self, method, seed):
        """The ``result.json`` of a finished run, or None."""
        return read_json(self.run_path(method, seed) / "result.json")

