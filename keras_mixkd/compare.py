"""Compare student training methods over seeds, against one teacher.

`compare` trains (or loads) one teacher, then each method of `METHODS` once
per seed, from the same base `keras_mixkd.training.RunConfig`; every run is a
resumable run folder of the engine. Each finished run is evaluated (clean
test and training-set accuracy, calibration on the probabilities the student
was trained to produce) and the folder is summarised in ``results.csv``
and ``summary.json`` (`keras_mixkd.compare_results`, with
`keras_mixkd.statistics`); `keras_mixkd.report.write_report` adds
``summary.md`` and ``comparison.png`` (``mixkd compare`` does both).

```
<dir>/compare.json               base configuration (another one is refused),
                                 the methods, seeds and baseline last asked
<dir>/teacher/                   the teacher's run folder (unless weights)
<dir>/teacher.json               the teacher's figures
<dir>/runs/<method>/seed-<s>/    one student run folder, with result.json
<dir>/results.csv, summary.json  one row per (method, seed); statistics
<dir>/summary.md, comparison.png the report (keras_mixkd.report)
```

A (method, seed) run is finished once its ``result.json`` exists; calling
`compare` again runs only the unfinished ones (resuming a run stopped
mid-training), so adding seeds or methods trains only those.

Example:

```python
config = RunConfig(dataset="digits", teacher="resnet14", student="resnet8",
                   epochs=8, output_dir="runs/compare-digits")
summary = compare(config, methods=("alone", "kd", "mixkd"), seeds=3)
summary["methods"]["mixkd"]["diff_ci95"]
```
"""

import dataclasses
import pathlib

import keras

from keras_mixkd import analysis
from keras_mixkd import compare_results
from keras_mixkd import data
from keras_mixkd import models
from keras_mixkd import training
from keras_mixkd.compare_results import read_json
from keras_mixkd.compare_results import write_json
from keras_mixkd.training.engine import check_model_name
from keras_mixkd.training.engine import dataset_info


@dataclasses.dataclass(frozen=True)
class Method:
    """One way of training the student.

    Attributes:
        description: one line, for help texts and reports.
        settings: the `RunConfig` fields this method sets (the others come
            from the base configuration).
        distilled: False for the student trained alone (no teacher).
    """

    description: str
    settings: dict
    distilled: bool = True


def _settings(loss, mixing="none", sampling="official", temperature=None):
    """A method's `RunConfig` fields. Partial mixup mixes 10% (the official
    ``--partmixup 0.9``); the mixing settings of other mixings keep their
    defaults, and without mixing ``mixup_alpha`` is None (the engine's
    rule)."""
    settings = {"loss": loss, "temperature": temperature, "mixing": mixing,
                "mix_fraction": 0.1, "mix_sampling": sampling}
    if mixing == "none":
        settings["mixup_alpha"] = None
    return settings


#: The methods `compare` knows, by name.
METHODS = {
    "alone": Method(
        "the student trained alone: cross-entropy on the labels, no teacher, "
        "no mixing", {"mixup_alpha": None}, distilled=False),
    "kd": Method(
        "classic KD (Hinton), T=4 with T^2 scaling, CE 0.1 + KD 0.9, no "
        "mixing", _settings("kd", temperature=4.0)),
    "mixkd": Method(
        "the paper's recipe as the official code runs it: MIXSTD loss, "
        "partial mixup of 10% with official sampling (~41% of rows mixed at "
        "batch 64), CE 0.1 + KD 0.9",
        _settings("mixstd", "pmu")),
    "mixkd_exact": Method(
        "mixkd with exact partial-mixup sampling: 10% of each batch mixed, "
        "as the paper describes",
        _settings("mixstd", "pmu", "exact")),
    "fmu_kd": Method(
        "full mixup + classic KD at T=4 (the setting the paper says "
        "over-smooths), CE 0.1 + KD 0.9",
        _settings("kd", "fmu", temperature=4.0)),
    "pmu_kd": Method(
        "partial mixup (10%, official sampling) + classic KD at T=4, CE 0.1 "
        "+ KD 0.9",
        _settings("kd", "pmu", temperature=4.0)),
    "mixstd": Method(
        "the MIXSTD loss (logits divided by their std, CE 0.1 + KD 0.9) "
        "without mixing",
        _settings("mixstd")),
    "ls": Method(
        "logit standardization (Sun et al.) with the package's defaults: "
        "tau 2 with tau^2 scaling, CE on raw logits, CE 0.1 + KD 0.9 (the "
        "paper's 1 + 9, scaled by 1/10), no mixing",
        _settings("ls")),
    "dkd": Method(
        "decoupled KD (Zhao et al.) with the package's defaults: alpha 1, "
        "beta 8, T 4, plain CE, CE 0.1 + KD 0.9, no mixing",
        _settings("dkd")),
    "dist": Method(
        "DIST (Huang et al.) with the package's defaults: inter- and "
        "intra-class Pearson correlation, beta = gamma = 1, T 1, plain CE, "
        "CE 0.1 + KD 0.9, no mixing",
        _settings("dist")),
}

#: What ``mixkd compare`` runs by default.
DEFAULT_METHODS = ("alone", "kd", "mixkd", "mixkd_exact", "mixstd", "fmu_kd")

#: Settings the methods or the comparison choose per run: not part of the
#: base configuration a folder is bound to.
PER_RUN_KEYS = ("seed", "output_dir", "verbose", "model", "weights",
                "preset", "loss", "mixing", "mix_fraction", "mix_sampling",
                "temperature")


def check_request(methods, baseline, seeds):
    """Raises `ValueError` on unknown methods, a baseline not among them, a
    repeated method or fewer than one seed (before anything runs).

    Returns:
        The methods as a tuple.
    """
    methods = tuple(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown method(s) {', '.join(unknown)}; choose "
                         f"from: {', '.join(METHODS)}.")
    if not methods or len(set(methods)) != len(methods):
        raise ValueError(f"--methods must name each method once, got "
                         f"{','.join(methods) or 'none'}.")
    if baseline not in methods:
        raise ValueError(f"--baseline={baseline} is not among --methods="
                         f"{','.join(methods)}; add it or choose another.")
    if int(seeds) != seeds or seeds < 1:
        raise ValueError(f"--seeds must be an integer >= 1, got {seeds}.")
    return methods


def run_config(config, method, seed, output_dir):
    """The `RunConfig` of one (method, seed) run."""
    spec = METHODS[method]
    changes = dict(spec.settings, seed=seed, output_dir=str(output_dir))
    if spec.distilled and changes.get("mixing", "none") != "none":
        changes.pop("mixup_alpha", None)  # the base's Beta parameter
    if not spec.distilled:
        changes["model"] = config.student
    return dataclasses.replace(config, **changes)


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
        previous = (read_json(self.root / "compare.json") or {}).get("base")
        if previous is not None:
            previous = _with_defaults(
                training.config.upgrade_record(previous))
        if previous is not None and previous != _with_defaults(base):
            current = _with_defaults(base)
            changed = "; ".join(
                f"{k}: {previous.get(k)!r} then {current.get(k)!r}"
                for k in sorted(set(previous) | set(current))
                if previous.get(k) != current.get(k))
            raise ValueError(
                f"The comparison folder {self.root} was started with another "
                f"base configuration (differs in: {changed}). Rerun with the "
                "same flags (adding --methods or --seeds is fine), or choose "
                "another --output_dir.")
        self.base = base

    def record_request(self, methods, seeds, baseline):
        """Writes ``compare.json``: the base and what was last asked."""
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(self.root / "compare.json", {
            "base": self.base, "methods": list(methods),
            "seeds": list(seeds), "baseline": baseline,
            "descriptions": {m: METHODS[m].description for m in methods}})

    def run_path(self, method, seed):
        """The run folder of one (method, seed)."""
        return self.root / "runs" / method / f"seed-{seed}"

    def result(self, method, seed):
        """The ``result.json`` of a finished run, or None."""
        return read_json(self.run_path(method, seed) / "result.json")


def trained_loss(method):
    """The loss name `keras_mixkd.analysis.trained_probabilities` takes for
    a student of ``method`` (``"ce"`` for the student trained alone)."""
    return METHODS[method].settings.get("loss", "ce")


class _Evaluator:
    """Clean test and training-set figures of a model (data loaded once per
    data seed): ``eval_accuracy`` (test accuracy recomputed from the
    logits), ``train_accuracy``, and ECE/NLL on the trained and the raw
    probabilities."""

    def __init__(self, config):
        self.config = config
        self._data = {}

    def _splits(self, seed):
        # The seed only matters for digits, whose train/test split it draws.
        if seed not in self._data:
            train_ds, test_ds, _ = data.load(
                self.config.dataset, batch_size=256,
                data_dir=self.config.data_dir, seed=seed,
                image_size=self.config.image_size,
                train_size=self.config.train_size, augment_train=False,
                channels=self.config.channels)
            self._data[seed] = train_ds, test_ds
        return self._data[seed]

    def __call__(self, model, method, seed):
        train_ds, test_ds = self._splits(seed)
        logits, labels = analysis.collect_logits(model, test_ds,
                                                 return_labels=True)
        measured = analysis.calibration_summary(logits, labels,
                                                trained_loss(method))
        train_logits, train_labels = analysis.collect_logits(
            model, train_ds, return_labels=True)
        figures = {"eval_accuracy": measured["accuracy"],
                   "train_accuracy": float((train_logits.argmax(1)
                                            == train_labels).mean())}
        for key in ("ece", "nll"):
            figures[key] = measured[f"{key}_trained"]
            figures[f"{key}_raw"] = measured[f"{key}_raw"]
        return figures


def _trained(path, train):
    """``train()``, or the model and summary of the finished run folder
    ``path`` (an engine run folder that has ended is not run again)."""
    summary = read_json(path / "summary.json")
    if summary is None:
        return train()
    model = keras.saving.load_model(path / "checkpoints" / "last.keras",
                                    compile=False)
    return model, summary


def _summary_figures(summary):
    return {"best_accuracy": summary["best_accuracy"],
            "test_accuracy": summary["last_accuracy"],
            "epochs": summary.get("epochs"),
            "wall_s": summary.get("wall_time_s")}


def ensure_teacher(folder, config, evaluate, teacher_epochs=None):
    """The teacher: loaded from ``config.teacher_weights``, or trained (or
    resumed) in ``<dir>/teacher``; its figures written to teacher.json.

    Returns:
        The teacher model.
    """
    if config.teacher_weights:
        info = dataset_info(config)
        model = models.create(config.teacher, num_classes=info.num_classes,
                              input_shape=info.image_shape)
        training.load_weights(model, config.teacher_weights,
                              "teacher_weights")
        figures = {"weights": str(config.teacher_weights)}
    else:
        path = folder.root / "teacher"
        model, summary = _trained(path, lambda: training.train_teacher(
            dataclasses.replace(config, model=config.teacher,
                                mixup_alpha=None, output_dir=str(path),
                                epochs=teacher_epochs or config.epochs)))
        figures = _summary_figures(summary)
    if not (folder.root / "teacher.json").is_file():
        figures = {"teacher": config.teacher, **figures,
                   **evaluate(model, "alone", config.seed)}
        figures.setdefault("test_accuracy", figures["eval_accuracy"])
        write_json(folder.root / "teacher.json", figures)
    return model


def run_one(folder, config, method, seed, teacher, evaluate):
    """Trains (or resumes) one (method, seed) run and writes its result.

    Returns:
        The result row (a dict).
    """
    path = folder.run_path(method, seed)
    run = run_config(config, method, seed, path)
    if METHODS[method].distilled:
        model, summary = _trained(
            path, lambda: training.distill(run, teacher=teacher()))
    else:
        model, summary = _trained(path, lambda: training.train_teacher(run))
    row = {"method": method, "seed": seed, **_summary_figures(summary),
           **evaluate(model, method, seed)}
    row["gap"] = row["train_accuracy"] - row["test_accuracy"]
    write_json(path / "result.json", row)
    return row


def compare(config, methods=DEFAULT_METHODS, seeds=1, baseline="kd",
            teacher_epochs=None, log=print):
    """Runs every unfinished (method, seed) and summarises the folder.

    Args:
        config: the base `keras_mixkd.training.RunConfig`: ``teacher``,
            ``student``, ``dataset``, training settings; ``output_dir`` is
            the comparison folder; ``seed`` the first seed (and the
            teacher's).
        methods: names of `METHODS`.
        seeds: number of seeds, ``config.seed .. config.seed + seeds - 1``.
        baseline: the method the others are paired against.
        teacher_epochs: the teacher's epochs (default ``config.epochs``).
        log: called with progress lines.

    Returns:
        The summary (what ``summary.json`` holds).

    Raises:
        ValueError: on a bad request or configuration (before anything runs)
            or a folder holding another base configuration.
    """
    methods = check_request(methods, baseline, seeds)
    if not config.output_dir:
        raise ValueError("compare needs an output_dir (the comparison "
                         "folder).")
    for name in ("teacher", "student"):
        if not getattr(config, name):
            raise ValueError(f"Missing --{name}.")
    seeds = list(range(config.seed, config.seed + int(seeds)))
    for name in ("teacher", "student"):
        check_model_name(getattr(config, name), name)
    for method in methods:  # the engine's own checks, before any training
        run = run_config(config, method, seeds[0], "-")
        if METHODS[method].distilled:
            run.check_distill()
        else:
            run.check_train_teacher()
    folder = ComparisonFolder(config.output_dir,
                              base_record(config, teacher_epochs))
    folder.record_request(methods, seeds, baseline)
    evaluate = _Evaluator(config)
    teacher_model = []

    def teacher():
        if not teacher_model:
            log(f"== teacher {config.teacher}")
            teacher_model.append(ensure_teacher(folder, config, evaluate,
                                                teacher_epochs))
        return teacher_model[0]

    pending = [(m, s) for m in methods for s in seeds
               if folder.result(m, s) is None]
    if not (folder.root / "teacher.json").is_file():
        teacher()
    for i, (method, seed) in enumerate(pending):
        log(f"== {method}, seed {seed} ({i + 1} of {len(pending)} to run)")
        run_one(folder, config, method, seed, teacher, evaluate)
    return compare_results.write(folder.root)
