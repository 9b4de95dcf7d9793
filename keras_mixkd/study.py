"""The MIX-KD study grid: its runs, where they live, what they found.

The paper's central experiment crosses a teacher trained with or without
mixup, a student distilled with or without mixup, and the temperature (1, 4,
or each network's logit std, i.e. the MIXSTD loss). This module holds the
grid and its bookkeeping, without training anything: the cells and their
names, the study folder, which runs are finished, and the aggregation of
finished runs into CSV tables. ``mixkd study`` (`keras_mixkd.cli.study`)
drives the training; ``mixkd report`` draws the figures and the report.

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
Student-t interval (`keras_mixkd.statistics`).

Example:

```python
grid = StudyGrid("digits", teachers=["resnet14"], students=["resnet8"])
study = Study("runs/study", grid)
grid.cells()[0].name  # 'resnet14-plain--resnet8-plain--T1'
```
"""

import dataclasses
import json
import pathlib

import numpy as np

from keras_mixkd import analysis
from keras_mixkd import statistics
from keras_mixkd import tables
from keras_mixkd.training.atomic import atomic_write_text
from keras_mixkd.training.config import upgrade_record

#: The temperature value that means "each network's logit std" (MIXSTD).
STD = "std"

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

#: Measures of `evaluate_logits`, stored in each run's ``analysis.json``.
ANALYSIS_KEYS = ("accuracy", "logit_std_mean", "entropy_mean",
                 "confidence_mean", "ece", "nll", "brier")

_SWITCHES = {"yes": True, "true": True, "1": True, "no": False,
             "false": False, "0": False}
_TEXT_COLUMNS = ("cell", "teacher", "student", "student_mixing")


def parse_switch(value):
    """``yes``/``no`` (or true/false, 1/0, or a bool) as a bool.

    Example:

    >>> parse_switch("yes")  # True
    """
    if isinstance(value, bool):
        return value
    key = str(value).strip().lower()
    if key not in _SWITCHES:
        raise ValueError(f"Expected yes or no, got {value!r}.")
    return _SWITCHES[key]


def parse_temperature(value):
    """A grid temperature: ``"std"`` (MIXSTD) or a positive float.

    Example:

    >>> parse_temperature("4"), parse_temperature("std")  # (4.0, 'std')
    """
    if str(value).strip().lower() in (STD, "mixstd"):
        return STD
    try:
        temperature = float(value)
    except (TypeError, ValueError):
        temperature = float("nan")
    if not temperature > 0:
        raise ValueError(f"A temperature is a number > 0 or 'std' (the "
                         f"std-scaled MIXSTD loss), got {value!r}.")
    return temperature


def temperature_key(temperature):
    """Short text of a temperature: ``"4"``, ``"2.5"`` or ``"std"``."""
    if temperature == STD:
        return STD
    return f"{float(temperature):g}"


def yes_no(flag):
    """``"yes"`` or ``"no"``."""
    return "yes" if flag else "no"


@dataclasses.dataclass(frozen=True)
class TeacherSpec:
    """One teacher of the grid: an architecture, trained with mixup or not."""

    arch: str
    mixup: bool

    @property
    def name(self):
        """Folder name, e.g. ``resnet14-mixup`` or ``resnet14-plain``."""
        return f"{self.arch}-{'mixup' if self.mixup else 'plain'}"


    @property
    def label(self):
        """Readable label, e.g. ``resnet14, mixup``."""
        return f"{self.arch}, {'mixup' if self.mixup else 'no mixup'}"


@dataclasses.dataclass(frozen=True)
class Cell:
    """One distillation run of the grid.

    Attributes:
        teacher: the `TeacherSpec`.
        student: student architecture.
        student_mixup: whether the student is distilled on mixed batches.
        temperature: a float (classic KD at that temperature) or ``"std"``
            (the MIXSTD loss).
        mixing: the mixing of student-mixup cells (``"fmu"`` or ``"pmu"``).
        seed: the training seed of a repeat; None for the study's own seed.
    """

    teacher: TeacherSpec
    student: str
    student_mixup: bool
    temperature: object
    mixing: str = "fmu"
    seed: int = None

    @property
    def student_mixing(self):
        """The ``--mixing`` of this cell: ``self.mixing`` or ``"none"``."""
        return self.mixing if self.student_mixup else "none"

    @property
    def name(self):
        """The cell's name, e.g. ``resnet14-mixup--resnet8-fmu--T4`` (the
        same for every seed)."""
        student = self.student_mixing if self.student_mixup else "plain"
        return (f"{self.teacher.name}--{self.student}-{student}--"
                f"T{temperature_key(self.temperature)}")

    @property
    def folder(self):
        """Folder name: the `name`, with ``--seed<s>`` for a repeat."""
        return self.name + ("" if self.seed is None else f"--seed{self.seed}")

    def distill_flags(self):
        """This cell's ``mixkd distill`` flags: loss, temperature, mixing."""
        std = self.temperature == STD
        return {"loss": "mixstd" if std else "kd",
                "temperature": None if std else float(self.temperature),
                "mixing": self.student_mixing}


def _axis(name, values, parse=lambda v: v):
    values = tuple(parse(v) for v in values)
    if not values:
        raise ValueError(f"The study axis `{name}` is empty; give at least "
                         "one value.")
    if len(set(values)) != len(values):
        raise ValueError(f"The study axis `{name}` repeats a value: "
                         f"{list(values)}.")
    return values


@dataclasses.dataclass(frozen=True)
class StudyGrid:
    """The axes of a study and the training settings shared by its runs.

    Args:
        dataset: dataset name.
        teachers: teacher architectures.
        students: student architectures.
        teacher_mixup: teacher trained with mixup: ``(False, True)`` or a part.
        student_mixup: student distilled with mixup, likewise.
        temperatures: floats and/or ``"std"``.
        mixing: the mixing of student-mixup cells, ``"fmu"`` or ``"pmu"``.
        training: other settings (epochs, batch size, seed, ...); recorded
            in ``study.json`` so a resumed study uses the same ones.
        seeds: how many seeds each cell is distilled with (the training
            seed and the following ones); may grow when a study resumes.
    """

    dataset: str
    teachers: tuple
    students: tuple
    teacher_mixup: tuple = (False, True)
    student_mixup: tuple = (False, True)
    temperatures: tuple = (1.0, 4.0, STD)
    mixing: str = "fmu"
    training: dict = dataclasses.field(default_factory=dict)
    seeds: int = 1

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "teachers", _axis("teachers", self.teachers, str))
        set_(self, "students", _axis("students", self.students, str))
        for axis in ("teacher_mixup", "student_mixup"):
            set_(self, axis, _axis(axis, getattr(self, axis), parse_switch))
        set_(self, "temperatures",
             _axis("temperatures", self.temperatures, parse_temperature))
        if self.mixing not in ("fmu", "pmu"):
            raise ValueError(f"The mixing of student-mixup cells must be "
                             f"'fmu' or 'pmu', got {self.mixing!r}.")
        set_(self, "training", dict(self.training))
        if int(self.seeds) != self.seeds or self.seeds < 1:
            raise ValueError(f"`seeds` must be an integer >= 1, got "
                             f"{self.seeds}.")
        set_(self, "seeds", int(self.seeds))

    @property
    def base_seed(self):
        """The training seed: the teachers' and the first of the cells'."""
        return int(self.training.get("seed") or 0)

    def seed_values(self):
        """The seeds of the cells, the training seed first."""
        return list(range(self.base_seed, self.base_seed + self.seeds))

    def teacher_specs(self):
        """Every `TeacherSpec`, in training order."""
        return [TeacherSpec(arch, mixup) for arch in self.teachers
                for mixup in self.teacher_mixup]

    def cells(self, teacher=None):
        """Every `Cell` (of one `TeacherSpec` if given) and seed, in
        training order (all cells of a seed before the next seed)."""
        specs = self.teacher_specs() if teacher is None else [teacher]
        return [Cell(spec, student, mixup, temperature, self.mixing,
                     None if seed == self.base_seed else seed)
                for spec in specs for seed in self.seed_values()
                for student in self.students
                for mixup in self.student_mixup
                for temperature in self.temperatures]

    def to_dict(self):
        """The grid as JSON-ready data (what ``study.json`` holds)."""
        return {"dataset": self.dataset, "teachers": list(self.teachers),
                "students": list(self.students),
                "teacher_mixup": [yes_no(m) for m in self.teacher_mixup],
                "student_mixup": [yes_no(m) for m in self.student_mixup],
                "temperatures": list(map(temperature_key, self.temperatures)),
                "mixing": self.mixing, "training": self.training,
                **({"seeds": self.seeds} if self.seeds != 1 else {})}

    @classmethod
    def from_dict(cls, config):
        """The inverse of `to_dict` (also of an earlier version's)."""
        config = dict(config)
        config["training"] = upgrade_record(config.get("training") or {})
        return cls(**config)


def evaluate_logits(logits, labels):
    """Accuracy, smoothness and calibration of test logits.

    Args:
        logits: ``(samples, classes)`` logits.
        labels: ``(samples,)`` integer labels.

    Returns:
        A dict with the `ANALYSIS_KEYS`: ``accuracy``, the means of the logit
        std, entropy and confidence (`analysis.smoothness_summary`), ``ece``,
        ``nll`` and ``brier``.

    Example:

    >>> evaluate_logits(*analysis.collect_logits(model, test_ds,
    ...                                     return_labels=True))
    """
    logits = np.asarray(logits, dtype="float64")
    labels = np.asarray(labels).reshape(-1)
    probs = analysis.softmax(logits)
    smooth = analysis.smoothness_summary(logits)
    return {"accuracy": float(np.mean(probs.argmax(axis=1) == labels)),
            **{k: smooth[k] for k in ANALYSIS_KEYS[1:4]},
            "ece": analysis.expected_calibration_error(labels, probs),
            "nll": analysis.negative_log_likelihood(labels, probs),
            "brier": analysis.brier_score(labels, probs)}


def _read_json(path):
    path = pathlib.Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def write_json(path, value):
    """Writes ``value`` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(value, indent=2))


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
        previous = _read_json(self.root / "study.json")
        if previous is not None and isinstance(previous.get("training"), dict):
            previous["training"] = upgrade_record(previous["training"])
        current = grid.to_dict()
        if previous is not None and _without_seeds(previous) != (
                _without_seeds(current)):
            raise ValueError(
                f"The study folder {self.root} holds another grid (differs in:"
                f" {_differences(previous, current)}). Resume it with the "
                "same flags, or choose another --output_dir.")
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(self.root / "study.json", current)

    @classmethod
    def load(cls, root):
        """The study of an existing folder (from its ``study.json``)."""
        config = _read_json(pathlib.Path(root) / "study.json")
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
        path = self.path(run)
        if not (path / "summary.json").is_file():
            return "pending"
        return "done" if (path / "analysis.json").is_file() else "trained"

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
        path = self.path(run)
        summary = _read_json(path / "summary.json")
        measured = _read_json(path / "analysis.json")
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
    is paired by seed (`keras_mixkd.statistics.summarize`).

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
    previous, current = _flatten(previous), _flatten(current)
    return "; ".join(f"{k}: {previous.get(k)!r} then {current.get(k)!r}"
                     for k in sorted(set(previous) | set(current))
                     if previous.get(k) != current.get(k))


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
