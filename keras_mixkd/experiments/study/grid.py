"""The MIX-KD study grid: its axes, cells and teachers, as values.

The paper's central experiment crosses a teacher trained with or without
mixup, a student distilled with or without mixup, and the temperature (1, 4,
or each network's logit std, i.e. the MIXSTD loss), optionally over seeds.
`StudyGrid` holds the axes and enumerates its `TeacherSpec`s and `Cell`s;
`keras_mixkd.experiments.study` keeps the folder where they run.

Example:

```python
grid = StudyGrid("digits", teachers=["resnet14"], students=["resnet8"])
grid.cells()[0].name  # 'resnet14-plain--resnet8-plain--T1'
```
"""

import dataclasses

from keras_mixkd.training.config import upgrade_record

#: The temperature value that means "each network's logit std" (MIXSTD).
STD = "std"

_SWITCHES = {"yes": True, "true": True, "1": True, "no": False,
             "false": False, "0": False}


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
