"""The MIX-KD study: its runs, where they live, what they found.

The paper's central experiment crosses a teacher trained with or without
mixup, a student distilled with or without mixup, and the temperature (1, 4,
or each network's logit std, i.e. the MIXSTD loss); the grid, its cells and
their names are `keras_mixkd.experiments.study.grid` (re-exported here). This module
holds the bookkeeping, without training anything: the study folder, which
runs are finished, and the aggregation of finished runs into CSV tables.
``mixkd study`` (`keras_mixkd.cli.study`) drives the training; ``mixkd
report`` draws the figures and the report.

```
<study>/study.json                      the grid; another grid is refused
<study>/teachers/<arch>-<mixup|plain>/  teacher run folder, analysis.json,
                                        test_logits.npy
<study>/cells/<cell>/                   distillation run folder, analysis.json
<study>/cells/<cell>--seed<s>/          the same cell with another seed
<study>/results.csv, teachers.csv       one row per cell / per teacher
<study>/figures/*.png                   heatmaps, teacher smoothness
```

A run is *trained* once its ``summary.json`` exists and *done* once its
``analysis.json`` (test-set smoothness and calibration) exists as well.

With ``seeds > 1`` every cell is distilled once per seed (the training
seed, then the following ones); the teachers are trained once, with the
training seed. The first seed's cell keeps the plain folder name, so seeds
can be added to a finished study. `seed_summaries` gives each cell's mean and
std over seeds and its difference to the study's baseline cell (no student
mixup, T=4: classic KD from the same teacher), paired by seed, with a 95%
Student-t interval (`keras_mixkd.experiments.statistics`).

Example:

```python
grid = StudyGrid("digits", teachers=["resnet14"], students=["resnet8"])
study = Study("runs/study", grid)
grid.cells()[0].name  # 'resnet14-plain--resnet8-plain--T1'
```
"""

import pathlib

from keras_mixkd.experiments import statistics
from keras_mixkd.experiments import tables
from keras_mixkd.experiments.study.grid import STD
from keras_mixkd.experiments.study.grid import StudyGrid
from keras_mixkd.experiments.study.grid import TeacherSpec
from keras_mixkd.experiments.study.grid import parse_switch
from keras_mixkd.experiments.study.grid import parse_temperature
from keras_mixkd.experiments.study.grid import temperature_key
from keras_mixkd.experiments.study.grid import yes_no
from keras_mixkd.experiments.evaluate import ANALYSIS_KEYS
from keras_mixkd.experiments.files import describe_differences
from keras_mixkd.training.json_file import read_json
from keras_mixkd.training.json_file import write_json
from keras_mixkd.training.config import upgrade_record
from keras_mixkd.training.run_files import RunFiles

#: The baseline cell of the statistics over seeds: classic KD at this
#: temperature, without student mixup, from the same teacher.
BASELINE_TEMPERATURE = 4.0

#: Columns of ``results.csv``, one row per cell.
RESULT_COLUMNS = (
    "cell", "seed", "teacher", "teacher_mixup", "student", "student_mixup",
    "student_mixing", "temperature", "best_accuracy", "last_accuracy",
    "best_epoch", "epochs", "logit_std_mean", "entropy_mean",
    "confidence_mean", "ece", "nll", "brier", "teacher_accuracy",
    "teacher_logit_std_mean", "teacher_entropy_mean",
    "teacher_confidence_mean", "teacher_ece", "wall_time_s")

#: Columns of ``teachers.csv``, one row per teacher.
TEACHER_COLUMNS = (
    "teacher", "teacher_mixup", "best_accuracy", "last_accuracy", "epochs",
    "logit_std_mean", "entropy_mean", "confidence_mean", "ece", "nll",
    "brier", "wall_time_s")

_TEXT_COLUMNS = ("cell", "teacher", "student", "student_mixing")


class Study:
    """A study folder: its grid, its runs and their status.

    Args:
        root: the study folder; created if needed.
        grid: the `StudyGrid`. If the folder's ``study.json`` holds another
            grid, a `ValueError` names the differences: a study resumes only
            with the grid it started with.

    Example:

    >>> study = Study("runs/study", grid)
    >>> [cell.name for cell in grid.cells() if study.status(cell) != "done"]
    """

    def __init__(self, root, grid):
        self.root = pathlib.Path(root)
        self.grid = grid
        previous = read_json(self.root / "study.json")
        if previous is not None and isinstance(previous.get("training"), dict):
            previous["training"] = upgrade_record(previous["training"])
        current = grid.to_dict()
        if previous is not None and _without_seeds(previous) != (
                _without_seeds(current)):
            raise ValueError(
                f"The study folder {self.root} holds another grid (differs in:"
                f" {_differences(previous, current)}). Resume it with the "
                "same flags, or choose another `output_dir`.")
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(self.root / "study.json", current)

    @classmethod
    def load(cls, root):
        """The study of an existing folder (from its ``study.json``)."""
        config = read_json(pathlib.Path(root) / "study.json")
        if config is None:
            raise ValueError(f"{root} is not a study folder: it has no "
                             "study.json (run 'mixkd study' first).")
        return cls(root, StudyGrid.from_dict(config))

    def path(self, run):
        """The run folder of a `TeacherSpec` or a `Cell`."""
        if isinstance(run, TeacherSpec):
            return self.root / "teachers" / run.name
        return self.root / "cells" / run.folder

    def status(self, run):
        """``"done"``, ``"trained"`` (not evaluated yet) or ``"pending"``."""
        files = RunFiles(self.path(run))
        if not files.summary_file.is_file():
            return "pending"
        return "done" if files.analysis_file.is_file() else "trained"

    def teacher_rows(self):
        """One dict per done teacher (the `TEACHER_COLUMNS`)."""
        rows = []
        for spec in self.grid.teacher_specs():
            if self.status(spec) == "done":
                rows.append({"teacher": spec.arch, "teacher_mixup": spec.mixup,
                             **self._run_values(spec)})
        return rows

    def result_rows(self):
        """One dict per done cell (the `RESULT_COLUMNS`), in grid order."""
        teachers = {TeacherSpec(r["teacher"], r["teacher_mixup"]): r
                    for r in self.teacher_rows()}
        rows = []
        for cell in self.grid.cells():
            if self.status(cell) != "done":
                continue
            teacher = teachers.get(cell.teacher, {})
            seed = self.grid.base_seed if cell.seed is None else cell.seed
            rows.append({
                "cell": cell.name, "seed": seed,
                "teacher": cell.teacher.arch,
                "teacher_mixup": cell.teacher.mixup, "student": cell.student,
                "student_mixup": cell.student_mixup,
                "student_mixing": cell.student_mixing,
                "temperature": cell.temperature, **self._run_values(cell),
                "teacher_accuracy": teacher.get("last_accuracy"),
                **{f"teacher_{k}": teacher.get(k)
                   for k in ANALYSIS_KEYS[1:5]}})
        return rows

    def _run_values(self, run):
        files = RunFiles(self.path(run))
        summary, measured = files.summary(), files.analysis()
        values = {k: summary.get(k) for k in ("best_accuracy", "last_accuracy",
                                              "best_epoch", "epochs",
                                              "wall_time_s")}
        values.update({k: measured.get(k) for k in ANALYSIS_KEYS[1:]})
        return values

    def write_tables(self):
        """Writes ``results.csv`` and ``teachers.csv`` from the done runs.

        Returns:
            ``(result_rows, teacher_rows)``.
        """
        rows, teachers = self.result_rows(), self.teacher_rows()
        write_csv(self.root / "results.csv", rows, RESULT_COLUMNS)
        write_csv(self.root / "teachers.csv", teachers, TEACHER_COLUMNS)
        return rows, teachers


def _without_seeds(config):
    return {k: v for k, v in config.items() if k != "seeds"}


def seed_summaries(rows, key="last_accuracy"):
    """Statistics over seeds of each cell against its baseline cell.

    Cells are grouped by teacher (architecture and mixup) and student; in
    each group the baseline is the cell without student mixup at
    `BASELINE_TEMPERATURE` (classic KD), and every cell's difference to it
    is paired by seed (`keras_mixkd.experiments.statistics.summarize`).

    Args:
        rows: result rows (`Study.result_rows` or `read_csv`), with ``cell``
            and ``seed``.
        key: the measured value.

    Returns:
        ``{cell name: entry}`` with the entries of `statistics.summarize`
        plus ``baseline`` (the baseline cell's name); cells of a group
        without a finished baseline cell are left out.

    Example:

    >>> seed_summaries(read_csv("runs/study/results.csv"))
    """
    groups = {}
    for row in rows:
        groups.setdefault((row["teacher"], row["teacher_mixup"],
                           row["student"]), []).append(row)
    out = {}
    for group in groups.values():
        base = [r["cell"] for r in group if not r["student_mixup"]
                and r["temperature"] != STD
                and float(r["temperature"]) == BASELINE_TEMPERATURE
                and r.get(key) is not None]
        if not base:
            continue
        summary = statistics.summarize(group, base[0], value=key,
                                       group="cell")
        for cell, entry in summary["methods"].items():
            out[cell] = {**entry, "baseline": base[0]}
    return out


def _flatten(config):
    flat = {k: v for k, v in config.items() if k != "training"}
    training = config.get("training")
    if isinstance(training, dict):
        flat.update({f"training.{k}": v for k, v in training.items()})
    return flat


def _differences(previous, current):
    return describe_differences(_flatten(previous), _flatten(current))


def write_csv(path, rows, columns):
    """Writes dict rows as CSV (bools as yes/no, temperatures as text)."""
    formats = {c: yes_no for c in ("teacher_mixup", "student_mixup")}
    tables.write_csv(path, rows, columns,
                     {**formats, "temperature": temperature_key})


def read_csv(path):
    """Reads a `write_csv` table back, with bools, temperatures and floats.

    Example:

    >>> rows = read_csv("runs/study/results.csv")
    """
    parsers = {c: str for c in _TEXT_COLUMNS}
    parsers.update({"teacher_mixup": parse_switch,
                    "student_mixup": parse_switch,
                    "temperature": parse_temperature,
                    "seed": lambda text: int(float(text))})
    return tables.read_csv(path, parsers)
